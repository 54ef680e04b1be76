package parse

import (
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
			{"panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/app/main.go:10 +0x1d\nexit status 2", 0, 85, 6, false},
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
