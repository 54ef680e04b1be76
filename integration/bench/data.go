package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"time"
)

// Input formats the generator writes.
const (
	formatJSON   = "json"   // logrus' JSONFormatter
	formatLogfmt = "logfmt" // logrus' TextFormatter
)

// baseTime is the time of the first generated line of a file written ahead
// of the run; each next line is about a millisecond later.
var baseTime = time.Date(2020, 3, 2, 18, 22, 24, 0, time.FixedZone("JST", 9*3600))

var (
	levels = []string{"info", "info", "info", "info", "info", "info", "info", "info", "info", "info",
		"info", "info", "info", "info", "info", "info", "warning", "warning", "error", "debug"}
	messages = []string{"sample log", "request served", "cache miss", "order placed", "payment authorised",
		"user signed in", "retrying upstream call", "slow query", "session expired", "item added to cart",
		"inventory reserved", "webhook delivered", "rate limit reached", "config reloaded"}
	funcs = []string{"main.main", "main.(*server).handle", "shop/cart.(*Cart).Add", "shop/pay.Authorise",
		"shop/db.(*Pool).Query", "main.worker"}
	files = []string{"main.go", "server.go", "cart.go", "pay.go", "pool.go", "worker.go"}
	paths = []string{"/api/v1/cart", "/api/v1/orders", "/healthz", "/api/v1/users/me", "/api/v1/search"}
)

// generator writes deterministic logrus-style lines like examples/counter's
// (count, text_sample, file, func, level, msg, time), with varied
// levels, messages and extra fields, padded to about size bytes.
//
// Concurrency: a generator is used by one goroutine.
type generator struct {
	// TimeLayout formats the lines' times; newGenerator sets it to
	// milliseconds and a zone offset, as many loggers write.
	TimeLayout string
	// Debug counts the debug lines written, which a scenario's
	// LOGLET_DROP_LEVELS=debug drops.
	Debug int

	format  string
	size    int // target mean line length, without the newline
	rng     *rand.Rand
	filler  []byte // lower-case words, for padding
	balance int    // bytes the lines so far fell short of the target size
	head    []byte // scratch
	tail    []byte // scratch
}

// newGenerator returns a generator of format lines of about size bytes;
// the same seed gives the same lines.
func newGenerator(format string, size int, seed uint64) *generator {
	g := &generator{TimeLayout: "2006-01-02T15:04:05.000Z07:00", format: format, size: size, rng: rand.New(rand.NewPCG(seed, 0x10c1e7))}
	for len(g.filler) < 64<<10 {
		n := 2 + g.rng.IntN(9)
		for range n {
			g.filler = append(g.filler, byte('a'+g.rng.IntN(26)))
		}
		g.filler = append(g.filler, ' ')
	}
	return g
}

// appendLine appends line number i, written at t, and its newline.
func (g *generator) appendLine(dst []byte, i int, t time.Time) []byte {
	if g.format == formatLogfmt {
		return g.appendLogfmt(dst, i, t)
	}
	return g.appendJSON(dst, i, t)
}

// appendJSON writes keys in the sorted order logrus' JSONFormatter uses.
func (g *generator) appendJSON(dst []byte, i int, t time.Time) []byte {
	r := g.rng
	level, msg := levels[r.IntN(len(levels))], messages[r.IntN(len(messages))]
	if level == "debug" {
		g.Debug++
	}
	fn := r.IntN(len(funcs))
	small := g.size < 140
	g.head = append(g.head[:0], `{"count":`...)
	g.head = strconv.AppendInt(g.head, int64(i), 10)
	tl := g.tail[:0]
	if !small {
		tl = append(tl, `,"file":"`...)
		tl = append(tl, files[fn]...)
		tl = append(tl, ':')
		tl = strconv.AppendInt(tl, int64(10+r.IntN(400)), 10)
		tl = append(tl, `","func":"`...)
		tl = append(tl, funcs[fn]...)
		tl = append(tl, '"')
		if r.IntN(4) == 0 {
			tl = append(tl, `,"latency_ms":`...)
			tl = strconv.AppendFloat(tl, float64(r.IntN(100000))/100, 'f', -1, 64)
		}
	}
	tl = append(tl, `,"level":"`...)
	tl = append(tl, level...)
	tl = append(tl, `","msg":"`...)
	tl = append(tl, msg...)
	tl = append(tl, '"')
	if !small && r.IntN(4) == 0 {
		tl = append(tl, `,"path":"`...)
		tl = append(tl, paths[r.IntN(len(paths))]...)
		tl = append(tl, `","status":`...)
		tl = strconv.AppendInt(tl, int64([]int{200, 200, 200, 201, 204, 404, 500}[r.IntN(7)]), 10)
	}
	if !small {
		tl = append(tl, `,"text_sample":"fooooo"`...)
	}
	tl = append(tl, `,"time":"`...)
	tl = t.AppendFormat(tl, g.TimeLayout)
	tl = append(tl, '"')
	if !small && r.IntN(5) == 0 {
		tl = append(tl, `,"user_id":`...)
		tl = strconv.AppendInt(tl, int64(r.IntN(1000000)), 10)
	}
	tl = append(tl, '}')
	g.tail = tl

	dst = append(dst, g.head...)
	if pad := g.padding(len(g.head)+len(tl)+len(`,"detail":""`), len(`,"detail":""`)); pad > 0 {
		dst = append(dst, `,"detail":"`...)
		dst = g.appendFiller(dst, pad)
		dst = append(dst, '"')
	}
	dst = append(dst, tl...)
	return append(dst, '\n')
}

// appendLogfmt writes what logrus' TextFormatter writes with FullTimestamp:
// time, level and msg, then the fields in sorted order, values quoted only
// when they need it.
func (g *generator) appendLogfmt(dst []byte, i int, t time.Time) []byte {
	r := g.rng
	level, msg := levels[r.IntN(len(levels))], messages[r.IntN(len(messages))]
	if level == "debug" {
		g.Debug++
	}
	fn := r.IntN(len(funcs))
	g.head = append(g.head[:0], `time="`...)
	g.head = t.AppendFormat(g.head, g.TimeLayout)
	g.head = append(g.head, `" level=`...)
	g.head = append(g.head, level...)
	g.head = append(g.head, ` msg=`...)
	g.head = strconv.AppendQuote(g.head, msg)
	g.head = append(g.head, ` count=`...)
	g.head = strconv.AppendInt(g.head, int64(i), 10)
	tl := g.tail[:0]
	tl = append(tl, ` file="`...)
	tl = append(tl, files[fn]...)
	tl = append(tl, ':')
	tl = strconv.AppendInt(tl, int64(10+r.IntN(400)), 10)
	tl = append(tl, `" func=`...)
	tl = strconv.AppendQuote(tl, funcs[fn])
	if r.IntN(2) == 0 {
		tl = append(tl, ` latency_ms=`...)
		tl = strconv.AppendFloat(tl, float64(r.IntN(100000))/100, 'f', -1, 64)
	}
	if r.IntN(4) == 0 {
		tl = append(tl, ` path=`...)
		tl = append(tl, paths[r.IntN(len(paths))]...)
		tl = append(tl, ` status=`...)
		tl = strconv.AppendInt(tl, int64([]int{200, 200, 200, 201, 204, 404, 500}[r.IntN(7)]), 10)
	}
	tl = append(tl, ` text_sample=fooooo`...)
	if r.IntN(4) == 0 {
		tl = append(tl, ` user_id=`...)
		tl = strconv.AppendInt(tl, int64(r.IntN(1000000)), 10)
	}
	g.tail = tl

	dst = append(dst, g.head...)
	if pad := g.padding(len(g.head)+len(tl)+len(` detail=""`), len(` detail=""`)); pad > 0 {
		dst = append(dst, ` detail="`...)
		dst = g.appendFiller(dst, pad)
		dst = append(dst, '"')
	}
	dst = append(dst, tl...)
	return append(dst, '\n')
}

// padding returns how many filler bytes to add to a line of n bytes,
// syntax of them the padding field's syntax: enough to keep the mean line
// length at the target size, each padded line varied by ±10%.
func (g *generator) padding(n, syntax int) int {
	g.balance += g.size - (n - syntax)
	if g.balance <= syntax {
		return 0
	}
	pad := g.balance - syntax
	if j := g.size / 10; j > 0 {
		pad += g.rng.IntN(2*j+1) - j
	}
	pad = max(pad, 1)
	g.balance -= pad + syntax
	return pad
}

func (g *generator) appendFiller(dst []byte, n int) []byte {
	for n > 0 {
		start := g.rng.IntN(len(g.filler) - 1)
		chunk := g.filler[start:min(len(g.filler), start+n)]
		dst = append(dst, chunk...)
		n -= len(chunk)
	}
	return dst
}

// writeFile writes lines [first, first+n) of the generator to path (created
// or truncated), their times a millisecond apart from baseTime, and returns
// the bytes written.
func (g *generator) writeFile(path string, first, n int) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var line []byte
	var total int64
	for i := first; i < first+n; i++ {
		t := baseTime.Add(time.Duration(i)*time.Millisecond + time.Duration(g.rng.IntN(1000000)))
		line = g.appendLine(line[:0], i, t)
		total += int64(len(line))
		if _, err := w.Write(line); err != nil {
			f.Close()
			return 0, fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	return total, nil
}
