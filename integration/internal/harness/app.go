package harness

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/sirupsen/logrus"
)

// App plays the application: it appends lines to a log file and remembers
// where each one starts.
//
// Concurrency: safe for concurrent use; each Write must hold whole lines.
type App struct {
	// Path is the log file's path.
	Path string

	mu    sync.Mutex
	f     *os.File
	off   int64
	lines []Line
}

// Line is a line the app wrote: its text without the newline, and the
// offset of its first byte.
type Line struct {
	Offset int64
	Text   string
}

// NewApp creates (or appends to) dir/name; the file is closed when the
// test ends.
func NewApp(t testing.TB, dir, name string) *App {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &App{Path: path, f: f, off: st.Size()}
}

// Write appends p, which must end with a newline, in one write.
func (a *App) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	n, err := a.f.Write(p)
	rest := p[:n]
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			i = len(rest) - 1 // an unfinished line; not expected
		}
		a.lines = append(a.lines, Line{a.off, string(bytes.TrimSuffix(rest[:i+1], []byte("\n")))})
		a.off += int64(i + 1)
		rest = rest[i+1:]
	}
	return n, err
}

// Print writes one line of text.
func (a *App) Print(text string) Line {
	a.Write([]byte(text + "\n"))
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lines[len(a.lines)-1]
}

// Lines returns the lines written so far.
func (a *App) Lines() []Line {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Line(nil), a.lines...)
}

// Logrus returns a logrus logger writing to the file: JSON lines
// (JSONFormatter) when json is true, else logfmt (TextFormatter).
func (a *App) Logrus(json bool) *logrus.Logger {
	l := logrus.New()
	l.Out = a
	l.Level = logrus.DebugLevel
	if json {
		l.Formatter = &logrus.JSONFormatter{TimestampFormat: "2006-01-02T15:04:05.000000000Z07:00"}
	} else {
		l.Formatter = &logrus.TextFormatter{DisableColors: true, FullTimestamp: true, TimestampFormat: "2006-01-02T15:04:05.000000000Z07:00"}
	}
	return l
}
