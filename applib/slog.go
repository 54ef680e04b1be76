package applib

import (
	"context"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sync"
)

// NewSlog returns a slog logger writing through NewHandler(w, nil).
func NewSlog(w io.Writer) *slog.Logger {
	return slog.New(NewHandler(w, nil))
}

// NewHandler returns a slog.Handler that writes each record to w as one JSON
// line with the same shape as New's logger: the same keys, level names and
// value encoding, so both APIs can share one Output. w is usually an
// *Output; nil means os.Stdout. level is the minimum level written; nil
// means slog.LevelInfo.
func NewHandler(w io.Writer, level slog.Leveler) *Handler {
	if w == nil {
		w = os.Stdout
	}
	if level == nil {
		level = slog.LevelInfo
	}
	h := &Handler{w: w, level: level}
	if _, ok := w.(*Output); !ok {
		h.mu = new(sync.Mutex) // an Output serializes writes itself
	}
	return h
}

// Handler is applib's slog.Handler; see NewHandler.
//
// Levels are written with logrus' names: below Debug "trace", then "debug",
// "info", "warning" (from slog.LevelWarn) and "error" (slog.LevelError and
// above). Attributes in groups become dotted keys ("http.status"), so every
// field stays at the top level as logrus fields do; of attributes with the
// same key, the last wins. The source is written as "file" (base name:line)
// and "func".
//
// A Handler is safe for concurrent use; handlers derived with WithAttrs and
// WithGroup share the parent's writer and lock.
type Handler struct {
	w     io.Writer
	mu    *sync.Mutex // guards writes to w unless w is an *Output
	level slog.Leveler

	prefix string  // group prefix: "" or "g1.g2."
	pre    []byte  // fields from WithAttrs, encoded as in encoder.scratch
	preF   []field // their positions in pre
}

// Enabled reports whether level is at or above the handler's level.
func (h *Handler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= h.level.Level()
}

// Handle writes r as one JSON line with a single Write.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	e := getEncoder()
	defer putEncoder(e)
	e.scratch = append(e.scratch, h.pre...)
	e.fields = append(e.fields, h.preF...)
	r.Attrs(func(a slog.Attr) bool {
		e.addAttr(h.prefix, a)
		return true
	})
	var file, fn string
	var line int
	if r.PC != 0 {
		f, _ := runtime.CallersFrames([]uintptr{r.PC}).Next()
		file, line, fn = baseName(f.File), f.Line, f.Function
	}
	buf := bufPool.Get().(*[]byte)
	defer putBuf(buf)
	*buf = e.appendRecord((*buf)[:0], r.Time, slogLevelName(r.Level), r.Message, file, line, fn)
	if h.mu != nil {
		h.mu.Lock()
		defer h.mu.Unlock()
	}
	_, err := h.w.Write(*buf)
	return err
}

// WithAttrs returns a handler that adds attrs to every record.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := *h
	e := &encoder{scratch: append([]byte(nil), h.pre...), fields: append([]field(nil), h.preF...)}
	for _, a := range attrs {
		e.addAttr(h.prefix, a)
	}
	h2.pre, h2.preF = e.scratch, e.fields
	return &h2
}

// WithGroup returns a handler that puts name and a dot before the keys of
// the attributes added later.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.prefix = h.prefix + name + "."
	return &h2
}

func slogLevelName(l slog.Level) string {
	switch {
	case l < slog.LevelDebug:
		return "trace"
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warning"
	default:
		return "error"
	}
}

// bufPool holds the line buffers of Handle.
var bufPool = sync.Pool{New: func() any { return new([]byte) }}

func putBuf(b *[]byte) {
	if cap(*b) <= maxPooledBytes {
		bufPool.Put(b)
	}
}
