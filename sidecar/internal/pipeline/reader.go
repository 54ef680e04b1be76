package pipeline

import (
	"context"
	"errors"
	"io"
	"os"
	"time"

	"github.com/loglet/loglet/sidecar/internal/parse"
	"github.com/loglet/loglet/sidecar/internal/tail"
	"github.com/loglet/loglet/sidecar/rotation"
)

// Batch limits: a batch is handed to the sink when it holds this many
// records or bytes, or when the reader reaches the end of the file.
const (
	maxBatchRecords = 4096
	maxBatchBytes   = 512 << 10
	minBackoff      = 5 * time.Millisecond
)

// fileReader is the state of one reader goroutine: it reads a file, joins
// and parses its lines, and hands batches to the sink in file order.
type fileReader struct {
	p      *Pipeline
	fl     *file
	f      *os.File
	r      *tail.Reader
	j      parse.Joiner
	parser *parse.Parser
	name   string
	ctx    context.Context // the context sends use; outlives the read context during shutdown
	held   *bool           // whether this reader holds a read slot

	cur        *batch
	emittedEnd int64 // end of the last record (or blank line) emitted
	sentEnd    int64 // emittedEnd when the last batch was handed out
	pod        []byte
	readTime   time.Time
	batchBytes int

	lineFn func([]byte, int64, int64, bool)
	emitFn parse.Emit

	seenSize   int64         // the file's size at the last check
	seenMtime  time.Time     // and its modification time
	truncFrom  time.Time     // start of the current burst of truncations
	truncs     int           // truncations in it
	truncPause time.Duration // the last pause after a burst

	// per-batch statistics, added to the metrics when the batch is handed out
	lines, bytesRead, truncated, typeErrs int
	dropped                               int // issue 14: records a rule dropped
	byFormat, parseErrs                   [4]int
}

// readFile owns fl while its state is stateReading: it reads the file until
// it is finished, dormant, or ctx ends, and then drains it. It holds one of
// the read slots only while it reads (see slots).
func (p *Pipeline) readFile(ctx, sendCtx context.Context, fl *file) {
	defer p.wg.Done()
	if err := p.slots.acquire(ctx); err != nil {
		p.setState(fl, stateDormant)
		return
	}
	held := true
	next := p.read(ctx, sendCtx, fl, &held)
	if held {
		p.slots.release()
	}
	p.setState(fl, next)
}

// read runs the reading loop and returns the state the file ends in.
func (p *Pipeline) read(ctx, sendCtx context.Context, fl *file, held *bool) fileState {
	p.mu.Lock()
	name, f := fl.name, fl.f
	p.mu.Unlock()
	fi, err := f.Stat()
	if err != nil {
		p.log.Warn("stat log file", "name", name, "err", err)
		return stateDormant
	}
	if err := p.verifyStart(fl, f, fi.Size()); err != nil {
		p.log.Warn("fingerprint log file", "name", name, "err", err)
		return stateDormant
	}
	fl.mu.Lock()
	start := fl.acks.readEnd
	fl.mu.Unlock()

	fr := &fileReader{
		p: p, fl: fl, f: f, name: name, ctx: sendCtx, held: held,
		r:          tail.NewReader(f, start),
		parser:     parse.NewParser(p.cfg.Parse),
		emittedEnd: start, sentEnd: start,
		batchBytes: min(maxBatchBytes, max(p.cfg.MaxBufferBytes/4, 1)),
		seenSize:   fi.Size(), seenMtime: fi.ModTime(),
	}
	fr.r.MaxLine = p.cfg.MaxLineBytes
	fr.j.MaxBytes = p.cfg.MaxLineBytes
	fr.j.Rules = p.cfg.Parse.Multiline // issue 14: the joining rules (nil: every built-in joiner)
	fr.lineFn = fr.onLine
	fr.emitFn = fr.onRecord
	return fr.loop(ctx)
}

// verifyStart checks, before a reader starts on a file, that it still holds
// the content it was read from: not cut below what was read, the same first
// bytes (compared as a prefix), and the same bytes just before the read
// position. A file that fails is read again from 0 in a new generation. It
// also takes the fingerprint of a file that has none yet.
func (p *Pipeline) verifyStart(fl *file, f *os.File, size int64) error {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if reason, err := contentChangedLocked(fl, f, size); err != nil {
		return err
	} else if reason != "" {
		p.log.Info("file content changed since it was read; reading it from the start",
			"file", fl.idStr, "reason", reason, "size", size, "offset", fl.acks.readEnd)
		p.m.truncations.Inc()
		fl.endGenerationLocked()
		p.wantRescan()
	}
	if !fl.fpSet && size > 0 {
		fp, err := tail.ReadFingerprint(f, min(tail.FingerprintSize, int(min(size, 1<<30))))
		if err != nil {
			return err
		}
		fl.setIdentity(fp)
	}
	return nil
}

// contentChangedLocked tells why fl's file no longer holds what was read
// from it up to readEnd, or "" when it does. file.mu is held.
func contentChangedLocked(fl *file, f *os.File, size int64) (string, error) {
	if fl.acks.readEnd == 0 {
		return "", nil
	}
	if size < fl.acks.readEnd {
		return "truncated", nil
	}
	if fl.fpSet {
		if ok, err := fl.fp.Matches(f); err != nil {
			return "", err
		} else if !ok {
			return "first bytes changed", nil
		}
	}
	if fl.acks.readTailSet {
		if ok, err := fl.acks.readTail.MatchesAt(f, fl.acks.readEnd-int64(fl.acks.readTail.Len)); err != nil {
			return "", err
		} else if !ok {
			return "bytes before the read position changed", nil
		}
	}
	return "", nil
}

// wantRescan asks the Run loop for a scan soon, without blocking.
func (p *Pipeline) wantRescan() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// Truncation backoff: a file truncated truncBurst times within
// truncWindow is left alone for a while, doubling up to truncMaxBackoff,
// so that a file whose size lies (a procfs file behind a bind mount reads
// more than its stat size of 0) cannot make the sidecar re-read it in a
// tight loop.
const (
	truncBurst      = 10
	truncWindow     = 10 * time.Second
	truncMinBackoff = time.Second
	truncMaxBackoff = time.Minute
)

func (fr *fileReader) loop(ctx context.Context) fileState {
	p, fl := fr.p, fr.fl
	backoff := minBackoff
	lastData := time.Now()
	waited, woken, fullWait := false, false, false
	silent := 0 // safety checks in a row that found data inotify did not report
	for {
		if waited {
			waited = false
			restarted, grew := fr.checkChanged(woken)
			switch {
			case woken || p.polling.Load():
				silent = 0
			case grew && fullWait:
				if silent++; silent >= 2 {
					p.pollingFallback(fr.name)
				}
			}
			if restarted {
				if !fr.truncationPause(ctx) {
					fr.finish(true)
					return stateDormant
				}
				continue
			}
		}
		fr.pod = p.pods.Pod().JSON()
		fr.readTime = time.Now()
		n, err := fr.r.Read(fr.lineFn)
		if n > 0 {
			fr.bytesRead += n
			lastData = fr.readTime
			backoff = minBackoff
			if ctx.Err() == nil {
				if p.slots.contended() {
					// Another file waits for a slot: hand out what was
					// read and queue behind it.
					fr.flush()
					if !fr.pause(ctx, 0) {
						fr.finish(true)
						return stateDormant
					}
				}
				continue
			}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			p.log.Error("read log file", "file", fr.name, "err", err)
			fr.finish(false)
			return stateDormant
		}
		if n == 0 {
			// At the end of the file: hand out what was read.
			fr.flush()
		}
		if ctx.Err() != nil {
			if n > 0 {
				continue // read to the current end before stopping
			}
			fr.finish(true)
			return stateDormant
		}

		fi, err := fr.f.Stat()
		if err != nil {
			p.log.Error("stat log file", "file", fr.name, "err", err)
			fr.finish(false)
			return stateDormant
		}
		if fi.Size() < fr.r.Offset() {
			if fr.partialCut(fi.Size()) {
				continue
			}
			fr.truncatedTo(fi.Size(), "truncated")
			if !fr.truncationPause(ctx) {
				fr.finish(true)
				return stateDormant
			}
			continue
		}
		fr.seenSize, fr.seenMtime = fi.Size(), fi.ModTime()
		idle := time.Since(lastData)
		if _, pending := fr.j.Pending(); pending && idle >= p.cfg.MultilineTimeout {
			fr.j.Flush(fr.emitFn)
			fr.flush()
		}
		p.mu.Lock()
		matched, name := fl.matched, fl.name
		p.mu.Unlock()
		fr.name = name
		deleted := tail.Links(fi) == 0
		if idle >= p.cfg.RotateWait {
			if deleted || !matched {
				// Renamed away or deleted: read to its end through the open
				// descriptor, then let it go.
				fr.finish(false)
				if deleted {
					return stateGone
				}
				fr.markDeletable(name)
				return stateDormant
			}
			_, partial := fr.r.Partial()
			_, pending := fr.j.Pending()
			if name != p.active && !partial && !pending {
				fr.markDeletable(name)
				return stateDormant
			}
		}
		wait := backoff // polling: 5 ms, doubling up to the poll interval
		if !p.polling.Load() {
			// inotify wakes the reader when the file is written; the timer
			// is for what is due without a write, and a rare safety check.
			wait = p.safetyInterval()
			if _, pending := fr.j.Pending(); pending {
				wait = min(wait, p.cfg.MultilineTimeout-idle)
			}
			if deleted || !matched || name != p.active {
				wait = min(wait, p.cfg.RotateWait-idle)
			}
			wait = max(wait, time.Millisecond)
		}
		fullWait = wait == p.safetyInterval()
		var ok bool
		if ok, woken = fr.wait(ctx, wait); !ok {
			fr.finish(true)
			return stateDormant
		}
		waited = true
		backoff = min(backoff*2, p.cfg.PollInterval)
	}
}

// markDeletable marks a fully read file whose name is a rotation of the
// active file for removal once its records are acknowledged
// (LOGLET_DELETE_SHIPPED), whether or not the include pattern matches it.
func (fr *fileReader) markDeletable(name string) {
	p := fr.p
	if p.cfg.DeleteShipped && rotation.Of(p.active, name) {
		p.mu.Lock()
		fr.fl.toDelete = true
		p.mu.Unlock()
	}
}

// checkChanged runs after a wait, before reading again: when inotify
// reported a write, or the file's size or modification time moved, it
// checks that the file still holds what was read (it may have been
// truncated and refilled past the read position between two reads), and
// starts it again from 0 when it does not. It reports whether the file was
// restarted, and whether it changed at all.
func (fr *fileReader) checkChanged(written bool) (restarted, changed bool) {
	fi, err := fr.f.Stat()
	if err != nil {
		return false, false // the read that follows reports it
	}
	if !written && fi.Size() == fr.seenSize && fi.ModTime().Equal(fr.seenMtime) {
		// Nothing reported and nothing moved. (When inotify reports a
		// write, the content is checked whatever size and time say: a
		// truncation refilled to the same size within one tick of the
		// kernel's coarse clock leaves both as they were.)
		return false, false
	}
	fr.seenSize, fr.seenMtime = fi.Size(), fi.ModTime()
	if fi.Size() < fr.r.Offset() {
		if fr.partialCut(fi.Size()) {
			return false, true
		}
		fr.truncatedTo(fi.Size(), "truncated")
		return true, true
	}
	fl := fr.fl
	fl.mu.Lock()
	reason, err := contentChangedLocked(fl, fr.f, fi.Size())
	fl.mu.Unlock()
	if err != nil {
		return false, true
	}
	if reason == "" {
		fr.partialRewritten()
		return false, true
	}
	fr.truncatedTo(fi.Size(), reason)
	return true, true
}

// partialRewritten checks the held-back partial line against the file: when
// the writer cut it back and wrote something else in its place (applib does
// so after a failed write), reading resumes at the line's start, so the
// fragment never joins the next record.
func (fr *fileReader) partialRewritten() {
	start, ok := fr.r.Partial()
	if !ok {
		return
	}
	held := fr.r.PartialTail(tail.TailSize)
	if len(held) == 0 {
		return
	}
	buf := make([]byte, len(held))
	n, _ := fr.f.ReadAt(buf, fr.r.Offset()-int64(len(held)))
	if n == len(held) && string(buf) == string(held) {
		return
	}
	fr.r.Reset(start)
}

// partialCut handles a file cut back no further than the start of the
// partial line held: the writer removed a fragment it could not complete
// (applib does so after a failed write). Reading resumes at that line's
// start; what was read before it stands. It reports whether that was the
// case.
func (fr *fileReader) partialCut(size int64) bool {
	start, ok := fr.r.Partial()
	if !ok || size < start {
		return false
	}
	fl := fr.fl
	fl.mu.Lock()
	reason, err := contentChangedLocked(fl, fr.f, size)
	fl.mu.Unlock()
	if err != nil || reason != "" {
		return false
	}
	fr.r.Reset(start)
	return true
}

// truncationPause waits, when the file keeps being truncated, before it is
// read again; it reports false when the send context ended meanwhile.
func (fr *fileReader) truncationPause(ctx context.Context) bool {
	now := time.Now()
	if now.Sub(fr.truncFrom) > truncWindow {
		fr.truncFrom, fr.truncs = now, 0
	}
	fr.truncs++
	if fr.truncs < truncBurst {
		return true
	}
	fr.truncPause = min(max(2*fr.truncPause, truncMinBackoff), truncMaxBackoff)
	p := fr.p
	p.m.truncBackoffs.Inc()
	p.log.Warn("log file keeps being truncated; leaving it alone before reading it again",
		"file", fr.name, "truncations", fr.truncs, "within", now.Sub(fr.truncFrom).Round(time.Millisecond).String(),
		"pause", fr.truncPause.String())
	ok := fr.pause(ctx, fr.truncPause)
	fr.truncFrom, fr.truncs = time.Now(), 0
	return ok
}

// pause gives the read slot back, waits for d (or until ctx ends), and
// takes a slot again behind the readers already waiting for one, so that
// other files are read meanwhile. It reports false when no slot could be
// had before the send context ended (a shutdown that timed out).
func (fr *fileReader) pause(ctx context.Context, d time.Duration) bool {
	p := fr.p
	p.slots.release()
	*fr.held = false
	if d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	return fr.reacquire()
}

// wait is pause at the end of the file: it also ends when inotify reports
// the file written, and reports whether that is what woke it.
func (fr *fileReader) wait(ctx context.Context, d time.Duration) (ok, woken bool) {
	fr.p.slots.release()
	*fr.held = false
	t := time.NewTimer(d)
	select {
	case <-fr.fl.wake:
		woken = true
	case <-t.C:
	case <-ctx.Done():
	}
	t.Stop()
	return fr.reacquire(), woken
}

// reacquire takes a read slot again after a pause.
func (fr *fileReader) reacquire() bool {
	if fr.p.slots.acquire(fr.ctx) != nil {
		return false
	}
	*fr.held = true
	return true
}

func (fr *fileReader) takeFingerprint() {
	// From the bytes the lines were read from, where the reader read the
	// beginning: the file may have been rewritten since (copytruncate).
	var fp tail.Fingerprint
	if head := fr.r.Head(); len(head) > 0 {
		fp = tail.FingerprintOf(head)
	} else {
		var err error
		if fp, err = tail.ReadFingerprint(fr.f, tail.FingerprintSize); err != nil {
			fr.p.log.Warn("fingerprint log file", "file", fr.name, "err", err)
			return
		}
	}
	fr.fl.mu.Lock()
	fr.fl.setIdentity(fp)
	fr.fl.mu.Unlock()
}

// truncatedTo handles a file cut below what was read, or rewritten in place
// (copy-truncate): what was read of the old content stays handed out, the
// old generation is remembered (so that a copy of it is not read again),
// and reading starts again at 0.
func (fr *fileReader) truncatedTo(size int64, reason string) {
	p, fl := fr.p, fr.fl
	p.log.Info("log file truncated or rewritten; reading it from the start", "file", fr.name, "reason", reason,
		"size", size, "offset", fr.r.Offset())
	p.m.truncations.Inc()
	fr.j.Flush(fr.emitFn)
	fr.flush()
	fr.r.Reset(0)
	fr.emittedEnd, fr.sentEnd = 0, 0
	fl.mu.Lock()
	fl.endGenerationLocked()
	fl.mu.Unlock()
	p.wantRescan() // a held copy of the old content may now be resolved
}

// finish hands out the held-back record, and the held-back partial line
// unless the sidecar is shutting down: a partial line at shutdown stays in
// the file, before the checkpoint, so that when only the sidecar restarts
// and the app completes the line, it is sent whole, once. (When the pod is
// being deleted, such a last line without a newline is lost with the
// volume; DESIGN.md lists it.)
func (fr *fileReader) finish(shutdown bool) {
	if !shutdown {
		fr.r.FlushPartial(fr.lineFn)
	}
	fr.j.Flush(fr.emitFn)
	fr.flush()
}

func (fr *fileReader) onLine(line []byte, start, end int64, truncated bool) {
	fr.lines++
	fr.j.Add(line, start, end, truncated, fr.emitFn)
}

func (fr *fileReader) onRecord(text []byte, start, end int64, lines int, truncated bool) {
	if b := fr.cur; lines > 0 && b != nil {
		if need := len(b.arena) + recordEstimate(text, fr.pod, fr.name); need > cap(b.arena) {
			if len(b.sb.Records) > 0 && cap(b.arena) >= fr.batchBytes {
				fr.flush() // the record would outgrow a full-size arena: it starts the next batch
			} else {
				b.grow(need, fr.batchBytes+arenaSlack)
			}
		}
	}
	fr.emittedEnd = end
	if lines == 0 {
		return // a blank line: consumed, no record
	}
	if !fr.fl.fpSet {
		fr.takeFingerprint() // before the first record, which carries the file's identity
	}
	b := fr.cur
	if b == nil {
		b = fr.startBatch()
	}
	in := parse.Input{Text: text, Lines: lines, File: fr.name, Offset: start, ReadTime: fr.readTime, Truncated: truncated}
	n, oldCap := len(b.arena), cap(b.arena)
	var res parse.Result
	b.arena, res = fr.parser.Append(b.arena, &in, fr.pod)
	if res.Dropped {
		// issue 14: dropped on purpose by a rule (parse.Options.Shape). It
		// adds no record, but emittedEnd (set above) moves the checkpoint
		// over it: delivered as dropped, never read again.
		b.arena = b.arena[:n]
		fr.dropped++
		return
	}
	b.add(n, oldCap, res.Time, start, end)
	b.sb.Records[len(b.sb.Records)-1].ReadTime = fr.readTime // OTLP's observed time
	fr.byFormat[res.Format]++
	if res.ParseError {
		fr.parseErrs[res.Detected]++
	}
	if truncated {
		fr.truncated++
	}
	fr.typeErrs += res.TypeErrors
	if len(b.sb.Records) >= maxBatchRecords || len(b.arena) >= fr.batchBytes {
		fr.flush()
	}
}

// Arena sizes: a batch's arena starts at minArena and doubles as records
// need, up to the batch size plus arenaSlack, so that the record that fills
// a batch usually fits without growing it again. Pooled arenas keep their
// size, so a busy file's batches stop growing after the first few.
const (
	minArena   = 32 << 10
	arenaSlack = 16 << 10
)

// startBatch starts the current batch, first taking a batch's worth of the
// memory budget (waiting while it is spent), so that records are never
// encoded beyond the bound: the budget covers batches being filled as well
// as those handed out. flush settles the reservation to the batch's size.
func (fr *fileReader) startBatch() *batch {
	reserved := 0
	if fr.p.budget.acquire(fr.ctx, fr.batchBytes) == nil {
		reserved = fr.batchBytes
	}
	b := fr.p.getBatch(fr.fl, min(minArena, fr.batchBytes+arenaSlack))
	b.reserved = reserved
	fr.cur = b
	return b
}

// recordEstimate is about the size of the record encoded from text: the
// text, the pod metadata and the record's own fields. Escapes may make it
// larger; the arena then grows.
func recordEstimate(text, pod []byte, file string) int {
	return len(text) + len(pod) + len(file) + 256
}

// flush hands the current batch to the sink, waiting for memory budget
// first. A batch the sink does not take (the send context ended) is never
// acknowledged, so the checkpoint stays before it.
func (fr *fileReader) flush() {
	p, fl := fr.p, fr.fl
	b := fr.cur
	if b == nil && fr.emittedEnd == fr.sentEnd {
		return
	}
	if b == nil {
		b = p.getBatch(fl, 0)
	}
	fr.cur = nil
	b.end = fr.emittedEnd
	fr.sentEnd = b.end
	b.seal()
	held := b.reserved
	b.reserved = 0
	fr.noteEnd(b)
	fl.handOut(b)
	fr.addStats()
	if b.records == 0 {
		p.budget.resize(held, 0)
		p.complete(b)
		return
	}
	if held > 0 {
		p.budget.resize(held, b.bytes)
	} else if err := p.budget.acquire(fr.ctx, b.bytes); err != nil {
		return
	}
	for {
		err := p.sink.Send(fr.ctx, b.sb)
		if err == nil {
			return
		}
		if fr.ctx.Err() != nil {
			p.budget.release(b.bytes)
			return
		}
		p.log.Error("sink refused a batch; retrying", "file", fr.name, "err", err)
		t := time.NewTimer(time.Second)
		select {
		case <-t.C:
		case <-fr.ctx.Done():
			t.Stop()
		}
	}
}

// noteEnd takes the tail fingerprint of the bytes just before the batch's
// end, and lets the file's head fingerprint grow over what has been read,
// up to tail.FingerprintSize: both are what a later check compares to tell
// the file from one rewritten in its place.
func (fr *fileReader) noteEnd(b *batch) {
	if b.end <= 0 {
		return
	}
	if t, err := tail.TailAt(fr.f, b.end); err == nil {
		b.tail = t
	}
	fl := fr.fl
	fl.mu.Lock()
	grow := fl.fpSet && fl.fp.Len < tail.FingerprintSize && b.end > int64(fl.fp.Len)
	fl.mu.Unlock()
	if !grow {
		return
	}
	var fp tail.Fingerprint
	if head := fr.r.Head(); int64(len(head)) >= min(b.end, tail.FingerprintSize) {
		fp = tail.FingerprintOf(head[:min(b.end, int64(len(head)))])
	} else if got, err := tail.ReadFingerprint(fr.f, int(min(b.end, tail.FingerprintSize))); err == nil {
		fp = got
	} else {
		return
	}
	fl.mu.Lock()
	fl.fp = fp
	fl.mu.Unlock()
}

func (fr *fileReader) addStats() {
	m := fr.p.m
	if fr.lines > 0 {
		m.linesRead.Add(float64(fr.lines))
	}
	if fr.bytesRead > 0 {
		m.bytesRead.Add(float64(fr.bytesRead))
		fr.p.bytesRead.Add(int64(fr.bytesRead))
	}
	for f := parse.FormatJSON; f <= parse.FormatPlain; f++ {
		if n := fr.byFormat[f]; n > 0 {
			m.records.WithLabelValues(f.String()).Add(float64(n))
		}
		if n := fr.parseErrs[f]; n > 0 {
			m.parseErrors.WithLabelValues(f.String()).Add(float64(n))
		}
	}
	if fr.truncated > 0 {
		m.truncated.Add(float64(fr.truncated))
	}
	if fr.typeErrs > 0 {
		m.typeErrors.Add(float64(fr.typeErrs))
	}
	if fr.dropped > 0 {
		m.dropped.Add(float64(fr.dropped)) // issue 14
	}
	fr.lines, fr.bytesRead, fr.truncated, fr.typeErrs, fr.dropped = 0, 0, 0, 0, 0
	fr.byFormat, fr.parseErrs = [4]int{}, [4]int{}
}
