// Package kafka is the Kafka output of the loglet sidecar, built on
// github.com/segmentio/kafka-go. It implements the sink contract of package
// sink: a batch is acknowledged only after the broker has acknowledged every
// record in it with the configured acks.
//
// # Records
//
// Each record is one Kafka message: the value is the record's JSON, the key
// is LOGLET_KAFKA_KEY expanded for the pod (default the pod name), the
// timestamp is the record's @timestamp, and three headers say what it is and
// where it came from: content-type (application/json, or
// application/x-protobuf for otlp_proto), loglet-file (the
// source file's identity, dev:inode:fingerprint) and loglet-offset (the
// record's byte offset in that file). The topic is LOGLET_KAFKA_TOPIC
// expanded for the pod (default logs.{namespace}); the partition is the
// murmur2 hash of the key, like the Java client's, so one pod's records stay
// in order on one partition.
//
// # OTLP
//
// With LOGLET_KAFKA_ENCODING=otlp_proto or otlp_json (the OpenTelemetry
// Collector kafkareceiver's names) the value is instead one OTLP
// ExportLogsServiceRequest holding the record: the pod identity as
// semantic-convention resource attributes (k8s.pod.name, ...,
// k8s.pod.label.<key>), the level as severity, msg as the body, the fields
// as typed attributes, and the file and position as log.file.name,
// loglet.file and loglet.offset. The encoder (otlp.go) is written by hand
// on protowire and re-reads the JSON record in one pass; it was measured
// against building the record with pdata (BenchmarkOTLPEncode). The
// README's "OTLP output" has the full mapping. Shortening works as for
// json: the JSON record is shortened until its OTLP request fits.
//
// # Delivery
//
// The output sends one produce request at a time and retries a failed one,
// with capped exponential backoff, for as long as it takes, so records stay
// in file order and nothing is dropped. Errors that retrying alone cannot
// fix (authentication, authorization, certificates, a missing topic, a
// record the broker finds too large even shortened) are retried all the
// same, so that nothing is lost once the operator fixes them, but they are
// logged as errors with the topic and a hint, counted, and make Ready fail.
// A record over LOGLET_KAFKA_MAX_MESSAGE_BYTES is shortened and marked
// "truncated":true. A request the broker finds too large is split, a lone
// record it finds too large is shortened further, and the request size limit
// then grows back (see [Sink]).
//
// Delivery is at least once: a request that reached the broker but whose
// answer was lost is sent again, and records sent but not yet covered by a
// saved checkpoint are sent again after a crash. A consumer drops those
// duplicates by remembering, per loglet-file, the highest loglet-offset it
// has seen.
package kafka
