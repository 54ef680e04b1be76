package pipeline

import (
	"context"
	"errors"
	"io"
	"os"
	"time"

	"github.com/loglet/loglet/sidecar/internal/parse"
	"github.com/loglet/loglet/sidecar/internal/tail"
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

	cur        *batch
	emittedEnd int64 // end of the last record (or blank line) emitted
	sentEnd    int64 // emittedEnd when the last batch was handed out
	pod        []byte
	readTime   time.Time
	batchBytes int

	lineFn func([]byte, int64, int64, bool)
	emitFn parse.Emit

	// per-batch statistics, added to the metrics when the batch is handed out
	lines, bytesRead, truncated, typeErrs int
	byFormat, parseErrs                   [4]int
}

// readFile owns fl while its state is stateReading: it opens the file, reads
// it until it is finished, dormant, or ctx ends, and then drains it.
func (p *Pipeline) readFile(ctx, sendCtx context.Context, fl *file) {
	defer p.wg.Done()
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		p.setState(fl, stateDormant)
		return
	}
	defer func() { <-p.slots }()
	p.m.filesOpen.Inc()
	defer p.m.filesOpen.Dec()

	next := p.read(ctx, sendCtx, fl)
	p.setState(fl, next)
}

// read runs the reading loop and returns the state the file ends in.
func (p *Pipeline) read(ctx, sendCtx context.Context, fl *file) fileState {
	p.mu.Lock()
	path, name := fl.path, fl.name
	p.mu.Unlock()
	f, err := os.Open(path)
	if err != nil {
		p.log.Warn("open log file", "path", path, "err", err)
		return stateDormant // the next scan finds it again or forgets it
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		p.log.Warn("stat log file", "path", path, "err", err)
		return stateDormant
	}
	if id, _ := tail.IdentityOf(fi); id != fl.id {
		return stateDormant // the name now belongs to another file; the scan sorts it out
	}

	fl.mu.Lock()
	start := fl.readEnd
	fl.mu.Unlock()
	if err := p.verifyStart(fl, f, fi.Size(), &start); err != nil {
		p.log.Warn("fingerprint log file", "path", path, "err", err)
		return stateDormant
	}

	fr := &fileReader{
		p: p, fl: fl, f: f, name: name, ctx: sendCtx,
		r:          tail.NewReader(f, start),
		parser:     parse.NewParser(p.cfg.Parse),
		emittedEnd: start, sentEnd: start,
		batchBytes: min(maxBatchBytes, max(p.cfg.MaxBufferBytes/4, 1)),
	}
	fr.r.MaxLine = p.cfg.MaxLineBytes
	fr.j.MaxBytes = p.cfg.MaxLineBytes
	fr.lineFn = fr.onLine
	fr.emitFn = fr.onRecord
	return fr.loop(ctx)
}

// verifyStart checks, before the first read of a file, that it is the file
// its checkpoint was taken from and that it was not truncated below it, and
// takes its fingerprint.
func (p *Pipeline) verifyStart(fl *file, f *os.File, size int64, start *int64) error {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if fl.fpSet && *start > 0 {
		ok, err := fl.fp.Matches(f)
		if err != nil {
			return err
		}
		if !ok {
			p.log.Info("file content changed since its checkpoint; reading it from the start", "file", fl.idStr)
			fl.fpSet = false
			*start = 0
			p.restartLocked(fl, 0)
		}
	}
	if *start > size {
		p.log.Info("file is shorter than its checkpoint (truncated); reading it from the start", "file", fl.idStr, "size", size, "offset", *start)
		p.m.truncations.Inc()
		fl.fpSet = false
		*start = 0
		p.restartLocked(fl, 0)
	}
	if !fl.fpSet && size > 0 {
		fp, err := tail.ReadFingerprint(f, tail.FingerprintSize)
		if err != nil {
			return err
		}
		fl.setFingerprint(fp)
	}
	return nil
}

// restartLocked starts a new generation of fl at offset; batches of the old
// one no longer move its checkpoint. fl.mu is held.
func (p *Pipeline) restartLocked(fl *file, offset int64) {
	fl.gen++
	fl.committed, fl.readEnd = offset, offset
	fl.saved = false
}

func (fr *fileReader) loop(ctx context.Context) fileState {
	p, fl := fr.p, fr.fl
	backoff := minBackoff
	lastData := time.Now()
	for {
		fr.pod = p.pods.Pod().JSON()
		fr.readTime = time.Now()
		n, err := fr.r.Read(fr.lineFn)
		if n > 0 {
			fr.bytesRead += n
			lastData = fr.readTime
			backoff = minBackoff
			if ctx.Err() == nil {
				continue
			}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			p.log.Error("read log file", "file", fr.name, "err", err)
			fr.finish()
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
			fr.finish()
			return stateDormant
		}

		fi, err := fr.f.Stat()
		if err != nil {
			p.log.Error("stat log file", "file", fr.name, "err", err)
			fr.finish()
			return stateDormant
		}
		if fi.Size() < fr.r.Offset() {
			fr.truncatedTo(fi.Size())
			continue
		}
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
				fr.finish()
				if deleted {
					return stateGone
				}
				return stateDormant
			}
			_, partial := fr.r.Partial()
			_, pending := fr.j.Pending()
			if name != p.active && !partial && !pending {
				if p.cfg.DeleteShipped && p.isRotationOfActive(name) {
					p.mu.Lock()
					fl.toDelete = true
					p.mu.Unlock()
				}
				return stateDormant
			}
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		backoff = min(backoff*2, p.cfg.PollInterval)
	}
}

func (fr *fileReader) takeFingerprint() {
	fp, err := tail.ReadFingerprint(fr.f, tail.FingerprintSize)
	if err != nil {
		fr.p.log.Warn("fingerprint log file", "file", fr.name, "err", err)
		return
	}
	fr.fl.mu.Lock()
	fr.fl.setFingerprint(fp)
	fr.fl.mu.Unlock()
}

// truncatedTo handles a file cut below what was read (copy-truncate): what
// was read of the old content stays handed out, and reading starts again at 0.
func (fr *fileReader) truncatedTo(size int64) {
	p, fl := fr.p, fr.fl
	p.log.Info("log file truncated; reading it from the start", "file", fr.name, "size", size, "offset", fr.r.Offset())
	p.m.truncations.Inc()
	fr.j.Flush(fr.emitFn)
	fr.flush()
	fr.r.Reset(0)
	fr.emittedEnd, fr.sentEnd = 0, 0
	fl.mu.Lock()
	fl.fpSet = false
	p.restartLocked(fl, 0)
	fl.mu.Unlock()
}

// finish hands out the held-back line and record: the file ends here.
func (fr *fileReader) finish() {
	fr.r.FlushPartial(fr.lineFn)
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
	b.add(n, oldCap, res.Time, start)
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
	fl.track(b)
	fr.addStats()
	if b.records == 0 {
		p.budget.resize(held, 0)
		b.complete()
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
	fr.lines, fr.bytesRead, fr.truncated, fr.typeErrs = 0, 0, 0, 0
	fr.byFormat, fr.parseErrs = [4]int{}, [4]int{}
}
