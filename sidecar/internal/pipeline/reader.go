package pipeline

import (
	"context"
	"errors"
	"io"
	"os"
	"time"

	"github.com/loglet/loglet/sidecar/internal/parse"
	"github.com/loglet/loglet/sidecar/internal/podinfo"
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
// and parses its lines, and hands batches to the sink in file order. Its
// loop pulls: lines from the tail.Reader, records from the parse.Joiner;
// neither calls back into it.
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
	emittedEnd int64 // end of the last record (or blank line) taken
	sentEnd    int64 // emittedEnd when the last batch was handed out
	pod        []byte
	// podOf is the pod identity of the current read, pod its JSON, which
	// records are encoded with; a batch holds records of one podOf.
	podOf      *podinfo.Pod
	readTime   time.Time
	batchBytes int

	reads    int           // reads in a row that found data
	runStart time.Time     // when the first of them was made
	lastData time.Time     // when the last read found data
	backoff  time.Duration // polling: the next wait at the end of the file
	silent   int           // safety checks in a row that found data inotify did not report

	seenSize   int64         // the file's size at the last check
	seenMtime  time.Time     // and its modification time
	truncFrom  time.Time     // start of the current burst of truncations
	truncs     int           // truncations in it
	truncPause time.Duration // the last pause after a burst

	// per-batch statistics, added to the metrics when the batch is handed out
	lines, bytesRead, truncated, typeErrs int
	dropped                               int // records a shaping rule dropped
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
	fr.j.Rules = p.cfg.Parse.Multiline // the multi-line joining rules (nil: every built-in joiner)
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

// loop is the reader goroutine's life, one straight loop: read what the
// file holds, join its lines into records, parse them into the current
// batch (a full batch is handed to the sink on the way), and at the end of
// the file hand off the batch, decide whether the file is done with, and
// wait for more. It returns the state the file ends in.
//
// Blocking happens in three places only, all in this goroutine: the read
// slot (taken again after every wait or pause), the memory budget (when a
// batch starts, or is handed out), and the sink's Send.
func (fr *fileReader) loop(ctx context.Context) fileState {
	p := fr.p
	fr.lastData, fr.backoff = time.Now(), minBackoff
	for {
		// Read once.
		if pod := p.pods.Pod(); pod != fr.podOf {
			fr.podOf, fr.pod = pod, pod.JSON()
		}
		fr.readTime = time.Now()
		n, err := fr.r.Fill()
		if errors.Is(err, tail.ErrRewritten) {
			// Truncated and written again past the read position since
			// the last read, within one run of reads.
			size := int64(-1)
			if fi, err := fr.f.Stat(); err == nil {
				size = fi.Size()
			}
			if !fr.restart(ctx, size, "bytes before the read position changed") {
				fr.finish(true)
				return stateDormant
			}
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			p.log.Error("read log file", "file", fr.name, "err", err)
			fr.finish(false)
			return stateDormant
		}
		// Join the lines the data completed, and parse and batch the
		// records they finish.
		for line := fr.r.Next(); line != nil; line = fr.r.Next() {
			fr.join(line)
		}
		if n > 0 {
			fr.bytesRead += n
			fr.lastData, fr.backoff = fr.readTime, minBackoff
			if fr.reads++; fr.reads == 1 {
				fr.runStart = fr.readTime
			} else {
				p.procs.reading(fr.runStart, fr.readTime) // a backlog, if it lasts
			}
			if ctx.Err() == nil && p.slots.contended() {
				// Another file waits for a slot: hand out what was read
				// and queue behind it.
				fr.handOff()
				if !fr.pause(ctx, 0) {
					fr.finish(true)
					return stateDormant
				}
			}
			continue // (at shutdown too: read to the current end before stopping)
		}

		// At the end of the file: hand off what was read, to be sent
		// without lingering for more.
		if fr.reads > 0 {
			p.procs.keptUp(fr.readTime)
		}
		fr.reads = 0
		fr.handOffFinal()
		if ctx.Err() != nil {
			fr.finish(true)
			return stateDormant
		}

		// Is the file done with?
		fi, err := fr.f.Stat()
		if err != nil {
			p.log.Error("stat log file", "file", fr.name, "err", err)
			fr.finish(false)
			return stateDormant
		}
		if fi.Size() < fr.r.Offset() {
			if !fr.cutBelowRead(ctx, fi.Size()) {
				fr.finish(true)
				return stateDormant
			}
			continue
		}
		fr.seenSize, fr.seenMtime = fi.Size(), fi.ModTime()
		at := fr.endStatus(fi)
		if _, pending := fr.j.Pending(); pending && at.idle >= p.cfg.MultilineTimeout {
			fr.j.Release() // no line came to continue it
			fr.takeRecords()
			fr.handOff()
		}
		if next, done := fr.letGo(at); done {
			return next
		}

		// Wait for more, and check that the file still holds what was read.
		if !fr.waitForData(ctx, fr.waitTime(at)) {
			fr.finish(true)
			return stateDormant
		}
	}
}

// join pushes a line into the Joiner, and parses and batches the records
// it finished.
func (fr *fileReader) join(line *tail.Line) {
	fr.lines++
	fr.j.Push(line.Text, line.Start, line.End, line.Truncated)
	fr.takeRecords()
}

// takeRecords parses and batches every record the Joiner has finished.
func (fr *fileReader) takeRecords() {
	for rec := fr.j.Next(); rec != nil; rec = fr.j.Next() {
		fr.add(rec)
	}
}

// endStatus is what the reader knows of its file at its end.
type endStatus struct {
	name             string
	matched, deleted bool
	idle             time.Duration // since the last read that found data
}

func (fr *fileReader) endStatus(fi os.FileInfo) endStatus {
	p := fr.p
	p.mu.Lock()
	matched, name := fr.fl.matched, fr.fl.name
	p.mu.Unlock()
	fr.name = name
	return endStatus{name: name, matched: matched, deleted: tail.Links(fi) == 0, idle: time.Since(fr.lastData)}
}

// letGo decides, at the end of the file, whether the reader is done with
// it: a file renamed away or deleted is read to its end through the open
// descriptor, and let go once idle for RotateWait; so is a fully read file
// other than the active one. It reports the state the file ends in.
func (fr *fileReader) letGo(at endStatus) (fileState, bool) {
	p := fr.p
	if at.idle < p.cfg.RotateWait {
		return 0, false
	}
	if at.deleted || !at.matched {
		fr.finish(false)
		if at.deleted {
			return stateGone, true
		}
		fr.markDeletable(at.name)
		return stateDormant, true
	}
	_, partial := fr.r.Partial()
	_, pending := fr.j.Pending()
	if at.name != p.active && !partial && !pending {
		fr.markDeletable(at.name)
		return stateDormant, true
	}
	return 0, false
}

// waitTime is how long the reader waits at the end of its file before it
// reads again.
func (fr *fileReader) waitTime(at endStatus) time.Duration {
	p := fr.p
	if p.polling.Load() {
		return fr.backoff // 5 ms, doubling up to the poll interval
	}
	// inotify wakes the reader when the file is written; the timer is for
	// what is due without a write, and a rare safety check.
	wait := p.safetyInterval()
	if _, pending := fr.j.Pending(); pending {
		wait = min(wait, p.cfg.MultilineTimeout-at.idle)
	}
	if at.deleted || !at.matched || at.name != p.active {
		wait = min(wait, p.cfg.RotateWait-at.idle)
	}
	return max(wait, time.Millisecond)
}

// waitForData waits for d, or until inotify reports the file written, and
// then checks the file (see checkChanged), starting it again from 0 when it
// was truncated or rewritten meanwhile. A safety check that finds data
// inotify did not report, twice in a row, switches every reader to
// polling. It reports false when the send context ended.
func (fr *fileReader) waitForData(ctx context.Context, d time.Duration) bool {
	p := fr.p
	fullWait := d == p.safetyInterval()
	ok, woken := fr.wait(ctx, d)
	if !ok {
		return false
	}
	fr.backoff = min(fr.backoff*2, p.cfg.PollInterval)
	restarted, grew := fr.checkChanged(woken)
	switch {
	case woken || p.polling.Load():
		fr.silent = 0
	case grew && fullWait:
		if fr.silent++; fr.silent >= 2 {
			p.pollingFallback(fr.name)
		}
	}
	if restarted {
		return fr.truncationPause(ctx)
	}
	return true
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

// finish hands out the held-back record, and the held-back partial line
// unless the sidecar is shutting down: a partial line at shutdown stays in
// the file, before the checkpoint, so that when only the sidecar restarts
// and the app completes the line, it is sent whole, once. (When the pod is
// being deleted, such a last line without a newline is lost with the
// volume; DESIGN.md lists it.)
func (fr *fileReader) finish(shutdown bool) {
	if !shutdown {
		if line := fr.r.Flush(); line != nil {
			fr.join(line)
		}
	}
	fr.j.Release()
	fr.takeRecords()
	fr.handOff()
}
