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
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ends, err := k.ends(ctx, topic)
	if err != nil {
		return nil, err
	}
	var out []Message
	for p, end := range ends {
		if end <= 0 {
			continue
		}
		msgs, err := k.readPartition(ctx, topic, p, 0, end)
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
	}
	return out, nil
}

// ends returns the end offset of each partition of topic, by partition.
func (k *Kafka) ends(ctx context.Context, topic string) ([]int64, error) {
	client := k.Client()
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, err
	}
	if len(md.Topics) != 1 || md.Topics[0].Error != nil {
		return nil, fmt.Errorf("metadata of %s: %+v", topic, md.Topics)
	}
	var req []kafka.OffsetRequest
	for _, p := range md.Topics[0].Partitions {
		req = append(req, kafka.LastOffsetOf(p.ID))
	}
	offs, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: req}})
	if err != nil {
		return nil, err
	}
	ends := make([]int64, len(req))
	for _, po := range offs.Topics[topic] {
		if po.Error != nil {
			return nil, po.Error
		}
		if po.Partition >= len(ends) {
			return nil, fmt.Errorf("partition %d of %s beyond %d", po.Partition, topic, len(ends))
		}
		ends[po.Partition] = po.LastOffset
	}
	return ends, nil
}

// readPartition reads offsets [start, end) of one partition.
func (k *Kafka) readPartition(ctx context.Context, topic string, partition int, start, end int64) ([]Message, error) {
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
	if err := r.SetOffset(start); err != nil {
		return nil, err
	}
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

// Count returns how many records topic holds: the sum of its partitions'
// end offsets.
func (k *Kafka) Count(t testing.TB, topic string) int64 {
	t.Helper()
	ends, err := k.ends(context.Background(), topic)
	if err != nil {
		t.Fatalf("count %s: %v", topic, err)
	}
	var n int64
	for _, e := range ends {
		n += e
	}
	return n
}

// Last returns the last record of each non-empty partition of topic.
func (k *Kafka) Last(t testing.TB, topic string) []Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ends, err := k.ends(ctx, topic)
	if err != nil {
		t.Fatalf("last of %s: %v", topic, err)
	}
	var out []Message
	for p, end := range ends {
		if end <= 0 {
			continue
		}
		msgs, err := k.readPartition(ctx, topic, p, end-1, end)
		if err != nil {
			t.Fatalf("last of %s: %v", topic, err)
		}
		out = append(out, msgs...)
	}
	return out
}
