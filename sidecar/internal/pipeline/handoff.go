package pipeline

import (
	"time"

	"github.com/loglet/loglet/sidecar/internal/parse"
	"github.com/loglet/loglet/sidecar/internal/tail"
)

// add parses a record the Joiner finished into the current batch, starting
// one when there is none (which may wait for memory budget), and hands the
// batch to the sink when the record fills it. A record of zero lines (blank
// lines) and a record a shaping rule drops add nothing, but move the
// batch's end over their bytes.
func (fr *fileReader) add(rec *parse.Joined) {
	text, start, end, lines, truncated := rec.Text, rec.Start, rec.End, rec.Lines, rec.Truncated
	if b := fr.cur; lines > 0 && b != nil && b.sb.Pod != fr.podOf {
		fr.handOff() // the pod identity changed: its records start the next batch (see sink.Batch.Pod)
	}
	if b := fr.cur; lines > 0 && b != nil {
		if need := len(b.arena) + recordEstimate(text, fr.pod, fr.name); need > cap(b.arena) {
			if len(b.sb.Records) > 0 && cap(b.arena) >= fr.batchBytes {
				fr.handOff() // the record would outgrow a full-size arena: it starts the next batch
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
		// Dropped on purpose by a shaping rule (parse.Options.Shape). It
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
		fr.handOff()
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
// as those handed out. handOff settles the reservation to the batch's size.
func (fr *fileReader) startBatch() *batch {
	reserved := 0
	if fr.p.budget.acquire(fr.ctx, fr.batchBytes) == nil {
		reserved = fr.batchBytes
	}
	b := fr.p.getBatch(fr.fl, min(minArena, fr.batchBytes+arenaSlack))
	b.reserved = reserved
	b.sb.Pod = fr.podOf
	fr.cur = b
	return b
}

// recordEstimate is about the size of the record encoded from text: the
// text, the pod metadata and the record's own fields. Escapes may make it
// larger; the arena then grows.
func recordEstimate(text, pod []byte, file string) int {
	return len(text) + len(pod) + len(file) + 256
}

// handOff hands the current batch to the sink, waiting for memory budget
// first, and retrying while the sink refuses it. A batch the sink does not
// take (the send context ended) is never acknowledged, so the checkpoint
// stays before it.
func (fr *fileReader) handOff() { fr.handOffAs(false) }

// handOffFinal is handOff at the end of the file's data: the batch is
// marked final (sink.Batch.Final), so the sink sends it without lingering.
func (fr *fileReader) handOffFinal() { fr.handOffAs(true) }

func (fr *fileReader) handOffAs(final bool) {
	p, fl := fr.p, fr.fl
	b := fr.cur
	if b == nil && fr.emittedEnd == fr.sentEnd {
		return
	}
	if b == nil {
		b = p.getBatch(fl, 0)
	}
	fr.cur = nil
	b.sb.Final = final
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
	// From the bytes read when the reader still holds them: the file may
	// have been rewritten since (copytruncate).
	if t, ok := fr.r.TailBefore(b.end); ok {
		b.tail = t
	} else if t, err := tail.TailAt(fr.f, b.end); err == nil {
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
		m.dropped.Add(float64(fr.dropped))
	}
	fr.lines, fr.bytesRead, fr.truncated, fr.typeErrs, fr.dropped = 0, 0, 0, 0, 0
	fr.byFormat, fr.parseErrs = [4]int{}, [4]int{}
}
