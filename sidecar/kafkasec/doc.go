// Package kafkasec is the TLS and SASL configuration of a Kafka client,
// shared by the loglet sidecar (LOGLET_KAFKA_TLS_*, LOGLET_KAFKA_SASL_*) and
// the example alerter (ALERT_KAFKA_TLS_*, ALERT_KAFKA_SASL_*), so that both
// read the same variables, check them the same way and connect the same way.
//
// A [Security] is filled from the environment by its env tags under a
// prefix (the caller's decoder adds it: LOGLET_KAFKA_ or ALERT_KAFKA_), and
// every error names the variable with that prefix. [Security.Validate]
// checks the combination of settings without touching the file system;
// [Security.TLSConfig] and [Security.Mechanism] read the files, so a
// missing CA, key pair or password file is an error at start. After that
// the client key pair is read again at every TLS handshake and the SASL
// password at every new connection, so a renewed certificate or a rotated
// Secret is used without a restart. The password is kept nowhere else and
// never appears in an error.
//
// [Security.Dialer] and [Security.Transport] build the kafka-go dialer (for
// kafka.Reader and kafka.Conn) and transport (for kafka.Client and
// kafka.Writer) with both applied.
package kafkasec
