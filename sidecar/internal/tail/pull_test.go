package tail

import (
	"io"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// step is one call of the pull interface and what it must return.
type step struct {
	call  string // "fill", "next", "flush", or "write" (appends arg to the file)
	arg   string
	n     int    // fill: bytes read
	eof   bool   // fill: io.EOF
	ok    bool   // next, flush: a line returned
	line  line   // next, flush: the line
	reset *int64 // reset: the offset
}

func TestReaderPull(t *testing.T) {
	tests := []struct {
		name     string
		readSize int
		maxLine  int
		steps    []step
	}{
		{
			name: "lines of one fill, one at a time",
			steps: []step{
				{call: "write", arg: "a\nbb\nc"},
				{call: "fill", n: 6},
				{call: "next", ok: true, line: line{"a", 0, 2, false}},
				{call: "next", ok: true, line: line{"bb", 2, 5, false}},
				{call: "next"}, // "c" is held back
				{call: "fill", eof: true},
				{call: "write", arg: "d\n"},
				{call: "fill", n: 2},
				{call: "next", ok: true, line: line{"cd", 5, 8, false}},
				{call: "next"},
				{call: "flush"},
			},
		},
		{
			name:     "fill with lines still to take reads nothing",
			readSize: 4,
			steps: []step{
				{call: "write", arg: "x\ny\nzzzz\n"},
				{call: "fill", n: 4},
				{call: "next", ok: true, line: line{"x", 0, 2, false}},
				{call: "fill", n: 0},
				{call: "flush"}, // "y" is not held back yet: it is still to take
				{call: "next", ok: true, line: line{"y", 2, 4, false}},
				{call: "next"},
				{call: "fill", n: 4},
				{call: "next"},
				{call: "fill", n: 1},
				{call: "next", ok: true, line: line{"zzzz", 4, 9, false}},
			},
		},
		{
			name:    "a long line is cut across fills, a partial one flushed",
			maxLine: 3, readSize: 4,
			steps: []step{
				{call: "write", arg: "abcdefg\nhijkl"},
				{call: "fill", n: 4},
				{call: "next"},
				{call: "fill", n: 4},
				{call: "next", ok: true, line: line{"abc", 0, 8, true}},
				{call: "next"},
				{call: "fill", n: 4},
				{call: "next"},
				{call: "fill", n: 1},
				{call: "next"},
				{call: "fill", eof: true},
				{call: "flush", ok: true, line: line{"hij", 8, 13, true}},
				{call: "flush"},
			},
		},
		{
			name: "reset drops the lines not taken",
			steps: []step{
				{call: "write", arg: "one\ntwo\n"},
				{call: "fill", n: 8},
				{call: "next", ok: true, line: line{"one", 0, 4, false}},
				{call: "reset", reset: new(int64(4))},
				{call: "next"},
				{call: "fill", n: 4},
				{call: "next", ok: true, line: line{"two", 4, 8, false}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "app.log")
			appendFile(t, path, "")
			r := openReader(t, path)
			r.ReadSize, r.MaxLine = tt.readSize, tt.maxLine
			for i, s := range tt.steps {
				switch s.call {
				case "write":
					appendFile(t, path, s.arg)
				case "reset":
					r.Reset(*s.reset)
				case "fill":
					n, err := r.Fill()
					if n != s.n || (err == io.EOF) != s.eof || err != nil && err != io.EOF {
						t.Fatalf("step %d: Fill = %d, %v; want %d, eof %v", i, n, err, s.n, s.eof)
					}
				case "next", "flush":
					var l *Line
					if s.call == "next" {
						l = r.Next()
					} else {
						l = r.Flush()
					}
					ok := l != nil
					var got line
					if ok {
						got = line{string(l.Text), l.Start, l.End, l.Truncated}
					}
					if ok != s.ok || ok && got != s.line {
						t.Fatalf("step %d: %s = %+v, %v; want %+v, %v", i, s.call, got, ok, s.line, s.ok)
					}
				}
			}
		})
	}
}

// TestReaderNextTextValidUntilNextCall: a joined line's text (kept in the
// Reader's carry) stays intact until the next call, even when that call
// starts holding a new partial line.
func TestReaderNextTextValidUntilNextCall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	appendFile(t, path, "abc")
	r := openReader(t, path)
	if _, err := r.Fill(); err != nil {
		t.Fatal(err)
	}
	r.Next()
	appendFile(t, path, "d\nxyz")
	if _, err := r.Fill(); err != nil {
		t.Fatal(err)
	}
	l := r.Next()
	if l == nil {
		t.Fatal("no line")
	}
	if diff := cmp.Diff("abcd", string(l.Text)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}
