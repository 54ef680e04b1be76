package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// consumer reads every partition of a topic with kafka-go's Reader, without
// a consumer group (so it leaves nothing behind in the cluster), and prints
// each record. Call run once; its fields must not change afterwards.
type consumer struct {
	brokers []string
	topic   string
	client  *kafka.Client // for metadata and offsets; its Addr is brokers
	out     *printer
	warn    func(format string, args ...any)
}

func newConsumer(brokers []string, topic string, out *printer, warn func(string, ...any)) *consumer {
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: &kafka.Transport{}}
	return &consumer{brokers: brokers, topic: topic, client: client, out: out, warn: warn}
}

// close closes the client's idle connections.
func (c *consumer) close() { c.client.Transport.(*kafka.Transport).CloseIdleConnections() }

// endOffsets returns the end offset of each partition of the topic: where
// the next record will be written. A topic that does not exist yet has
// none.
func (c *consumer) endOffsets(ctx context.Context) (map[int]int64, error) {
	md, err := c.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{c.topic}})
	if err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", c.topic, err)
	}
	if len(md.Topics) != 1 {
		return nil, fmt.Errorf("metadata of %s: %d topics in the answer", c.topic, len(md.Topics))
	}
	t := md.Topics[0]
	if errors.Is(t.Error, kafka.UnknownTopicOrPartition) {
		return map[int]int64{}, nil
	}
	if t.Error != nil {
		return nil, fmt.Errorf("metadata of %s: %w", c.topic, t.Error)
	}
	var req []kafka.OffsetRequest
	for _, p := range t.Partitions {
		req = append(req, kafka.LastOffsetOf(p.ID))
	}
	res, err := c.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{c.topic: req}})
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", c.topic, err)
	}
	ends := map[int]int64{}
	for _, po := range res.Topics[c.topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("end offset of %s/%d: %w", c.topic, po.Partition, po.Error)
		}
		ends[po.Partition] = po.LastOffset
	}
	return ends, nil
}

// run prints the records of every partition of the topic, each from its
// offset in start or, for a partition start lacks (the topic did not exist
// yet), from its first record, until ctx ends. It waits for the topic to
// appear. It returns nil when ctx ends.
func (c *consumer) run(ctx context.Context, start map[int]int64) error {
	var ends map[int]int64
	for {
		var err error
		ends, err = c.endOffsets(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil && len(ends) > 0 {
			break
		}
		if err != nil {
			c.warn("consumer: %v; retrying", err)
		}
		if sleep(ctx, 250*time.Millisecond) != nil {
			return nil
		}
	}
	errs := make(chan error, len(ends))
	var wg sync.WaitGroup
	for p := range ends {
		from, ok := start[p]
		if !ok {
			from = kafka.FirstOffset
		}
		wg.Go(func() { errs <- c.readPartition(ctx, p, from) })
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// readPartition prints the records of one partition from offset from until
// ctx ends (nil) or the reader fails.
func (c *consumer) readPartition(ctx context.Context, partition int, from int64) error {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:   c.brokers,
		Topic:     c.topic,
		Partition: partition,
		Dialer:    &kafka.Dialer{Timeout: 10 * time.Second},
		MinBytes:  1,
		MaxBytes:  16 << 20,
		MaxWait:   250 * time.Millisecond, // also bounds how long Close takes
	})
	defer r.Close()
	if err := r.SetOffset(from); err != nil {
		return fmt.Errorf("read %s/%d: %w", c.topic, partition, err)
	}
	for {
		m, err := r.ReadMessage(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s/%d: %w", c.topic, partition, err)
		}
		c.out.record(message{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Value: m.Value})
	}
}

// drain waits until every record now in the topic has been printed, or ctx
// ends.
func (c *consumer) drain(ctx context.Context) error {
	ends, err := c.endOffsets(ctx)
	if err != nil {
		return err
	}
	for p, end := range ends {
		for c.out.printed(p) < end-1 {
			if err := sleep(ctx, 50*time.Millisecond); err != nil {
				return fmt.Errorf("partition %d: printed up to offset %d of %d: %w", p, c.out.printed(p), end, err)
			}
		}
	}
	return nil
}

// sleep waits d, or returns ctx's error if ctx ends first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
