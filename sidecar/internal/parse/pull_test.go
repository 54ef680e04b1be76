package parse

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestJoinerPull feeds lines one Push at a time and checks what Next
// returns after each, and after Release: the records a line finishes come
// out right after it, in file order, and a released record's text is intact
// although the line that released it was stored behind it.
func TestJoinerPull(t *testing.T) {
	type push struct {
		line    string // "" with release set: Release instead of Push
		release bool
		want    []joined // what Next returns, until it reports false
	}
	tests := []struct {
		name  string
		steps []push
	}{
		{
			name: "a continued record comes out when the next one starts",
			steps: []push{
				{line: "plain a"},
				{line: "  continued"},
				{line: "plain b", want: []joined{{"plain a\n  continued", 0, 20, 2, false}}},
				{release: true, want: []joined{{"plain b", 20, 28, 1, false}}},
				{release: true},
			},
		},
		{
			name: "held record, held blanks and a JSON line from one push",
			steps: []push{
				{line: "panic: boom"},
				{line: ""},
				{line: `{"msg":"x"}`, want: []joined{
					{"panic: boom", 0, 12, 1, false},
					{"", 12, 13, 0, false},
					{`{"msg":"x"}`, 13, 25, 1, false},
				}},
			},
		},
		{
			name: "a blank line alone is consumed without a record",
			steps: []push{
				{line: "", want: []joined{{"", 0, 1, 0, false}}},
				{line: "x"},
				{release: true, want: []joined{{"x", 1, 3, 1, false}}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var j Joiner
			var off int64
			for i, s := range tt.steps {
				if s.release {
					j.Release()
				} else {
					end := off + int64(len(s.line)) + 1
					j.Push([]byte(s.line), off, end, false)
					off = end
				}
				var got []joined
				for r := j.Next(); r != nil; r = j.Next() {
					got = append(got, joined{string(r.Text), r.Start, r.End, r.Lines, r.Truncated})
				}
				if diff := cmp.Diff(s.want, got); diff != "" {
					t.Fatalf("step %d (-want +got):\n%s", i, diff)
				}
			}
		})
	}
}

// TestJoinerPushWithoutTaking: records not taken before the next Push are
// kept, in order, however many there are (past the joiner's small queue).
func TestJoinerPushWithoutTaking(t *testing.T) {
	var j Joiner
	var want []joined
	var off int64
	for i := range 7 {
		line := `{"n":` + string(rune('0'+i)) + `}`
		end := off + int64(len(line)) + 1
		j.Push([]byte(line), off, end, false)
		want = append(want, joined{line, off, end, 1, false})
		off = end
	}
	var got []joined
	for r := j.Next(); r != nil; r = j.Next() {
		got = append(got, joined{string(r.Text), r.Start, r.End, r.Lines, r.Truncated})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if j.Next() != nil {
		t.Fatal("Next after the last record is not nil")
	}
	j.Push([]byte("{}"), off, off+3, false)
	if r := j.Next(); r == nil || string(r.Text) != "{}" {
		t.Fatalf("after the queue emptied: %+v", r)
	}
}
