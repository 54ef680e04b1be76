package sink

import (
	"sync/atomic"
	"time"

	"github.com/loglet/loglet/sidecar/internal/podinfo"
)

// Position says where a record came from: the file's identity and the byte
// offsets of the record's first byte and of the byte just after its last
// line. A consumer can drop the duplicates that at-least-once delivery
// allows by remembering the highest Offset seen per File.
type Position struct {
	// File is the file's identity, stable across renames:
	// "dev:inode:fingerprint" (tail.FileID's String).
	File string
	// Offset is the byte offset of the record's first byte.
	Offset int64
	// End is the byte offset just after the record's last line, its
	// newline included: where the next record starts. Zero means unknown;
	// the Kafka output then writes no loglet-end header, and a read-back
	// can place the file no further than the record's Offset.
	End int64
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

// Landed says where an output put a batch: for Kafka, the topic, the
// partition and the offset just after the batch's last record. The zero
// Landed (Topic empty) means the output does not say (stdout).
type Landed struct {
	Topic     string
	Partition int
	// NextOffset is the Kafka offset just after the batch's last record.
	NextOffset int64
}

// Batch is a run of consecutive records read from one file. Its zero value is
// an empty batch whose Ack does nothing.
type Batch struct {
	// Records are the batch's records in file order.
	Records []Record
	// Landed is set by the output before it calls Ack, from the goroutine
	// that calls Ack, so the done function given to NewBatch may read it.
	// Outputs that cannot say leave it zero.
	Landed Landed
	// Pod is the pod identity the records were encoded with: every record
	// of a batch is encoded from one read of it (the pipeline starts a new
	// batch when the identity changes), and an output that chooses where a
	// batch goes by the pod (the Kafka topic and key) chooses by this one,
	// so that a record's metadata and its destination never come from two
	// reads. Nil means not known: the output then uses its current
	// identity.
	Pod *podinfo.Pod
	// Final tells that the batch was handed over at the end of its file:
	// nothing more follows from that file until the app writes again, so
	// an output that waits for a batch to fill (the Kafka output's linger)
	// sends at once instead of waking again to find nothing added.
	Final bool

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
	b.Landed = Landed{}
	b.Pod = nil
	b.acked.Store(false)
}

// Acked reports whether Ack has been called.
func (b *Batch) Acked() bool { return b.acked.Load() }
