package parse

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type joined struct {
	Text       string
	Start, End int64
	Lines      int
	Truncated  bool
}

func joinAll(j *Joiner, input string) []joined {
	var out []joined
	emit := func(text []byte, start, end int64, lines int, truncated bool) {
		out = append(out, joined{string(text), start, end, lines, truncated})
	}
	var off int64
	for _, line := range strings.SplitAfter(input, "\n") {
		if line == "" {
			continue
		}
		j.Add([]byte(strings.TrimSuffix(line, "\n")), off, off+int64(len(line)), false, emit)
		off += int64(len(line))
	}
	j.Flush(emit)
	return out
}

func TestJoiner(t *testing.T) {
	tests := []struct {
		name, in string
		max      int
		want     []joined
	}{
		{"json lines stay single", "{\"a\":1}\n{\"b\":2}\n", 0, []joined{
			{`{"a":1}`, 0, 8, 1, false}, {`{"b":2}`, 8, 16, 1, false}}},
		{"java stack trace", "Exception in thread \"main\" java.lang.IllegalStateException: x\n\tat a.B.c(B.java:1)\n\tat a.B.main(B.java:2)\nCaused by: java.io.IOException: y\n\t... 2 more\n{\"next\":1}\n", 0, []joined{
			{"Exception in thread \"main\" java.lang.IllegalStateException: x\n\tat a.B.c(B.java:1)\n\tat a.B.main(B.java:2)\nCaused by: java.io.IOException: y\n\t... 2 more", 0, 151, 5, false},
			{`{"next":1}`, 151, 162, 1, false}}},
		{"go panic", "panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/app/main.go:10 +0x1d\nexit status 2\n{\"restarted\":true}\n", 0, []joined{
			{"panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/app/main.go:10 +0x1d", 0, 71, 5, false},
			{"exit status 2", 71, 85, 1, false},
			{`{"restarted":true}`, 85, 104, 1, false}}},
		{"plain lines without continuation", "one\ntwo\n", 0, []joined{
			{"one", 0, 4, 1, false}, {"two", 4, 8, 1, false}}},
		{"blank lines consumed", "one\n\n{\"a\":1}\n", 0, []joined{
			{"one", 0, 4, 1, false}, {"", 4, 5, 0, false}, {`{"a":1}`, 5, 13, 1, false}}},
		{"indented after json starts a new record", "{\"a\":1}\n  indented\n", 0, []joined{
			{`{"a":1}`, 0, 8, 1, false}, {"  indented", 8, 19, 1, false}}},
		{"cap splits a long trace", "head\n  aaaa\n  bbbb\n", 12, []joined{
			{"head\n  aaaa", 0, 12, 2, false}, {"  bbbb", 12, 19, 1, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := joinAll(&Joiner{MaxBytes: tt.max}, tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestJoinerPending(t *testing.T) {
	var j Joiner
	var n int
	emit := func([]byte, int64, int64, int, bool) { n++ }
	j.Add([]byte("plain"), 10, 16, false, emit)
	if start, ok := j.Pending(); !ok || start != 10 || n != 0 {
		t.Fatalf("Pending = %d, %v; emitted %d", start, ok, n)
	}
	j.Flush(emit)
	if _, ok := j.Pending(); ok || n != 1 {
		t.Fatalf("after Flush: pending %v, emitted %d", ok, n)
	}
}

// TestMultilineGolden joins each testdata/multiline/*.txt (real traces, one
// file per runtime) with the default rules, parses every record and
// compares them with the matching .golden file (go test -update rewrites
// them; review the diff): one record per trace, with the header's time and
// level, and the lines around it records of their own.
func TestMultilineGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/multiline/*.txt")
	if err != nil || len(inputs) < 5 {
		t.Fatalf("multiline inputs: %v %v", inputs, err)
	}
	for _, path := range inputs {
		name := strings.TrimSuffix(filepath.Base(path), ".txt")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			p := NewParser(Options{})
			var out []byte
			for _, r := range joinAll(&Joiner{}, string(data)) {
				if r.Lines == 0 {
					continue
				}
				in := Input{Text: []byte(r.Text), Lines: r.Lines, File: "app.log", Offset: r.Start, ReadTime: readTime}
				n := len(out)
				out, _ = p.Append(out, &in, nil)
				if !json.Valid(out[n:]) {
					t.Errorf("invalid JSON record: %s", out[n:])
				}
				out = append(out, '\n')
			}
			golden := strings.TrimSuffix(path, ".txt") + ".golden"
			if *update {
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(out)); diff != "" {
				t.Errorf("records differ from %s (-want +got):\n%s", golden, diff)
			}
		})
	}
}

func TestJoinerUserRule(t *testing.T) {
	m, err := NewMultiline("none", `^\[\d{4}-\d\d-\d\d`, `^(\s|#)`)
	if err != nil {
		t.Fatal(err)
	}
	in := "[2020-03-02 10:00:00] start\n# detail one\n  detail two\n[2020-03-02 10:00:01] next\nplain\n"
	want := []joined{
		{"[2020-03-02 10:00:00] start\n# detail one\n  detail two", 0, 54, 3, false},
		{"[2020-03-02 10:00:01] next", 54, 81, 1, false},
		{"plain", 81, 87, 1, false},
	}
	if diff := cmp.Diff(want, joinAll(&Joiner{Rules: m}, in)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// With the built-ins off, a Python traceback's exception line stays apart.
	py := "Traceback (most recent call last):\n  File \"a.py\", line 1\nValueError: x\n"
	if got := joinAll(&Joiner{Rules: m}, py); len(got) != 2 {
		t.Errorf("built-ins off: %d records, want 2: %+v", len(got), got)
	}
}

func TestNewMultilineErrors(t *testing.T) {
	for _, tt := range []struct{ builtins, start, cont string }{
		{"java,cobol", "", ""}, {"all", "^a", ""}, {"all", "", "^b"}, {"all", "(", "x"}, {"all", "x", "[z"},
	} {
		if _, err := NewMultiline(tt.builtins, tt.start, tt.cont); !errors.Is(err, ErrMultiline) {
			t.Errorf("NewMultiline(%q, %q, %q) = %v, want ErrMultiline", tt.builtins, tt.start, tt.cont, err)
		}
	}
}

// FuzzJoiner checks that no input panics the Joiner, that the emitted ranges
// cover the input exactly, in order, and that each record's text is its
// lines as written.
func FuzzJoiner(f *testing.F) {
	inputs, _ := filepath.Glob("testdata/multiline/*.txt")
	for _, path := range inputs {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data), 0, false)
	}
	f.Add("panic: x\n\n\ngoroutine 1 [running]:\nmain.main()\n\n", 0, true)
	f.Add("a\n  b\n  c\n", 6, true)
	user, err := NewMultiline("all", `^\[`, `^\s`)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, input string, max int, withUser bool) {
		if max < 0 || max > 1<<20 {
			max = 0
		}
		j := &Joiner{MaxBytes: max}
		if withUser {
			j.Rules = user
		}
		var off int64
		emit := func(text []byte, start, end int64, lines int, truncated bool) {
			if start != off || end <= start || end > int64(len(input)) {
				t.Fatalf("range [%d,%d) after %d (input %d bytes)", start, end, off, len(input))
			}
			if lines > 0 {
				if want := strings.TrimSuffix(input[start:end], "\n"); string(text) != want {
					t.Fatalf("text %q, want %q", text, want)
				}
				if n := strings.Count(string(text), "\n") + 1; n != lines {
					t.Fatalf("lines %d, text has %d", lines, n)
				}
			}
			off = end
		}
		var pos int64
		for _, line := range strings.SplitAfter(input, "\n") {
			if line == "" {
				continue
			}
			j.Add([]byte(strings.TrimSuffix(line, "\n")), pos, pos+int64(len(line)), false, emit)
			pos += int64(len(line))
		}
		j.Flush(emit)
		if off != int64(len(input)) {
			t.Fatalf("covered %d of %d bytes", off, len(input))
		}
	})
}

func TestJoinerTraceEnds(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"a second crash is a record of its own",
			"panic: one\n\ngoroutine 1 [running]:\nmain.main()\n\t/a.go:1 +0x1\npanic: two\n\ngoroutine 1 [running]:\n",
			[]string{"panic: one\n\ngoroutine 1 [running]:\nmain.main()\n\t/a.go:1 +0x1", "panic: two\n\ngoroutine 1 [running]:"}},
		{"a nested panic is indented and joins", "panic: a [recovered]\n\tpanic: b\n\ngoroutine 1 [running]:\nmain.main()\nnext\n",
			[]string{"panic: a [recovered]\n\tpanic: b\n\ngoroutine 1 [running]:\nmain.main()", "next"}},
		{"blank lines after a dump are not part of it", "panic: x\n\ngoroutine 1 [running]:\nmain.main()\n\n\nplain\n",
			[]string{"panic: x\n\ngoroutine 1 [running]:\nmain.main()", "", "plain"}},
		{"an indented note after a Python exception line",
			"Traceback (most recent call last):\n  File \"a.py\", line 1\nValueError: x\n  note\nnext\n",
			[]string{"Traceback (most recent call last):\n  File \"a.py\", line 1\nValueError: x\n  note", "next"}},
		{"a python traceback ends at its exception line",
			"Traceback (most recent call last):\n  File \"a.py\", line 1\nKeyError: 'k'\nKeyError: 'k' again\n",
			[]string{"Traceback (most recent call last):\n  File \"a.py\", line 1\nKeyError: 'k'", "KeyError: 'k' again"}},
		{"an exception line without a header is not joined", "starting\njava.lang.IllegalStateException: x\n",
			[]string{"starting", "java.lang.IllegalStateException: x"}},
		{"only the line right after the header", "2020-03-02 18:22:24 ERROR x\nsecond\njava.lang.IllegalStateException: y\n",
			[]string{"2020-03-02 18:22:24 ERROR x", "second", "java.lang.IllegalStateException: y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, r := range joinAll(&Joiner{}, tt.in) {
				got = append(got, r.Text)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestJoinerCapWithHeldBlanks: held blank lines count toward MaxBytes, and
// none is lost when the cap splits the trace.
func TestJoinerCapWithHeldBlanks(t *testing.T) {
	in := "panic: x\n\n\n\ngoroutine 1 [running]:\n"
	got := joinAll(&Joiner{MaxBytes: 14}, in)
	var off int64
	for _, r := range got {
		if r.Start != off {
			t.Fatalf("gap at %d: %+v", off, got)
		}
		off = r.End
	}
	if off != int64(len(in)) || got[len(got)-1].Text != "goroutine 1 [running]:" {
		t.Fatalf("%+v", got)
	}
}
