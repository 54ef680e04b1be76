package pipeline

import (
	"os"
	"sync"
	"time"

	"github.com/loglet/loglet/sidecar/internal/checkpoint"
	"github.com/loglet/loglet/sidecar/internal/sink"
	"github.com/loglet/loglet/sidecar/internal/tail"
)

// fileState is where a tracked file is in its life.
type fileState int

const (
	stateReading fileState = iota // a reader goroutine owns it
	stateDormant                  // fully read and idle; no reader goroutine
	stateGone                     // deleted or vanished; forgotten (and closed) once acknowledged
	stateHeld                     // a copy of a tracked file's content (copytruncate), waiting to learn where to start
)

// maxHistory is how many ended generations (content before a truncation) a
// file remembers, to recognise copies of them.
const maxHistory = 4

// generation is what was read of one content of a file before it was
// truncated or rewritten: a copy of it (copytruncate's p.log.1) is read from
// end on, not again from 0.
type generation struct {
	gen     int
	head    tail.Fingerprint // the content's first bytes
	end     int64            // how far it was read
	tail    tail.Fingerprint // the bytes just before end
	tailSet bool
}

// file tracks one file, by identity, across renames: what was read, what was
// handed to the sink, and the acknowledged prefix that the checkpoint saves.
//
// Concurrency: the fields under "lifecycle" are guarded by Pipeline.mu; those
// under "acks" by file.mu, which is taken by the reader goroutine and by the
// sink's acknowledging goroutines. Lock order: Pipeline.mu, then file.mu.
type file struct {
	id tail.Identity
	// wake is signalled when inotify reports the file written.
	wake chan struct{}
	// f is the file's descriptor, opened (without following links) when the
	// file is found and held until it is forgotten. While it is held the
	// inode cannot be freed and reused, so (device, inode) names this file
	// and no other; and a file deleted a millisecond after its creation can
	// still be read to its end.
	f *os.File

	// lifecycle (Pipeline.mu)
	path     string
	name     string
	state    fileState
	matched  bool // the name matches the include pattern
	toDelete bool // fully read rotated file to remove once acknowledged
	size     int64
	mtime    time.Time
	copyOf   *file     // stateHeld: the file whose content this is a copy of
	copyGen  int       // stateHeld: the generation of copyOf it copies
	heldAt   time.Time // stateHeld: when the copy was found

	// acks (file.mu)
	mu            sync.Mutex
	fp            tail.Fingerprint // the first bytes read, growing with the file up to tail.FingerprintSize
	fpSet         bool
	fid           tail.FileID      // the content's identity, fixed at the generation's first record
	idStr         string           // fid.String(), which every record carries; "" until fid is set
	tail          tail.Fingerprint // the bytes just before readEnd
	tailSet       bool
	committedTail tail.Fingerprint   // the bytes just before committed
	landed        *checkpoint.Landed // where the last acknowledged batch went in Kafka
	gen           int                // bumped on truncation; acks of older generations do not move the checkpoint
	hist          []generation       // ended generations, newest last
	fifo          []*batch           // batches handed out and not yet popped, in file order
	committed     int64              // end of the acknowledged prefix
	readEnd       int64              // end of what the reader has emitted
	lastSaved     int64
	saved         bool // lastSaved is on disk
}

// setIdentity sets the fingerprint of a generation's first record, and the
// identity its records carry. file.mu is held.
func (fl *file) setIdentity(fp tail.Fingerprint) {
	fl.fp, fl.fpSet = fp, true
	fl.setFileID(tail.NewFileID(fl.id, fp))
}

// setFileID sets the identity the file's records carry. file.mu is held,
// or the file is not shared yet.
func (fl *file) setFileID(id tail.FileID) { fl.fid, fl.idStr = id, id.String() }

// entry is the file's checkpoint, read under file.mu.
func (fl *file) entry(path string) checkpoint.Entry {
	e := fl.fid.Entry(fl.fp)
	e.Offset, e.Path, e.Landed = fl.committed, path, fl.landed
	if fl.committed > 0 && fl.committedTail.Len > 0 {
		e.TailLen, e.Tail = fl.committedTail.Len, fl.committedTail.String()
	}
	return e
}

// endGenerationLocked remembers the current content as ended (truncated or
// rewritten) and starts a new generation at 0; batches of the old one no
// longer move the checkpoint. file.mu is held.
func (fl *file) endGenerationLocked() {
	if fl.fpSet && fl.readEnd > 0 {
		fl.hist = append(fl.hist, generation{gen: fl.gen, head: fl.fp, end: fl.readEnd, tail: fl.tail, tailSet: fl.tailSet})
		if len(fl.hist) > maxHistory {
			fl.hist = fl.hist[1:]
		}
	}
	fl.gen++
	fl.committed, fl.readEnd = 0, 0
	fl.saved = false
	fl.fpSet, fl.tailSet = false, false
	fl.committedTail = tail.Fingerprint{}
}

// settled reports whether everything emitted has been acknowledged.
func (fl *file) settled() bool {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return fl.settledLocked()
}

// settledLocked is settled with file.mu held.
func (fl *file) settledLocked() bool { return len(fl.fifo) == 0 && fl.committed == fl.readEnd }

// batch is a pooled sink.Batch with the memory its records live in: the
// records' values lie back to back in the arena, in order.
type batch struct {
	sb       *sink.Batch
	arena    []byte
	file     *file
	gen      int
	end      int64            // file offset just past the batch's last consumed byte
	tail     tail.Fingerprint // the bytes just before end
	acked    bool             // under file.mu
	bytes    int
	records  int
	reserved int // budget taken when the batch was started, until it is handed out
	p        *Pipeline
}

// getBatch returns an empty batch for fl whose arena holds at least
// arenaCap bytes without growing.
func (p *Pipeline) getBatch(fl *file, arenaCap int) *batch {
	b, _ := p.batches.Get().(*batch)
	if b == nil {
		b = &batch{p: p}
		b.sb = sink.NewBatch(b.onAck)
	}
	if cap(b.arena) < arenaCap {
		b.arena = make([]byte, 0, arenaCap)
	}
	b.file = fl
	return b
}

// grow gives the arena room for need bytes: it doubles it, up to limit
// (and beyond only as far as need).
func (b *batch) grow(need, limit int) {
	size := max(min(2*cap(b.arena), limit), need)
	arena := make([]byte, len(b.arena), size)
	copy(arena, b.arena)
	b.arena = arena
	b.rebase()
}

// add appends a record whose value was just appended to the arena, from
// byte start on; the append may have moved the arena (escapes made the
// record longer than estimated).
func (b *batch) add(start, oldCap int, t time.Time, offset, fileEnd int64) {
	if cap(b.arena) != oldCap {
		b.rebase()
	}
	end := len(b.arena)
	b.sb.Records = append(b.sb.Records, sink.Record{Value: b.arena[start:end:end], Time: t, Pos: sink.Position{Offset: offset, End: fileEnd}})
}

// rebase points the records' values at the arena after it moved.
func (b *batch) rebase() {
	off := 0
	for i := range b.sb.Records {
		n := len(b.sb.Records[i].Value)
		b.sb.Records[i].Value = b.arena[off : off+n : off+n]
		off += n
	}
}

func (p *Pipeline) putBatch(b *batch) {
	if cap(b.arena) > 4*maxBatchBytes {
		return // let an outsized arena go
	}
	b.sb.Reset()
	b.arena = b.arena[:0]
	b.file, b.acked, b.bytes, b.records, b.end, b.gen, b.reserved = nil, false, 0, 0, 0, 0, 0
	b.tail = tail.Fingerprint{}
	p.batches.Put(b)
}

// seal completes the records once the batch is complete: their file
// identity, and the batch's totals.
func (b *batch) seal() {
	for i := range b.sb.Records {
		b.sb.Records[i].Pos.File = b.file.idStr
	}
	b.bytes = len(b.arena)
	b.records = len(b.sb.Records)
}

// track appends b to its file's queue of handed-out batches.
func (fl *file) track(b *batch) {
	fl.mu.Lock()
	b.gen = fl.gen
	fl.fifo = append(fl.fifo, b)
	if b.end > fl.readEnd {
		fl.readEnd = b.end
		fl.tail, fl.tailSet = b.tail, b.tail.Len > 0
	}
	fl.mu.Unlock()
}

// onAck is the sink's acknowledgement of the batch: it advances the file's
// acknowledged prefix and releases the batch's memory budget.
func (b *batch) onAck() {
	p, n, bytes := b.p, b.records, b.bytes
	b.complete() // b may be reused from here on
	if n > 0 {
		p.budget.release(bytes)
		p.m.recordsAcked.Add(float64(n))
		p.m.lastAck.SetToCurrentTime()
	}
}

// complete marks b acknowledged and pops every acknowledged batch at the
// head of the file's queue, moving the checkpoint over them.
func (b *batch) complete() {
	fl, p := b.file, b.p
	fl.mu.Lock()
	b.acked = true
	var doneBuf [8]*batch
	done := doneBuf[:0]
	var advanced int64
	for len(fl.fifo) > 0 && fl.fifo[0].acked {
		head := fl.fifo[0]
		fl.fifo[0] = nil
		fl.fifo = fl.fifo[1:]
		if head.gen == fl.gen {
			advanced += head.end - fl.committed
			fl.committed = head.end
			fl.committedTail = head.tail
			if l := head.sb.Landed; l.Topic != "" {
				fl.landed = &checkpoint.Landed{Topic: l.Topic, Partition: l.Partition, NextOffset: l.NextOffset}
			}
		}
		done = append(done, head)
	}
	fl.mu.Unlock()
	if advanced > 0 {
		p.unsaved.Add(advanced)
		p.markDirty()
	}
	for _, d := range done {
		p.putBatch(d)
	}
}
