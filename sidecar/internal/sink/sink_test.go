package sink

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWriterWritesAndAcks(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	acks := 0
	b := NewBatch(func() { acks++ })
	b.Records = []Record{{Value: []byte(`{"a":1}`)}, {Value: []byte(`{"b":2}`)}}
	if err := w.Send(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	b.Ack() // a second Ack must not call done again
	if diff := cmp.Diff("{\"a\":1}\n{\"b\":2}\n", out.String()); diff != "" {
		t.Error(diff)
	}
	if acks != 1 || !b.Acked() {
		t.Errorf("acks = %d, Acked = %v; want 1, true", acks, b.Acked())
	}
	if b.Bytes() != 14 {
		t.Errorf("Bytes = %d", b.Bytes())
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriterErrorDoesNotAck(t *testing.T) {
	w := NewWriter(failWriter{})
	b := NewBatch(func() { t.Error("acked a failed batch") })
	b.Records = []Record{{Value: []byte(`{}`)}}
	if err := w.Send(context.Background(), b); err == nil {
		t.Fatal("no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Send(ctx, NewBatch(nil)); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

// TestLandedZeroOutsideKafka: the stdout output says nothing about where
// records went, and Reset forgets what an output said.
func TestLandedZeroOutsideKafka(t *testing.T) {
	var landed Landed
	var b *Batch
	b = NewBatch(func() { landed = b.Landed })
	b.Records = []Record{{Value: []byte(`{}`)}}
	if err := NewWriter(&bytes.Buffer{}).Send(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if landed != (Landed{}) {
		t.Errorf("stdout Landed = %+v, want zero", landed)
	}
	b.Landed = Landed{Topic: "t", Partition: 1, NextOffset: 5}
	b.Reset()
	if b.Landed != (Landed{}) || b.Acked() {
		t.Errorf("after Reset: Landed %+v, Acked %v", b.Landed, b.Acked())
	}
	var zero Batch
	zero.Ack() // the zero value works: no done func
	if !zero.Acked() {
		t.Error("zero Batch not acked")
	}
}
