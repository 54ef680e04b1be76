// Package logging builds the sidecar's own logger: JSON on stderr, durations
// as readable strings, and repeated identical warnings and errors
// rate-limited.
//
// A problem that persists (a log directory that vanished, a broker that is
// down) is met again at every poll; logging it each time, several times a
// second, buries everything else and costs the node's log pipeline more
// than the sidecar's own work. [RateLimit] lets the first record of a kind
// through, drops its identical repeats for a window, and then lets one
// through again carrying the count of those it dropped, as Vector's
// internal_logs rate limiting does.
package logging

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// DefaultWindow is how long identical warnings and errors are held back
// after one is logged.
const DefaultWindow = 30 * time.Second

// SuppressedKey is the attribute a record gets when identical records were
// dropped before it: how many.
const SuppressedKey = "suppressed"

// New returns the sidecar's logger: JSON lines on w at level and above,
// durations as strings such as "1.5s", and identical warnings and errors
// rate-limited to one per DefaultWindow.
func New(w io.Writer, level slog.Leveler) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: ReadableDurations})
	return slog.New(NewRateLimit(h, DefaultWindow, time.Now))
}

// ReadableDurations is a slog ReplaceAttr function that writes a duration
// as its String form ("1.5s", "250ms") instead of integer nanoseconds.
func ReadableDurations(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

// maxKinds bounds the remembered kinds of record; beyond it, the kinds
// whose window has passed are forgotten.
const maxKinds = 1024

// RateLimit is a slog.Handler that passes records to another handler, except
// that a warning or error identical to one passed less than a window ago
// (same level, message, attributes and groups, the time aside) is dropped
// and counted. The next identical record after the window is passed with
// the attribute SuppressedKey giving the count. Records below warning level
// always pass. Handlers derived with WithAttrs and WithGroup share the
// state.
//
// Concurrency: safe for concurrent use, as slog requires.
type RateLimit struct {
	next   slog.Handler
	window time.Duration
	now    func() time.Time
	prefix string // the WithAttrs and WithGroup calls, rendered, for the key
	st     *limitState
}

type limitState struct {
	mu    sync.Mutex
	kinds map[string]*kind
}

type kind struct {
	passed     time.Time // when one was last passed
	suppressed int       // dropped since
}

// NewRateLimit wraps next; window is how long identical records are held
// back, now the clock (time.Now).
func NewRateLimit(next slog.Handler, window time.Duration, now func() time.Time) *RateLimit {
	return &RateLimit{next: next, window: window, now: now, st: &limitState{kinds: map[string]*kind{}}}
}

// Enabled reports whether the wrapped handler handles level.
func (h *RateLimit) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle passes r on unless it is a repeat within the window.
func (h *RateLimit) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return h.next.Handle(ctx, r)
	}
	key := h.key(r)
	now := h.now()
	h.st.mu.Lock()
	k := h.st.kinds[key]
	if k != nil && now.Sub(k.passed) < h.window {
		k.suppressed++
		h.st.mu.Unlock()
		return nil
	}
	if k == nil {
		h.st.forget(now, h.window)
		k = &kind{}
		h.st.kinds[key] = k
	}
	suppressed := k.suppressed
	k.suppressed, k.passed = 0, now
	h.st.mu.Unlock()
	if suppressed > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int(SuppressedKey, suppressed))
	}
	return h.next.Handle(ctx, r)
}

// forget drops the kinds whose window has passed when there are too many.
// The caller holds mu.
func (st *limitState) forget(now time.Time, window time.Duration) {
	if len(st.kinds) < maxKinds {
		return
	}
	for key, k := range st.kinds {
		if now.Sub(k.passed) >= window {
			delete(st.kinds, key)
		}
	}
}

// WithAttrs returns a handler whose records carry attrs.
func (h *RateLimit) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(attrs)
	var sb strings.Builder
	sb.WriteString(h.prefix)
	for _, a := range attrs {
		writeAttr(&sb, a)
	}
	c.prefix = sb.String()
	return &c
}

// WithGroup returns a handler whose later attributes are in group name.
func (h *RateLimit) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	c.prefix = h.prefix + "\x00group:" + name
	return &c
}

// key identifies a record's kind: everything but its time and source.
func (h *RateLimit) key(r slog.Record) string {
	var sb strings.Builder
	sb.WriteString(r.Level.String())
	sb.WriteByte(0)
	sb.WriteString(r.Message)
	sb.WriteString(h.prefix)
	sb.WriteByte(0)
	r.Attrs(func(a slog.Attr) bool {
		writeAttr(&sb, a)
		return true
	})
	return sb.String()
}

func writeAttr(sb *strings.Builder, a slog.Attr) {
	sb.WriteByte(0)
	sb.WriteString(a.Key)
	sb.WriteByte('=')
	v := a.Value.Resolve()
	if v.Kind() != slog.KindGroup {
		sb.WriteString(v.String())
		return
	}
	sb.WriteByte('{')
	for _, g := range v.Group() {
		writeAttr(sb, g)
	}
	sb.WriteByte('}')
}
