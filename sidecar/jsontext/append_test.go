package jsontext

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestAppendString(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "hello", `"hello"`},
		{"quotes and backslash", `a"b\c`, `"a\"b\\c"`},
		{"controls", "a\nb\tc\rd\x00e\x1f", `"a\nb\tc\rd\u0000e\u001f"`},
		{"utf8", "héllo 世界 🎉", `"héllo 世界 🎉"`},
		{"invalid utf8", "a\xffb\xc3", `"a` + "\ufffd" + `b` + "\ufffd" + `"`},
		{"surrogate encoded", "\xed\xa0\x80", `"` + "\ufffd\ufffd\ufffd" + `"`},
		{"overlong", "\xc0\xaf", `"` + "\ufffd\ufffd" + `"`},
		{"line separators", "a\u2028b\u2029", `"a\u2028b\u2029"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(AppendString(nil, tt.in))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("AppendString(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
			if got2 := string(AppendStringBytes(nil, []byte(tt.in))); got2 != got {
				t.Errorf("AppendStringBytes differs: %s vs %s", got2, got)
			}
		})
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a", "\xff", "\"\\", "\u2028", "日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendString(nil, s)
		if !json.Valid(out) {
			t.Fatalf("invalid JSON for %q: %s", s, out)
		}
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatal(err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("round trip: %q != %q", back, s)
		}
	})
}

func BenchmarkAppendString(b *testing.B) {
	s := []byte(`sample log line with "quotes" and some unicode 世界 in it`)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		buf = AppendStringBytes(buf[:0], s)
	}
}
