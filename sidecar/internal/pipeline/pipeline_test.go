package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/loglet/loglet/sidecar/internal/checkpoint"
	"github.com/loglet/loglet/sidecar/internal/podinfo"
	"github.com/loglet/loglet/sidecar/internal/sink"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// radovskyb/watcher v1.0.7 leaks one goroutine per closed Watcher (see package tail).
		goleak.IgnoreTopFunction("github.com/radovskyb/watcher.(*Watcher).Start.func1"))
}

// syncBuffer is an io.Writer safe for the sink's writes and the test's reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// heldSink is a test sink whose acknowledgements the test releases by
// hand, to exercise the acknowledgement contract; the real outputs are
// sink.Writer and the Kafka sink.
type heldSink struct {
	mu      sync.Mutex
	batches []*sink.Batch
	values  []string
	sent    chan struct{}
}

func newHeldSink() *heldSink { return &heldSink{sent: make(chan struct{}, 1000)} }

func (h *heldSink) Send(ctx context.Context, b *sink.Batch) error {
	h.mu.Lock()
	h.batches = append(h.batches, b)
	for _, r := range b.Records {
		h.values = append(h.values, string(r.Value))
	}
	h.mu.Unlock()
	select {
	case h.sent <- struct{}{}:
	default:
	}
	return ctx.Err()
}

func (h *heldSink) Run(ctx context.Context) error { <-ctx.Done(); return nil }

// ack acknowledges the i-th batch sent.
func (h *heldSink) ack(i int) {
	h.mu.Lock()
	b := h.batches[i]
	h.mu.Unlock()
	b.Ack()
}

func (h *heldSink) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.batches)
}

// env is one pipeline under test with its directory and output.
type env struct {
	t      *testing.T
	dir    string
	cfg    Config
	out    *syncBuffer
	sink   Sink
	reg    *prometheus.Registry
	p      *Pipeline
	cancel context.CancelFunc
	done   chan error
	// prepare, when set, adjusts the pipeline before it runs.
	prepare func(*Pipeline)
}

func newEnv(t *testing.T, dir string, mutate func(*Config)) *env {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cfg := Config{
		LogDir: dir, StateDir: filepath.Join(dir, ".loglet"),
		Include: "*.log", ActiveFile: "app.log",
		PollInterval: 20 * time.Millisecond, RotateWait: 150 * time.Millisecond,
		MultilineTimeout: 100 * time.Millisecond, CheckpointInterval: 50 * time.Millisecond,
		ShutdownTimeout: 5 * time.Second,
		MaxLineBytes:    1 << 20, MaxOpenFiles: 16, MaxBufferBytes: 8 << 20,
		KeepGOMAXPROCS: true, // the test process's scheduler is not the pipeline's to switch
	}
	if mutate != nil {
		mutate(&cfg)
	}
	e := &env{t: t, dir: dir, cfg: cfg, out: &syncBuffer{}}
	e.sink = sink.NewWriter(e.out)
	return e
}

func (e *env) start() {
	e.t.Helper()
	e.reg = prometheus.NewRegistry()
	pods := &podinfo.Source{Env: podinfo.Env{Name: "web-1", Namespace: "shop"}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	p, err := New(e.cfg, e.sink, pods, log, e.reg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.p = p
	if e.prepare != nil {
		e.prepare(p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.done = make(chan error, 1)
	go func() { e.done <- p.Run(ctx) }()
}

func (e *env) stop() {
	e.t.Helper()
	e.cancel()
	select {
	case err := <-e.done:
		if err != nil {
			e.t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		e.t.Fatal("pipeline did not stop")
	}
}

func (e *env) path(name string) string { return filepath.Join(e.dir, name) }

func (e *env) write(name, s string) {
	e.t.Helper()
	f, err := os.OpenFile(e.path(name), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		e.t.Fatal(err)
	}
}

// jsonLines returns n logrus-style lines numbered from first.
func jsonLines(first, n int) string {
	var sb strings.Builder
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&sb, `{"level":"info","msg":"line %d","seq":%d,"time":"2026-11-21T10:00:00Z"}`+"\n", i, i)
	}
	return sb.String()
}

type rec struct {
	Msg    string
	Seq    json.Number
	Fields map[string]any
	Log    struct {
		File   string
		Offset int64
		Format string
	}
	Truncated  bool
	ParseError string `json:"parse_error"`
	Kubernetes map[string]any
}

func records(t *testing.T, out string) []rec {
	t.Helper()
	var recs []rec
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var r rec
		d := json.NewDecoder(strings.NewReader(line))
		d.UseNumber()
		if err := d.Decode(&r); err != nil {
			t.Fatalf("bad record %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// msgs returns the records' messages in output order.
func msgs(t *testing.T, out string) []string {
	var m []string
	for _, r := range records(t, out) {
		m = append(m, r.Msg)
	}
	return m
}

func lineMsgs(first, n int) []string {
	var m []string
	for i := first; i < first+n; i++ {
		m = append(m, fmt.Sprintf("line %d", i))
	}
	return m
}

// eventually polls cond for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) waitRecords(n int) {
	e.t.Helper()
	eventually(e.t, fmt.Sprintf("%d records", n), func() bool { return strings.Count(e.out.String(), "\n") >= n })
}

func (e *env) checkpoints() []checkpoint.Entry {
	e.t.Helper()
	entries, err := (&checkpoint.Store{Dir: e.cfg.StateDir}).Load()
	if err != nil {
		e.t.Fatal(err)
	}
	return entries
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

func TestShipsAndCheckpoints(t *testing.T) {
	e := newEnv(t, "", nil)
	e.write("app.log", jsonLines(0, 100))
	e.start()
	e.waitRecords(100)
	e.write("app.log", jsonLines(100, 50))
	e.waitRecords(150)
	e.stop()
	if diff := cmp.Diff(lineMsgs(0, 150), msgs(t, e.out.String())); diff != "" {
		t.Fatalf("records (-want +got):\n%s", diff)
	}
	r := records(t, e.out.String())[1]
	if r.Log.File != "app.log" || r.Log.Format != "json" || r.Log.Offset == 0 || r.Kubernetes["pod_name"] != "web-1" {
		t.Errorf("record metadata: %+v", r)
	}
	fi, _ := os.Stat(e.path("app.log"))
	cps := e.checkpoints()
	if len(cps) != 1 || cps[0].Offset != fi.Size() || cps[0].Path != "app.log" {
		t.Fatalf("checkpoints = %+v, want app.log at %d", cps, fi.Size())
	}
	if got := testutil.ToFloat64(e.p.m.recordsAcked); got != 150 {
		t.Errorf("records acked metric = %v", got)
	}

	// A clean restart sends nothing again, and picks up what was written meanwhile.
	e.write("app.log", jsonLines(150, 10))
	e.out = &syncBuffer{}
	e.sink = sink.NewWriter(e.out)
	e.start()
	e.waitRecords(10)
	time.Sleep(100 * time.Millisecond)
	e.stop()
	if diff := cmp.Diff(lineMsgs(150, 10), msgs(t, e.out.String())); diff != "" {
		t.Fatalf("after restart (-want +got):\n%s", diff)
	}
}

func TestRenameRotation(t *testing.T) {
	for _, rotated := range []string{"app.log.1", "app-20261121T100000.000000000Z.log"} {
		t.Run(rotated, func(t *testing.T) {
			e := newEnv(t, "", nil)
			e.start()
			e.write("app.log", jsonLines(0, 50))
			e.waitRecords(20)
			// Rotate while the reader may be mid-file, then keep writing to the old
			// descriptor's file briefly, as an app finishing a write would.
			if err := os.Rename(e.path("app.log"), e.path(rotated)); err != nil {
				t.Fatal(err)
			}
			e.write(rotated, jsonLines(50, 5))
			e.write("app.log", jsonLines(55, 45))
			e.waitRecords(100)
			time.Sleep(300 * time.Millisecond) // past RotateWait: nothing more may come
			e.stop()
			got := msgs(t, e.out.String())
			if diff := cmp.Diff(sorted(lineMsgs(0, 100)), sorted(got)); diff != "" {
				t.Fatalf("records (-want +got):\n%s", diff)
			}
			if n := testutil.ToFloat64(e.p.m.rotations); n != 1 {
				t.Errorf("rotations = %v, want 1", n)
			}
		})
	}
}

func TestCopyTruncate(t *testing.T) {
	e := newEnv(t, "", nil)
	e.write("app.log", jsonLines(0, 30))
	e.start()
	e.waitRecords(30)
	if err := os.Truncate(e.path("app.log"), 0); err != nil {
		t.Fatal(err)
	}
	e.write("app.log", jsonLines(30, 10))
	e.waitRecords(40)
	e.stop()
	if diff := cmp.Diff(lineMsgs(0, 40), msgs(t, e.out.String())); diff != "" {
		t.Fatalf("records (-want +got):\n%s", diff)
	}
	if n := testutil.ToFloat64(e.p.m.truncations); n != 1 {
		t.Errorf("truncations = %v, want 1", n)
	}
	fi, _ := os.Stat(e.path("app.log"))
	if cps := e.checkpoints(); len(cps) != 1 || cps[0].Offset != fi.Size() {
		t.Errorf("checkpoints = %+v, want offset %d", cps, fi.Size())
	}
}

func TestTruncatedWhileStopped(t *testing.T) {
	e := newEnv(t, "", nil)
	e.write("app.log", jsonLines(0, 30))
	e.start()
	e.waitRecords(30)
	e.stop()
	// Shorter content than the checkpoint: read again from 0.
	os.WriteFile(e.path("app.log"), []byte(jsonLines(100, 2)), 0o644)
	e.out = &syncBuffer{}
	e.sink = sink.NewWriter(e.out)
	e.start()
	e.waitRecords(2)
	e.stop()
	if diff := cmp.Diff(lineMsgs(100, 2), msgs(t, e.out.String())); diff != "" {
		t.Fatalf("records (-want +got):\n%s", diff)
	}
}

func TestDeletedWhileUnread(t *testing.T) {
	h := newHeldSink()
	e := newEnv(t, "", func(c *Config) { c.MaxBufferBytes = 4096 })
	e.sink = h
	e.write("app.log", jsonLines(0, 500)) // ~40 KiB: far more than the buffer
	e.start()
	eventually(t, "first batch", func() bool { return h.count() >= 1 })
	// The reader is paused on the buffer bound; delete the file under it.
	if err := os.Remove(e.path("app.log")); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		eventually(t, fmt.Sprintf("batch %d", i), func() bool { return h.count() > i })
		h.ack(i)
		h.mu.Lock()
		last := len(h.values) == 500 && len(h.batches) == i+1
		h.mu.Unlock()
		if last {
			break
		}
	}
	// Read to its end and acknowledged, the deleted file is forgotten.
	eventually(t, "deleted file forgotten", func() bool { return len(e.checkpoints()) == 0 })
	e.stop()
	h.mu.Lock()
	defer h.mu.Unlock()
	var got []string
	for _, v := range h.values {
		got = append(got, records(t, v)[0].Msg)
	}
	if diff := cmp.Diff(lineMsgs(0, 500), got); diff != "" {
		t.Fatalf("records (-want +got):\n%s", diff)
	}
}

func TestPartialLineHeldBack(t *testing.T) {
	e := newEnv(t, "", nil)
	e.write("app.log", `{"msg":"first"}`+"\n"+`{"msg":"sec`)
	e.start()
	e.waitRecords(1)
	time.Sleep(300 * time.Millisecond)
	if got := msgs(t, e.out.String()); len(got) != 1 {
		t.Fatalf("partial line sent: %v", got)
	}
	e.write("app.log", `ond"}`+"\n")
	e.waitRecords(2)
	e.stop()
	if diff := cmp.Diff([]string{"first", "second"}, msgs(t, e.out.String())); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func TestPartialLineHeldAcrossRestart(t *testing.T) {
	e := newEnv(t, "", nil)
	first := `{"msg":"first"}` + "\n"
	e.write("app.log", first+`{"msg":"last`)
	e.start()
	e.waitRecords(1)
	e.stop()
	if diff := cmp.Diff([]string{"first"}, msgs(t, e.out.String())); diff != "" {
		t.Fatalf("a partial line was sent at shutdown (-want +got):\n%s", diff)
	}
	if cps := e.checkpoints(); len(cps) != 1 || cps[0].Offset != int64(len(first)) {
		t.Fatalf("checkpoints = %+v, want the partial line's start %d", cps, len(first))
	}
	// Only the sidecar restarted: the app completes its line.
	e.write("app.log", ` words"}`+"\n")
	e.out = &syncBuffer{}
	e.sink = sink.NewWriter(e.out)
	e.start()
	e.waitRecords(1)
	time.Sleep(100 * time.Millisecond)
	e.stop()
	if diff := cmp.Diff([]string{"last words"}, msgs(t, e.out.String())); diff != "" {
		t.Fatalf("after the restart (-want +got):\n%s", diff)
	}
}

func TestLongLines(t *testing.T) {
	e := newEnv(t, "", func(c *Config) { c.MaxLineBytes = 100 })
	long := `{"msg":"` + strings.Repeat("x", 1000) + `"}`
	e.write("app.log", jsonLines(0, 1)+long+"\n"+jsonLines(1, 1))
	e.start()
	e.waitRecords(3)
	e.stop()
	recs := records(t, e.out.String())
	if len(recs) != 3 || recs[0].Msg != "line 0" || recs[2].Msg != "line 1" {
		t.Fatalf("records: %+v", recs)
	}
	if !recs[1].Truncated || recs[1].ParseError == "" || len(recs[1].Msg) != 100 {
		t.Errorf("long line record: truncated=%v parse_error=%q msg length %d", recs[1].Truncated, recs[1].ParseError, len(recs[1].Msg))
	}
	if n := testutil.ToFloat64(e.p.m.truncated); n != 1 {
		t.Errorf("truncated metric = %v", n)
	}
	if n := testutil.ToFloat64(e.p.m.parseErrors.WithLabelValues("json")); n != 1 {
		t.Errorf("json parse errors = %v, want 1 (the cut line)", n)
	}
}

func TestStackTraceJoined(t *testing.T) {
	e := newEnv(t, "", nil)
	trace := "panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/app/main.go:10 +0x1d\n"
	e.write("app.log", jsonLines(0, 1)+trace)
	e.start()
	e.waitRecords(2) // the trace is flushed after MultilineTimeout
	e.stop()
	got := msgs(t, e.out.String())
	if diff := cmp.Diff([]string{"line 0", strings.TrimSuffix(trace, "\n")}, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func TestCheckpointFollowsAcknowledgedPrefix(t *testing.T) {
	h := newHeldSink()
	e := newEnv(t, "", func(c *Config) { c.MaxBufferBytes = 64 << 10 })
	e.sink = h
	e.start()
	var ends []int64
	for i := 0; i < 3; i++ {
		e.write("app.log", jsonLines(i*10, 10))
		eventually(t, "batch", func() bool { return h.count() > i })
		fi, _ := os.Stat(e.path("app.log"))
		ends = append(ends, fi.Size())
	}
	offset := func() int64 {
		cps := e.checkpoints()
		if len(cps) == 0 {
			return 0
		}
		return cps[0].Offset
	}
	h.ack(1) // out of order: the prefix is still empty
	time.Sleep(200 * time.Millisecond)
	if got := offset(); got != 0 {
		t.Fatalf("checkpoint moved past an unacknowledged batch: %d", got)
	}
	h.ack(0)
	eventually(t, "checkpoint at batch 1", func() bool { return offset() == ends[1] })
	h.ack(2)
	eventually(t, "checkpoint at batch 2", func() bool { return offset() == ends[2] })
	e.stop()
}

func TestShutdownTimeoutKeepsAcknowledgedCheckpoint(t *testing.T) {
	h := newHeldSink()
	e := newEnv(t, "", func(c *Config) { c.ShutdownTimeout = 200 * time.Millisecond })
	e.sink = h
	e.start()
	e.write("app.log", jsonLines(0, 10))
	eventually(t, "batch 0", func() bool { return h.count() >= 1 })
	h.ack(0)
	fi, _ := os.Stat(e.path("app.log"))
	e.write("app.log", jsonLines(10, 10))
	eventually(t, "batch 1", func() bool { return h.count() >= 2 })
	start := time.Now()
	e.stop() // batch 1 is never acknowledged
	if time.Since(start) > 5*time.Second {
		t.Errorf("shutdown took %v", time.Since(start))
	}
	if cps := e.checkpoints(); len(cps) != 1 || cps[0].Offset != fi.Size() {
		t.Fatalf("checkpoints = %+v, want offset %d", cps, fi.Size())
	}
}

// An unusable state file never makes lines be skipped: with START_AT=end
// too, every file is read from the beginning.
func TestCorruptStateReadsFromTheBeginning(t *testing.T) {
	for _, startAtEnd := range []bool{false, true} {
		t.Run(fmt.Sprint("end=", startAtEnd), func(t *testing.T) {
			e := newEnv(t, "", func(c *Config) { c.StartAtEnd = startAtEnd })
			os.MkdirAll(e.cfg.StateDir, 0o755)
			os.WriteFile(filepath.Join(e.cfg.StateDir, checkpoint.FileName), []byte("{garbage"), 0o644)
			e.write("app.log", jsonLines(0, 5))
			e.start()
			e.waitRecords(5)
			// The state is rewritten right after the first scan.
			eventually(t, "state rewritten", func() bool {
				cps, err := (&checkpoint.Store{Dir: e.cfg.StateDir}).Load()
				return err == nil && len(cps) == 1
			})
			e.write("app.log", jsonLines(5, 1))
			eventually(t, "new line", func() bool { return strings.Contains(e.out.String(), `"line 5"`) })
			e.stop()
			want := lineMsgs(0, 6)
			if diff := cmp.Diff(want, msgs(t, e.out.String())); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
			if len(e.checkpoints()) != 1 {
				t.Errorf("state not rewritten: %+v", e.checkpoints())
			}
		})
	}
}

func TestDeleteShipped(t *testing.T) {
	e := newEnv(t, "", func(c *Config) { c.DeleteShipped = true })
	e.write("app.log", jsonLines(0, 10))
	e.write("other.log", jsonLines(100, 1)) // not a rotation of app.log: kept
	e.start()
	e.waitRecords(11)
	os.Rename(e.path("app.log"), e.path("app-20261121T100000.000000000Z.log"))
	e.write("app.log", jsonLines(10, 5))
	e.waitRecords(16)
	eventually(t, "rotated file removed", func() bool {
		_, err := os.Stat(e.path("app-20261121T100000.000000000Z.log"))
		return os.IsNotExist(err)
	})
	time.Sleep(300 * time.Millisecond)
	e.stop()
	for _, keep := range []string{"app.log", "other.log"} {
		if _, err := os.Stat(e.path(keep)); err != nil {
			t.Errorf("%s removed: %v", keep, err)
		}
	}
	if n := testutil.ToFloat64(e.p.m.deleted); n != 1 {
		t.Errorf("deleted = %v", n)
	}
	if diff := cmp.Diff(sorted(append(lineMsgs(0, 15), "line 100")), sorted(msgs(t, e.out.String()))); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func TestBufferBoundPausesReading(t *testing.T) {
	h := newHeldSink()
	e := newEnv(t, "", func(c *Config) { c.MaxBufferBytes = 8192 })
	e.sink = h
	e.write("app.log", jsonLines(0, 2000))
	e.start()
	eventually(t, "a batch", func() bool { return h.count() >= 1 })
	time.Sleep(200 * time.Millisecond)
	if used := e.p.budget.inUse(); used > 8192+maxBatchBytes {
		t.Errorf("buffered %d bytes with a bound of 8192", used)
	}
	h.mu.Lock()
	n := len(h.values)
	h.mu.Unlock()
	if n >= 2000 {
		t.Fatalf("read everything (%d records) with no acknowledgement", n)
	}
	e.stop()
}

func TestManyFiles(t *testing.T) {
	e := newEnv(t, "", func(c *Config) { c.MaxOpenFiles = 4 })
	var want []string
	for f := 0; f < 10; f++ {
		name := fmt.Sprintf("f%02d.log", f)
		e.write(name, jsonLines(f*100, 20))
		want = append(want, lineMsgs(f*100, 20)...)
	}
	e.start()
	e.waitRecords(200)
	e.stop()
	if diff := cmp.Diff(sorted(want), sorted(msgs(t, e.out.String()))); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if len(e.checkpoints()) != 10 {
		t.Errorf("%d checkpoints, want 10", len(e.checkpoints()))
	}
}

func TestFastCatchUpSavesEarly(t *testing.T) {
	// A long interval: only the early save, triggered by a buffer's worth of
	// acknowledged bytes, can write the checkpoint while the file is read.
	e := newEnv(t, "", func(c *Config) {
		c.CheckpointInterval = time.Hour
		c.MaxBufferBytes = 64 << 10
	})
	e.write("app.log", jsonLines(0, 20000)) // ~1.4 MB
	e.start()
	e.waitRecords(20000)
	eventually(t, "checkpoint saved before shutdown", func() bool {
		cps := e.checkpoints()
		return len(cps) == 1 && cps[0].Offset > 0
	})
	e.stop()
}

// A trickle of acknowledged lines waits for the checkpoint interval; once
// 256 KiB are acknowledged since the last save, the save comes within a
// second (saveWait).
func TestCheckpointSaveFollowsTheAmount(t *testing.T) {
	e := newEnv(t, "", func(c *Config) { c.CheckpointInterval = time.Hour })
	saved := func() int64 {
		var off int64
		for _, cp := range e.checkpoints() {
			off = max(off, cp.Offset)
		}
		return off
	}
	// The save at start, after the first scan, records whatever is
	// acknowledged by then, which on a busy machine can be lines read
	// during the scan; so the file is written once that save is on disk.
	e.start()
	eventually(t, "the save at start", func() bool {
		_, err := os.Stat(filepath.Join(e.cfg.StateDir, checkpoint.FileName))
		return err == nil
	})
	e.write("app.log", jsonLines(0, 10))
	e.waitRecords(10)
	time.Sleep(2 * saveSoonGap) // past the cadence of a busy file
	if off := saved(); off != 0 {
		t.Fatalf("10 lines saved at offset %d before the hour's interval", off)
	}
	lines := jsonLines(10, 4000)
	if len(lines) < saveSoonBytes {
		t.Fatalf("%d bytes: too few to make the save soon", len(lines))
	}
	e.write("app.log", lines)
	e.waitRecords(4010)
	eventually(t, "the checkpoint saved within seconds of 256 KiB acknowledged", func() bool { return saved() > 0 })
	e.stop()
}

func TestRotatedAwayWhileDown(t *testing.T) {
	e := newEnv(t, "", nil)
	e.write("app.log", jsonLines(0, 10))
	e.write("app.log.3.gz", "\x1f\x8b not text\n") // compressed rotations are never read
	e.start()
	e.waitRecords(10)
	e.stop()
	// While the sidecar is down the app writes, rotates to a name the
	// include pattern does not match, and does it again: the second file
	// was never seen under the active name.
	e.write("app.log", jsonLines(10, 5))
	os.Rename(e.path("app.log"), e.path("app.log.1"))
	e.write("app.log", jsonLines(15, 5))
	os.Rename(e.path("app.log"), e.path("app.log.2"))
	e.write("app.log", jsonLines(20, 5))
	e.write("other.log.1", jsonLines(100, 1)) // not a rotation of app.log: not ours to read
	e.out = &syncBuffer{}
	e.sink = sink.NewWriter(e.out)
	e.start()
	e.waitRecords(15)
	time.Sleep(200 * time.Millisecond)
	e.stop()
	if diff := cmp.Diff(sorted(lineMsgs(10, 15)), sorted(msgs(t, e.out.String()))); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}
