package applib

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type ratio float64
type count uint16
type label string

type nilErr struct{ msg string }

func (e *nilErr) Error() string { return e.msg } // panics on a nil *nilErr

type marshaler struct{}

func (marshaler) MarshalJSON() ([]byte, error) { return []byte(`{"custom":true}`), nil }

type failingMarshaler struct{}

func (failingMarshaler) MarshalJSON() ([]byte, error) { return nil, errors.New("boom") }

type text struct{}

func (text) MarshalText() ([]byte, error) { return []byte("as text"), nil }

var jst = time.FixedZone("JST", 9*60*60)

// TestAppendAny pins the JSON text of every kind of field value: the text
// decides the type a search index gives the field.
func TestAppendAny(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"nil", nil, `null`},
		{"string", "fooooo", `"fooooo"`},
		{"string escapes", "a\"b\\c\nd\te\x00\x1f<>&", `"a\"b\\c\nd\te\u0000\u001f<>&"`},
		{"string utf8", "héllo 世界", `"héllo 世界"`},
		{"string invalid utf8", "a\xffb\xc3", `"a` + "\ufffd" + `b` + "\ufffd" + `"`},
		{"string line separators", "a\u2028b\u2029", `"a\u2028b\u2029"`},
		{"bool", true, `true`},
		{"int", 42, `42`},
		{"negative int64", int64(-7), `-7`},
		{"int8", int8(-8), `-8`},
		{"int32", int32(32), `32`},
		{"uint64 max", uint64(math.MaxUint64), `18446744073709551615`},
		{"uint", uint(3), `3`},
		{"named int", count(9), `9`},
		{"float whole", 2.0, `2.0`},
		{"float zero", 0.0, `0.0`},
		{"float negative whole", -3.0, `-3.0`},
		{"float fraction", 12.5, `12.5`},
		{"float small", 1e-7, `1e-7`},
		{"float large", 1e21, `1e+21`},
		{"float just below exponent", 1e20, `100000000000000000000.0`},
		{"float32", float32(0.1), `0.1`},
		{"float32 whole", float32(4), `4.0`},
		{"named float", ratio(2), `2.0`},
		{"NaN", math.NaN(), `null`},
		{"+Inf", math.Inf(1), `null`},
		{"-Inf", math.Inf(-1), `null`},
		{"duration ms", 2 * time.Millisecond, `2.0`},
		{"duration fraction", 1500 * time.Microsecond, `1.5`},
		{"duration seconds", 3 * time.Second, `3000.0`},
		{"time in JST", time.Date(2020, 3, 2, 18, 22, 24, 5, jst), `"2020-03-02T09:22:24.000000005Z"`},
		{"error", errors.New("disk full"), `"disk full"`},
		{"wrapped error", fmt.Errorf("write: %w", errors.New("disk full")), `"write: disk full"`},
		{"error panicking", (*nilErr)(nil), `"!PANIC: *applib.nilErr: runtime error: invalid memory address or nil pointer dereference"`},
		{"named string", label("x"), `"x"`},
		{"json marshaler", marshaler{}, `{"custom":true}`},
		{"failing marshaler", failingMarshaler{}, `"!ERROR: json: error calling MarshalJSON for type applib.failingMarshaler: boom"`},
		{"text marshaler", text{}, `"as text"`},
		{"map", map[string]int{"b": 2, "a": 1}, `{"a":1,"b":2}`},
		{"slice", []string{"x", "y"}, `["x","y"]`},
		{"bytes", []byte("hi"), `"aGk="`},
		{"struct", struct{ A int }{1}, `{"A":1}`},
		{"unsupported", make(chan int), `"!ERROR: json: unsupported type: chan int"`},
		{"slog value", slog.IntValue(5), `5`},
		{"slog duration value", slog.DurationValue(time.Millisecond), `1.0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(appendAny([]byte("prefix:"), tt.in))
			if diff := cmp.Diff("prefix:"+tt.want, got); diff != "" {
				t.Errorf("appendAny(%#v) mismatch (-want +got):\n%s", tt.in, diff)
			}
			if !json.Valid([]byte(got[len("prefix:"):])) {
				t.Errorf("appendAny(%#v) = %s, not valid JSON", tt.in, got)
			}
		})
	}
}

// TestAppendSlogValue checks that slog kinds encode as the Go values do.
func TestAppendSlogValue(t *testing.T) {
	tests := []struct {
		in   slog.Value
		want string
	}{
		{slog.StringValue("s"), `"s"`},
		{slog.Int64Value(-1), `-1`},
		{slog.Uint64Value(math.MaxUint64), `18446744073709551615`},
		{slog.Float64Value(2), `2.0`},
		{slog.BoolValue(false), `false`},
		{slog.DurationValue(1500 * time.Microsecond), `1.5`},
		{slog.TimeValue(time.Date(2020, 3, 2, 18, 22, 24, 0, jst)), `"2020-03-02T09:22:24.000000000Z"`},
		{slog.AnyValue(errors.New("e")), `"e"`},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, string(appendSlogValue(nil, tt.in))); diff != "" {
			t.Errorf("appendSlogValue(%v) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestAppendRecord(t *testing.T) {
	e := getEncoder()
	defer putEncoder(e)
	e.addAny("zeta", 1)
	e.addAny("alpha", "a")
	e.addAny("msg", "clash")
	e.addAttr("", slog.Int("dup", 1))
	e.addAttr("", slog.Group("g", slog.Int("x", 1), slog.Group("", slog.Int("inline", 2)), slog.Group("empty")))
	e.addAttr("", slog.Attr{})
	e.addAttr("", slog.Int("dup", 2))
	got := string(e.appendRecord(nil, time.Date(2020, 3, 2, 18, 22, 24, 0, jst), "info", "sample log", "main.go", 16, "main.main"))
	want := `{"time":"2020-03-02T09:22:24.000000000Z","level":"info","msg":"sample log","file":"main.go:16","func":"main.main",` +
		`"alpha":"a","dup":2,"fields.msg":"clash","g.inline":2,"g.x":1,"zeta":1}` + "\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("appendRecord mismatch (-want +got):\n%s", diff)
	}

	e2 := getEncoder()
	defer putEncoder(e2)
	got = string(e2.appendRecord(nil, time.Time{}, "info", "", "", 0, ""))
	if diff := cmp.Diff(`{"level":"info","msg":""}`+"\n", got); diff != "" {
		t.Errorf("appendRecord without time and caller mismatch (-want +got):\n%s", diff)
	}
}

// FuzzRecord checks that any message, key and value give one line of valid
// JSON that reads back to what was logged.
func FuzzRecord(f *testing.F) {
	for _, s := range []string{"", "a", "\xff", "\"\\", "\u2028", "日本", "\n", "msg", "time"} {
		f.Add(s, s, s)
	}
	f.Fuzz(func(t *testing.T, msg, key, val string) {
		e := getEncoder()
		defer putEncoder(e)
		e.addAny(key, val)
		line := e.appendRecord(nil, time.Unix(0, 0), "info", msg, "x.go", 1, "f")
		if len(line) == 0 || line[len(line)-1] != '\n' || bytes.Count(line, []byte{'\n'}) != 1 {
			t.Fatalf("not one line: %q", line)
		}
		var got map[string]any
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatalf("invalid JSON %q: %v", line, err)
		}
		wantKey := key
		if isReserved(key) {
			wantKey = clashPrefix + key
		}
		wantKey = toValidUTF8(wantKey)
		if got["msg"] != toValidUTF8(msg) {
			t.Errorf("msg = %q, want %q", got["msg"], toValidUTF8(msg))
		}
		if got[wantKey] != toValidUTF8(val) {
			t.Errorf("field %q = %q, want %q", wantKey, got[wantKey], toValidUTF8(val))
		}
	})
}

// toValidUTF8 replaces each invalid byte by U+FFFD, as appendEscaped does.
func toValidUTF8(s string) string {
	var out []rune
	for _, r := range s { // yields U+FFFD for each invalid byte
		out = append(out, r)
	}
	return string(out)
}
