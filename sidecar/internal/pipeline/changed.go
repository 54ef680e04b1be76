package pipeline

import (
	"context"
	"time"

	"github.com/loglet/loglet/sidecar/internal/tail"
)

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

// cutBelowRead handles a file found, at its end, shorter than what was
// read: the writer's cut of a partial line, or a truncation, after which
// the file is read again from 0. It reports false when the send context
// ended during a truncation pause.
func (fr *fileReader) cutBelowRead(ctx context.Context, size int64) bool {
	if fr.partialCut(size) {
		return true
	}
	return fr.restart(ctx, size, "truncated")
}

// restart reads the file again from 0 in a new generation (truncatedTo),
// after the truncation pause; it reports false when the send context ended
// during the pause.
func (fr *fileReader) restart(ctx context.Context, size int64, reason string) bool {
	fr.truncatedTo(size, reason)
	return fr.truncationPause(ctx)
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

// truncatedTo handles a file cut below what was read, or rewritten in place
// (copy-truncate): what was read of the old content stays handed out, the
// old generation is remembered (so that a copy of it is not read again),
// and reading starts again at 0.
func (fr *fileReader) truncatedTo(size int64, reason string) {
	p, fl := fr.p, fr.fl
	p.log.Info("log file truncated or rewritten; reading it from the start", "file", fr.name, "reason", reason,
		"size", size, "offset", fr.r.Offset())
	p.m.truncations.Inc()
	fr.j.Release()
	fr.takeRecords()
	fr.handOff()
	fr.r.Reset(0)
	fr.emittedEnd, fr.sentEnd = 0, 0
	fl.mu.Lock()
	fl.endGenerationLocked()
	fl.mu.Unlock()
	p.wantRescan() // a held copy of the old content may now be resolved
}
