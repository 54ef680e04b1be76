package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// broker is the benchmark's Kafka-protocol broker, a process of its own
// (see ./broker).
//
// Concurrency: used from one goroutine, apart from Count and Consume, which
// may run concurrently.
type broker struct {
	Addr  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}
	tr    *kafka.Transport
}

// startBroker runs the broker binary at path with topic created, and waits
// until it prints its address.
func startBroker(path, topic string, blackhole bool) (*broker, error) {
	args := []string{"-topics", topic}
	if blackhole {
		args = append(args, "-blackhole")
	}
	cmd := exec.Command(path, args...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start broker %s: %w", path, err)
	}
	b := &broker{cmd: cmd, stdin: stdin, done: make(chan struct{}), tr: &kafka.Transport{}}
	addr := make(chan string, 1)
	go func() {
		defer close(b.done)
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			addr <- strings.TrimSpace(sc.Text())
		}
		io.Copy(io.Discard, out)
		cmd.Wait()
	}()
	select {
	case b.Addr = <-addr:
		return b, nil
	case <-b.done:
		return nil, errors.New("broker exited before printing its address")
	case <-time.After(30 * time.Second):
		b.Stop()
		return nil, errors.New("broker did not start within 30s")
	}
}

// Stop ends the broker and waits for it.
func (b *broker) Stop() {
	b.tr.CloseIdleConnections()
	b.stdin.Close()
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		b.cmd.Process.Kill()
		<-b.done
	}
}

func (b *broker) client() *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(b.Addr), Timeout: 10 * time.Second, Transport: b.tr}
}

// Count returns the number of records in partition 0 of topic (its end
// offset), or -1 while the topic does not exist yet.
func (b *broker) Count(ctx context.Context, topic string) (int64, error) {
	res, err := b.client().ListOffsets(ctx, &kafka.ListOffsetsRequest{
		Topics: map[string][]kafka.OffsetRequest{topic: {kafka.LastOffsetOf(0)}},
	})
	if err != nil {
		return 0, fmt.Errorf("list offsets of %s: %w", topic, err)
	}
	for _, po := range res.Topics[topic] {
		if po.Error != nil {
			return -1, nil
		}
		return po.LastOffset, nil
	}
	return -1, nil
}

// stallAfter is how long WaitCount waits without a new record.
const stallAfter = 30 * time.Second

// WaitCount polls Count until it reaches want, ctx ends, no record arrives
// for stallAfter, or alive reports that the forwarder died; it returns the
// time the count was first seen.
func (b *broker) WaitCount(ctx context.Context, topic string, want int64, alive func() bool) (time.Time, error) {
	var last int64
	moved := time.Now()
	for {
		n, err := b.Count(ctx, topic)
		now := time.Now()
		if err == nil && n >= want {
			return now, nil
		}
		if err == nil && n > last {
			last, moved = n, now
		}
		if !alive() {
			return now, fmt.Errorf("the forwarder exited with %d of %d records in Kafka", last, want)
		}
		if now.Sub(moved) > stallAfter {
			return now, fmt.Errorf("no new record for %s: %d of %d records in Kafka (lost?)", stallAfter, last, want)
		}
		select {
		case <-ctx.Done():
			return now, fmt.Errorf("%d of %d records in Kafka: %w", last, want, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Consume reads partition 0 of topic from offset 0 until it has read want
// records or ctx ends, and returns, for each record, how long after its
// line's time it was read.
func (b *broker) Consume(ctx context.Context, topic string, want int) ([]time.Duration, error) {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:         []string{b.Addr},
		Topic:           topic,
		Partition:       0,
		MinBytes:        1,
		MaxBytes:        16 << 20,
		MaxWait:         50 * time.Millisecond,
		ReadLagInterval: -1,
	})
	defer r.Close()
	lat := make([]time.Duration, 0, want)
	for len(lat) < want {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			return lat, fmt.Errorf("consume %s after %d records: %w", topic, len(lat), err)
		}
		now := time.Now()
		t, err := recordTime(m.Value)
		if err != nil {
			return lat, fmt.Errorf("record %d: %w", m.Offset, err)
		}
		lat = append(lat, now.Sub(t))
	}
	return lat, nil
}

// recordTime returns the @timestamp of a loglet record, which opens it.
func recordTime(v []byte) (time.Time, error) {
	const prefix = `{"@timestamp":"`
	if !bytes.HasPrefix(v, []byte(prefix)) {
		return time.Time{}, fmt.Errorf("record does not start with @timestamp: %.80s", v)
	}
	rest := v[len(prefix):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return time.Time{}, fmt.Errorf("unterminated @timestamp: %.80s", v)
	}
	return time.Parse(time.RFC3339Nano, string(rest[:end]))
}
