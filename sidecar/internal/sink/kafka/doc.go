// Package kafka is the Kafka output of the loglet sidecar, built on
// github.com/segmentio/kafka-go. It implements the sink contract of package
// sink: a batch is acknowledged only after the broker has acknowledged every
// record in it with the configured acks.
//
// # Records
//
// Each record is one Kafka message: the value is the record's JSON, the key
// is LOGLET_KAFKA_KEY expanded for the pod (default the pod name; the topic
// and key are expanded for the pod identity the batch was encoded with,
// sink.Batch.Pod, so that they agree with the record's metadata), the
// timestamp is the record's @timestamp, and headers say what it is and
// where it came from: content-type (application/json, or
// application/x-protobuf for otlp_proto), loglet-file (the source file's
// identity, dev:inode:fingerprint), loglet-offset (the record's byte offset
// in that file) and, when the pipeline gives it, loglet-end (the offset just
// after the record: where the next one starts). The topic is LOGLET_KAFKA_TOPIC
// expanded for the pod (default logs.{namespace}); the partition is the
// murmur2 hash of the key, like the Java client's, so one pod's records stay
// in order on one partition.
//
// A produce request's records are one record batch (magic 2), which the
// output writes itself (records.go) into one reused buffer and hands to
// kafka-go's RawProduce: the bytes are those kafka-go's own encoder would
// write (a test compares them for every codec), without its call per field
// of each record, which was most of the output's CPU at full speed. kafka-go
// still does the rest: connections, TLS, SASL, metadata, the round trip.
// Brokers must take record batches (Kafka 0.11 or later), which the
// records' headers need anyway.
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
// Each acknowledged batch learns where it landed ([sink.Batch.Landed]:
// topic, partition, and the offset after its last record, from the produce
// response's base offset).
//
// # Read-back
//
// With LOGLET_KAFKA_READBACK (the default), records whose delivery is
// unknown are not sent again on a guess: the output first reads back what
// the partition holds. Before retrying a produce request whose outcome is
// unknown (a timeout, a connection lost after the request may have been
// written, REQUEST_TIMED_OUT), it reads the partition from the offset just
// after its last acknowledged record up to the high watermark and drops
// from the retry the records already there, matched by key, loglet-file
// and loglet-offset. After a stop that was not clean, the pipeline asks
// [Sink.ReadBack] where each file's records end in Kafka and starts each
// file there. Both read only committed records (read_committed, never past
// the high watermark), at most LOGLET_KAFKA_READBACK_MAX_BYTES and
// LOGLET_KAFKA_READBACK_TIMEOUT each; past the bound, or when the principal
// may not READ the topic, the records concerned are sent again (at least
// once), with a warning and a count by reason.
//
// Duplicates can still happen: with read-back off or denied; past the
// bound; with acks=one when a leader fails over (records it acknowledged
// are lost from the log while others are kept), and, with any acks, for a
// request the leader appended but had not replicated yet when the
// read-back ran (it reads committed records only); after the topic's
// partition count changed (the key then hashes to another partition than
// the one saved); and when another writer uses the same key and file
// identity. A consumer can still drop
// duplicates by remembering, per loglet-file, the highest loglet-offset it
// has seen.
package kafka
