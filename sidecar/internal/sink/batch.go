package sink

import (
	"sync/atomic"
	"time"
)

// Position says where a record came from: the file's identity and the byte
// offset of the record's first line in it. A consumer can drop the duplicates
// that at-least-once delivery allows by remembering the highest Offset seen
// per File.
type Position struct {
	// File is the file's identity, stable across renames: "dev:inode:fingerprint".
	File string
	// Offset is the byte offset of the record's first byte.
	Offset int64
}

// Record is one encoded log record.
type Record struct {
	// Value is the record as one JSON object, without a trailing newline.
	Value []byte
	// Time is the record's @timestamp.
	Time time.Time
	// Pos is where the record starts in its source file.
	Pos Position
	// ReadTime is when the record was read from its file (OpenTelemetry's
	// observed time); zero when unknown.
	ReadTime time.Time
}

// Batch is a run of consecutive records read from one file. Its zero value is
// an empty batch whose Ack does nothing.
type Batch struct {
	// Records are the batch's records in file order.
	Records []Record

	done  func()
	acked atomic.Bool
}

// NewBatch returns an empty batch that calls done (once) when acknowledged.
func NewBatch(done func()) *Batch { return &Batch{done: done} }

// Bytes is the sum of the records' Value lengths.
func (b *Batch) Bytes() int {
	n := 0
	for i := range b.Records {
		n += len(b.Records[i].Value)
	}
	return n
}

// Ack reports the whole batch as delivered. Calls after the first do nothing.
func (b *Batch) Ack() {
	if b.acked.CompareAndSwap(false, true) && b.done != nil {
		b.done()
	}
}

// Reset empties the batch and makes it acknowledgeable again, so its owner
// can reuse it. Only the batch's owner calls it, after the acknowledgement.
func (b *Batch) Reset() {
	b.Records = b.Records[:0]
	b.acked.Store(false)
}

// Acked reports whether Ack has been called.
func (b *Batch) Acked() bool { return b.acked.Load() }
