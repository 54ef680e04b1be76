// Package kafka is the Kafka output of the loglet sidecar, built on
// github.com/segmentio/kafka-go. It implements the sink contract of package
// sink: a batch is acknowledged only after the broker has acknowledged every
// record in it with the configured acks.
package kafka
