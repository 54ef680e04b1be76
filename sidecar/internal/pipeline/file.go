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

// file tracks one file, by identity, across renames: its fingerprints, its
// ended generations, and the acknowledged prefix of what was handed to the
// sink (acks), which the checkpoint saves.
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
	mu        sync.Mutex
	fp        tail.Fingerprint // the first bytes read, growing with the file up to tail.FingerprintSize
	fpSet     bool
	fid       tail.FileID       // the content's identity, fixed at the generation's first record
	idStr     string            // fid.String(), which every record carries; "" until fid is set
	acks      ackPrefix[*batch] // what was handed out, and the acknowledged prefix of it
	hist      []generation      // ended generations, newest last
	lastSaved int64
	saved     bool // lastSaved is on disk
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
	offset, before, landed := fl.acks.saved()
	e := fl.fid.Entry(fl.fp)
	e.Offset, e.Path, e.Landed = offset, path, landed
	if before.Len > 0 {
		e.TailLen, e.Tail = before.Len, before.String()
	}
	return e
}

// endGenerationLocked remembers the current content as ended (truncated or
// rewritten) and starts a new generation at 0; batches of the old one no
// longer move the checkpoint. file.mu is held.
func (fl *file) endGenerationLocked() {
	gen := fl.acks.gen
	end, before, tailSet := fl.acks.endGeneration()
	if fl.fpSet && end > 0 {
		fl.hist = append(fl.hist, generation{gen: gen, head: fl.fp, end: end, tail: before, tailSet: tailSet})
		if len(fl.hist) > maxHistory {
			fl.hist = fl.hist[1:]
		}
	}
	fl.saved = false
	fl.fpSet = false
}

// settled reports whether everything emitted has been acknowledged.
func (fl *file) settled() bool {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return fl.settledLocked()
}

// settledLocked is settled with file.mu held.
func (fl *file) settledLocked() bool { return fl.acks.settled() }

// batch is a pooled sink.Batch with the memory its records live in: the
// records' values lie back to back in the arena, in order.
type batch struct {
	sb       *sink.Batch
	arena    []byte
	file     *file
	ticket   uint64           // its span in file.acks, once handed out
	end      int64            // file offset just past the batch's last consumed byte
	tail     tail.Fingerprint // the bytes just before end
	bytes    int
	records  int
	reserved int // budget taken when the batch was started, until it is handed out
}

// getBatch returns an empty batch for fl whose arena holds at least
// arenaCap bytes without growing.
func (p *Pipeline) getBatch(fl *file, arenaCap int) *batch {
	b, _ := p.batches.Get().(*batch)
	if b == nil {
		b = &batch{}
		b.sb = sink.NewBatch(func() { p.acked(b) })
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
	b.file, b.ticket, b.bytes, b.records, b.end, b.reserved = nil, 0, 0, 0, 0, 0
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

// handOut appends b to its file's acknowledged prefix, as handed out.
func (fl *file) handOut(b *batch) {
	fl.mu.Lock()
	b.ticket = fl.acks.handOut(b, b.end, b.tail)
	fl.mu.Unlock()
}

// acked is the sink's acknowledgement of b: it advances the file's
// acknowledged prefix and releases the batch's memory budget.
func (p *Pipeline) acked(b *batch) {
	n, bytes := b.records, b.bytes
	p.complete(b) // b may be reused from here on
	if n > 0 {
		p.budget.release(bytes)
		p.m.recordsAcked.Add(float64(n))
		p.m.lastAck.SetToCurrentTime()
	}
}

// complete acknowledges b in its file's prefix, moves the checkpoint over
// what that completed, and reuses the batches that left the prefix's queue.
func (p *Pipeline) complete(b *batch) {
	fl := b.file
	l := b.sb.Landed
	var doneBuf [8]*batch
	fl.mu.Lock()
	done, advanced := fl.acks.ack(b.ticket, checkpoint.Landed{Topic: l.Topic, Partition: l.Partition, NextOffset: l.NextOffset}, doneBuf[:0])
	fl.mu.Unlock()
	if advanced > 0 {
		p.unsaved.Add(advanced)
		p.markDirty()
	}
	for _, d := range done {
		p.putBatch(d)
	}
}
