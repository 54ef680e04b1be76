package harness

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// Message is a record read back from Kafka.
type Message struct {
	Topic     string
	Partition int
	Offset    int64
	Key       string
	Value     string
	Time      time.Time
	Headers   map[string]string
}

// Read returns every record in topic, partition after partition, each in
// offset order, polling until there are at least want of them or timeout
// passes (it then returns what it found). It reads with kafka-go's Reader.
func (k *Kafka) Read(t testing.TB, topic string, want int, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msgs, err := k.readAll(topic)
		if err != nil && time.Now().After(deadline) {
			t.Fatalf("read %s: %v", topic, err)
		}
		if err == nil && (len(msgs) >= want || time.Now().After(deadline)) {
			return msgs
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// readAll reads each partition of topic from its start to its current end.
func (k *Kafka) readAll(topic string) ([]Message, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := k.Client()
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, err
	}
	if len(md.Topics) != 1 || md.Topics[0].Error != nil {
		return nil, fmt.Errorf("metadata: %+v", md.Topics)
	}
	var req []kafka.OffsetRequest
	for _, p := range md.Topics[0].Partitions {
		req = append(req, kafka.LastOffsetOf(p.ID))
	}
	offs, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: req}})
	if err != nil {
		return nil, err
	}
	var out []Message
	for _, po := range offs.Topics[topic] {
		if po.Error != nil {
			return nil, po.Error
		}
		if po.LastOffset <= 0 {
			continue
		}
		msgs, err := k.readPartition(ctx, topic, po.Partition, po.LastOffset)
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
	}
	return out, nil
}

func (k *Kafka) readPartition(ctx context.Context, topic string, partition int, end int64) ([]Message, error) {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:   k.Addrs,
		Topic:     topic,
		Partition: partition,
		Dialer:    &kafka.Dialer{Timeout: 10 * time.Second, TLS: k.TLS, SASLMechanism: k.SASL},
		MinBytes:  1,
		MaxBytes:  16 << 20,
		MaxWait:   100 * time.Millisecond,
	})
	defer r.Close()
	var out []Message
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			return nil, fmt.Errorf("read %s/%d: %w", topic, partition, err)
		}
		hs := make(map[string]string, len(m.Headers))
		for _, h := range m.Headers {
			hs[h.Key] = string(h.Value)
		}
		out = append(out, Message{m.Topic, m.Partition, m.Offset, string(m.Key), string(m.Value), m.Time.UTC(), hs})
		if m.Offset >= end-1 {
			return out, nil
		}
	}
}
