// Package harness runs loglet's end-to-end tests: it starts an in-process
// Kafka cluster (kfake, over real TCP) or points at a real one
// (LOGLET_TEST_KAFKA_BROKERS), builds and runs the real loglet binary
// ($LOGLET_BIN, or `go build` into a temporary directory), plays the
// application writing log lines, and reads back what reached Kafka with
// kafka-go's Reader. The Kafka tests, the demo and the benchmark share it.
package harness
