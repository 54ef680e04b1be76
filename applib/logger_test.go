package applib

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sirupsen/logrus"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		runHelper()
		return
	}
	goleak.VerifyTestMain(m)
}

// readLines returns the lines of the file at path, each with its newline.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return splitLines(t, b)
}

func splitLines(t *testing.T, b []byte) []string {
	t.Helper()
	var lines []string
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			t.Fatalf("last line has no newline: %q", b)
		}
		lines = append(lines, string(b[:i+1]))
		b = b[i+1:]
	}
	return lines
}

// rawFields decodes a line into its keys and their JSON text, which shows
// the type (12 is an integer, 12.0 a float, "12" a string), in key order.
func rawFields(t *testing.T, line string) (map[string]string, []string) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("line %q does not start an object: %v %v", line, tok, err)
	}
	m := map[string]string{}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		k := tok.(string)
		if _, dup := m[k]; dup {
			t.Errorf("line %q: key %q twice", line, k)
		}
		m[k] = string(raw)
		keys = append(keys, k)
	}
	if _, err := dec.Token(); err != nil {
		t.Fatalf("line %q: %v", line, err)
	}
	if dec.More() || dec.InputOffset() != int64(len(strings.TrimRight(line, "\n"))) {
		t.Fatalf("line %q: more than one JSON value", line)
	}
	return m, keys
}

// line returns the caller's line number plus delta: where the next log call is.
func line(delta int) int {
	_, _, l, _ := runtime.Caller(1)
	return l + delta
}

func openTemp(t *testing.T, c Config) *Output {
	t.Helper()
	if c.Dir == "" {
		c.Dir = t.TempDir()
	}
	if c.Pod == "" {
		c.Pod = "web-1"
	}
	o, err := Open(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

// TestLogrusFile writes one record with fields of each type to the file and
// reads it back: path, key order, each value's JSON text, caller and time.
func TestLogrusFile(t *testing.T) {
	dir := t.TempDir()
	out := openTemp(t, Config{Dir: dir, Pod: "web-1"})
	log := New(out)
	before := time.Now()
	wantLine := line(1)
	log.WithFields(logrus.Fields{"count": 0, "latency_ms": 12.0, "ratio": 0.25, "text_sample": "fooooo", "ok": true, "elapsed": 1500 * time.Microsecond, "err": errors.New("disk full"), "nothing": nil, "msg": "clash"}).Info("sample log")
	after := time.Now()
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}

	if got, want := out.Path(), filepath.Join(dir, "web-1.log"); got != want {
		t.Errorf("Path() = %q, want %q", got, want)
	}
	lines := readLines(t, filepath.Join(dir, "web-1.log"))
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want 1: %q", len(lines), lines)
	}
	got, keys := rawFields(t, lines[0])

	ts, err := strconv.Unquote(got["time"])
	if err != nil {
		t.Fatalf("time %s is not a string: %v", got["time"], err)
	}
	checkTime(t, ts, before, after)
	delete(got, "time")

	want := map[string]string{
		"level":       `"info"`,
		"msg":         `"sample log"`,
		"file":        `"logger_test.go:` + strconv.Itoa(wantLine) + `"`,
		"func":        `"github.com/loglet/loglet/applib.TestLogrusFile"`,
		"count":       `0`,
		"latency_ms":  `12.0`,
		"ratio":       `0.25`,
		"text_sample": `"fooooo"`,
		"ok":          `true`,
		"elapsed":     `1.5`,
		"err":         `"disk full"`,
		"nothing":     `null`,
		"fields.msg":  `"clash"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fields mismatch (-want +got):\n%s", diff)
	}
	wantKeys := []string{"time", "level", "msg", "file", "func", "count", "elapsed", "err", "fields.msg", "latency_ms", "nothing", "ok", "ratio", "text_sample"}
	if diff := cmp.Diff(wantKeys, keys); diff != "" {
		t.Errorf("key order mismatch (-want +got):\n%s", diff)
	}
}

// checkTime checks that ts is RFC 3339 in UTC with nine fractional digits
// and lies between before and after.
func checkTime(t *testing.T, ts string, before, after time.Time) {
	t.Helper()
	if len(ts) != len("2006-01-02T15:04:05.000000000Z") || !strings.HasSuffix(ts, "Z") {
		t.Errorf("time %q is not UTC with nine fractional digits", ts)
	}
	tm, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		t.Fatalf("time %q: %v", ts, err)
	}
	if tm.Before(before.Truncate(0)) || tm.After(after) {
		t.Errorf("time %s not between %s and %s", tm, before, after)
	}
}

// TestTimesAreUTC logs records stamped in a zone east of UTC, as the seed
// app did in JST, through both APIs.
func TestTimesAreUTC(t *testing.T) {
	var buf bytes.Buffer
	stamp := time.Date(2020, 3, 2, 18, 22, 24, 123456789, jst)
	New(&buf).WithTime(stamp).WithField("at", stamp).Info("m")
	h := NewHandler(&buf, nil)
	r := slog.NewRecord(stamp, slog.LevelInfo, "m", 0)
	r.AddAttrs(slog.Time("at", stamp))
	if err := h.Handle(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	for _, l := range splitLines(t, buf.Bytes()) {
		got, _ := rawFields(t, l)
		if diff := cmp.Diff(`"2020-03-02T09:22:24.123456789Z"`, got["time"]); diff != "" {
			t.Errorf("time mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(`"2020-03-02T09:22:24.123456789Z"`, got["at"]); diff != "" {
			t.Errorf("time field mismatch (-want +got):\n%s", diff)
		}
	}
}

// TestLevels checks the level names of both APIs.
func TestLevels(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf)
	log.SetLevel(logrus.TraceLevel)
	log.ExitFunc = func(int) {} // Fatal must not end the test
	log.Trace("m")
	log.Debug("m")
	log.Info("m")
	log.Warn("m")
	log.Error("m")
	log.Fatal("m")
	func() {
		defer func() { recover() }()
		log.Panic("m")
	}()
	sl := slog.New(NewHandler(&buf, slog.Level(-8)))
	sl.Log(t.Context(), slog.Level(-5), "m")
	sl.Debug("m")
	sl.Info("m")
	sl.Log(t.Context(), slog.LevelInfo+2, "m")
	sl.Warn("m")
	sl.Error("m")
	sl.Log(t.Context(), slog.LevelError+4, "m")

	var got []string
	for _, l := range splitLines(t, buf.Bytes()) {
		f, _ := rawFields(t, l)
		got = append(got, f["level"])
	}
	want := []string{`"trace"`, `"debug"`, `"info"`, `"warning"`, `"error"`, `"fatal"`, `"panic"`,
		`"trace"`, `"debug"`, `"info"`, `"info"`, `"warning"`, `"error"`, `"error"`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("levels mismatch (-want +got):\n%s", diff)
	}
}

// TestSlogLevelThreshold checks that NewHandler drops records below its level.
func TestSlogLevelThreshold(t *testing.T) {
	var buf bytes.Buffer
	sl := NewSlog(&buf)
	sl.Debug("dropped")
	sl.Info("kept")
	lines := splitLines(t, buf.Bytes())
	if len(lines) != 1 || !strings.Contains(lines[0], `"msg":"kept"`) {
		t.Errorf("got %q, want only the info record", lines)
	}
}

// TestSlogMatchesLogrus logs the same fields through both APIs into one file
// and checks that the records are the same but for the caller's line.
func TestSlogMatchesLogrus(t *testing.T) {
	dir := t.TempDir()
	out := openTemp(t, Config{Dir: dir, Pod: "web-1"})
	stamp := time.Date(2026, 11, 21, 19, 45, 0, 0, time.UTC)
	attrs := []slog.Attr{
		Int("count", 3), Float("latency_ms", 12.0), Duration("wait_ms", 1500*time.Microsecond),
		String("text_sample", "fooooo"), slog.Bool("ok", true), slog.Group("http", slog.Int("status", 200)),
		Float("ratio32", float32(0.1)), Int("big", uint64(1<<64-1)),
	}
	logrusLine := line(1)
	New(out).WithTime(stamp).WithFields(Fields(attrs...)).Warn("same")
	h := NewHandler(out, nil)
	var pcs [1]uintptr
	runtime.Callers(1, pcs[:])
	slogLine := line(-1)
	r := slog.NewRecord(stamp, slog.LevelWarn, "same", pcs[0])
	r.AddAttrs(attrs...)
	if err := h.Handle(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, filepath.Join(dir, "web-1.log"))
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2: %q", len(lines), lines)
	}
	want := `{"time":"2026-11-21T19:45:00.000000000Z","level":"warning","msg":"same","file":"logger_test.go:LINE",` +
		`"func":"github.com/loglet/loglet/applib.TestSlogMatchesLogrus","big":18446744073709551615,"count":3,` +
		`"http.status":200,"latency_ms":12.0,"ok":true,"ratio32":0.1,"text_sample":"fooooo","wait_ms":1.5}` + "\n"
	for i, l := range []int{logrusLine, slogLine} {
		w := strings.Replace(want, "LINE", strconv.Itoa(l), 1)
		if diff := cmp.Diff(w, lines[i]); diff != "" {
			t.Errorf("line %d mismatch (-want +got):\n%s", i+1, diff)
		}
	}
}

// TestSlogCaller checks the caller fields of a record logged through slog.Logger.
func TestSlogCaller(t *testing.T) {
	var buf bytes.Buffer
	sl := NewSlog(&buf)
	want := line(1)
	sl.Info("where")
	got, _ := rawFields(t, buf.String())
	if diff := cmp.Diff(`"logger_test.go:`+strconv.Itoa(want)+`"`, got["file"]); diff != "" {
		t.Errorf("file mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(`"github.com/loglet/loglet/applib.TestSlogCaller"`, got["func"]); diff != "" {
		t.Errorf("func mismatch (-want +got):\n%s", diff)
	}
}

// TestSlogWith checks WithAttrs and WithGroup, and that derived handlers do
// not change their parent.
func TestSlogWith(t *testing.T) {
	var buf bytes.Buffer
	base := NewSlog(&buf).With("service", "web")
	child := base.WithGroup("req").With("id", 7)
	child.Info("c", "status", 200, slog.Group("db", "ms", 1.5))
	base.Info("b", "n", 1)
	lines := splitLines(t, buf.Bytes())
	if len(lines) != 2 {
		t.Fatalf("got %d lines: %q", len(lines), lines)
	}
	var got []map[string]string
	for _, l := range lines {
		f, _ := rawFields(t, l)
		for _, k := range []string{"time", "file", "func", "level"} {
			delete(f, k)
		}
		got = append(got, f)
	}
	want := []map[string]string{
		{"msg": `"c"`, "service": `"web"`, "req.id": `7`, "req.status": `200`, "req.db.ms": `1.5`},
		{"msg": `"b"`, "service": `"web"`, "n": `1`},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}

// TestFields checks the Go values Fields hands to logrus.
func TestFields(t *testing.T) {
	got := Fields(
		Int("i", int8(-1)), Int("u", uint64(1<<64-1)), Float("f", 2.5), Float("f32", float32(0.5)),
		Duration("d_ms", 1500*time.Microsecond), String("s", "x"), slog.Duration("raw", time.Second),
		slog.Group("g", slog.Int("x", 1), slog.Group("", slog.Int("in", 2))), slog.Attr{},
		slog.Int("dup", 1), slog.Int("dup", 2),
	)
	want := logrus.Fields{
		"i": int64(-1), "u": uint64(1<<64 - 1), "f": 2.5, "f32": float32Value(0.5),
		"d_ms": 1.5, "s": "x", "raw": time.Second, "g.x": int64(1), "g.in": int64(2), "dup": int64(2),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Fields mismatch (-want +got):\n%s", diff)
	}
}

// TestNilWriter checks that a nil writer means stdout instead of a panic.
func TestNilWriter(t *testing.T) {
	if New(nil).Out != os.Stdout {
		t.Error("New(nil) does not write to os.Stdout")
	}
	if NewHandler(nil, nil).w != os.Stdout {
		t.Error("NewHandler(nil, nil) does not write to os.Stdout")
	}
}
