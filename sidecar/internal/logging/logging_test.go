package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// lines decodes the JSON lines in buf, without their time.
func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		delete(m, "time")
		out = append(out, m)
	}
	buf.Reset()
	return out
}

func newLogger(buf *bytes.Buffer, c *clock) *slog.Logger {
	h := slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: ReadableDurations})
	return slog.New(NewRateLimit(h, 30*time.Second, c.now))
}

func TestRateLimitDropsIdenticalRepeatsAndCountsThem(t *testing.T) {
	var buf bytes.Buffer
	c := &clock{t: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	log := newLogger(&buf, c)
	errDir := errors.New("open /var/log/app: no such file or directory")

	// An unreadable directory met at every poll, 4 times a second for 20 s.
	for range 80 {
		log.Error("scan log directory", "err", errDir)
		c.add(250 * time.Millisecond)
	}
	want := []map[string]any{{"level": "ERROR", "msg": "scan log directory", "err": errDir.Error()}}
	if diff := cmp.Diff(want, lines(t, &buf)); diff != "" {
		t.Errorf("within the window (-want +got):\n%s", diff)
	}

	// A different error, a different attribute value, a warning and info
	// records all pass.
	log.Error("scan log directory", "err", "permission denied")
	log.Warn("scan log directory", "err", errDir)
	log.Info("scan log directory", "err", errDir)
	log.Info("scan log directory", "err", errDir)
	if got := len(lines(t, &buf)); got != 4 {
		t.Errorf("%d records of other kinds passed, want 4", got)
	}

	// After the window: one passes, with the count of those dropped.
	c.add(10 * time.Second)
	log.Error("scan log directory", "err", errDir)
	log.Error("scan log directory", "err", errDir)
	want = []map[string]any{{"level": "ERROR", "msg": "scan log directory", "err": errDir.Error(), SuppressedKey: float64(79)}}
	if diff := cmp.Diff(want, lines(t, &buf)); diff != "" {
		t.Errorf("after the window (-want +got):\n%s", diff)
	}

	// Derived handlers share the state and their attributes are part of the
	// kind.
	c.add(time.Minute)
	withFile := log.With("file", "a.log")
	withFile.Error("read log file")
	log.With("file", "a.log").Error("read log file")
	log.With("file", "b.log").Error("read log file")
	log.WithGroup("g").Error("read log file", "file", "a.log")
	if got := len(lines(t, &buf)); got != 3 {
		t.Errorf("%d records passed, want 3 (a.log, b.log, the group)", got)
	}
}

func TestReadableDurations(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(&buf, &clock{})
	log.Warn("kafka unreachable", "for", 1500*time.Millisecond, "retry_in", 250*time.Millisecond,
		slog.Group("g", "d", 2*time.Minute), "n", 3)
	want := []map[string]any{{"level": "WARN", "msg": "kafka unreachable", "for": "1.5s", "retry_in": "250ms",
		"g": map[string]any{"d": "2m0s"}, "n": float64(3)}}
	if diff := cmp.Diff(want, lines(t, &buf)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestNew(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, slog.LevelInfo)
	log.Debug("hidden")
	for range 5 {
		log.Error("same", "after", time.Second)
	}
	want := []map[string]any{{"level": "ERROR", "msg": "same", "after": "1s"}}
	if diff := cmp.Diff(want, lines(t, &buf)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestRateLimitForgetsOldKinds(t *testing.T) {
	var buf bytes.Buffer
	c := &clock{}
	h := NewRateLimit(slog.NewJSONHandler(&buf, nil), time.Second, c.now)
	log := slog.New(h)
	for i := range 3 * maxKinds {
		log.Error("distinct", "i", i)
		c.add(time.Second)
	}
	if n := len(h.st.kinds); n > maxKinds {
		t.Errorf("%d kinds remembered, want at most %d", n, maxKinds)
	}
}
