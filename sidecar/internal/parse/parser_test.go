package parse

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

var (
	readTime = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	testPod  = []byte(`{"pod_name":"web-1","namespace_name":"shop"}`)
)

// parseLines runs every line of data through a Parser as its own record and
// returns the records, one per line.
func parseLines(t *testing.T, p *Parser, data []byte) []byte {
	t.Helper()
	var out []byte
	var off int64
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		text := bytes.TrimSuffix(line, []byte("\n"))
		in := Input{Text: text, Lines: 1, File: "app.log", Offset: off, ReadTime: readTime}
		n := len(out)
		out, _ = p.Append(out, &in, testPod)
		if !json.Valid(out[n:]) {
			t.Errorf("invalid JSON record for %q: %s", text, out[n:])
		}
		out = append(out, '\n')
		off += int64(len(line))
	}
	return out
}

// TestGolden parses each testdata/golden/*.txt and compares the records with
// the matching .golden file (go test -update rewrites them; review the diff).
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/golden/*.txt")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, path := range inputs {
		name := strings.TrimSuffix(filepath.Base(path), ".txt")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got := parseLines(t, NewParser(Options{}), data)
			golden := strings.TrimSuffix(path, ".txt") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("records differ from %s (-want +got):\n%s", golden, diff)
			}
		})
	}
}

// decode reads one record back with exact numbers.
func decode(t *testing.T, rec []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(rec))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", rec, err)
	}
	return m
}

func parseOne(t *testing.T, opts Options, line string) (map[string]any, Result) {
	t.Helper()
	in := Input{Text: []byte(line), Lines: 1, File: "app.log", ReadTime: readTime}
	out, res := NewParser(opts).Append(nil, &in, testPod)
	return decode(t, out), res
}

func TestTypedValues(t *testing.T) {
	m, res := parseOne(t, Options{}, `{"level":"info","msg":"m","big":12345678901234567890,"f":1.5,"b":true,"o":{"x":[1,"a"]},"s":"5"}`)
	want := map[string]any{
		"big": json.Number("12345678901234567890"),
		"f":   json.Number("1.5"),
		"b":   true,
		"o":   map[string]any{"x": []any{json.Number("1"), "a"}},
		"s":   "5",
	}
	if diff := cmp.Diff(want, m["fields"]); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	if res.Format != FormatJSON || res.ParseError {
		t.Errorf("result = %+v", res)
	}
	m, res = parseOne(t, Options{}, `level=info msg="m" n=42 f=-1.25 ok=true s=hello q="42" big=12345678901234567890`)
	want = map[string]any{
		"n": json.Number("42"), "f": json.Number("-1.25"), "ok": true, "s": "hello", "q": "42",
		"big": json.Number("12345678901234567890"),
	}
	if diff := cmp.Diff(want, m["fields"]); diff != "" {
		t.Errorf("logfmt fields (-want +got):\n%s", diff)
	}
	if res.Format != FormatLogfmt {
		t.Errorf("format = %v", res.Format)
	}
}

// TestOutOfRangeNumbers: a number beyond float64's range (valid JSON, but
// encoding/json and most decoders refuse the whole record over it) is
// shipped as a string in type_errors, and counted as a type error; numbers
// merely long, tiny or at the edge of the range stay numbers in fields.
func TestOutOfRangeNumbers(t *testing.T) {
	long := "1" + strings.Repeat("0", 250) + "e99" // 1e349, with a two-digit exponent
	tests := []struct {
		name       string
		types      map[string]Type
		line       string
		fields     map[string]any
		typeErrors map[string]any
	}{
		{"json", nil, `{"msg":"m","n":1e400,"ok":1}`, map[string]any{"ok": 1.0}, map[string]any{"n": "1e400"}},
		{"json negative", nil, `{"msg":"m","n":-1.8E+308}`, nil, map[string]any{"n": "-1.8E+308"}},
		{"json long mantissa", nil, `{"msg":"m","n":` + long + `}`, nil, map[string]any{"n": long}},
		{"json 400 digits", nil, `{"msg":"m","n":` + strings.Repeat("9", 400) + `}`, nil, map[string]any{"n": strings.Repeat("9", 400)}},
		{"json nested", nil, `{"msg":"m","o":{"a":[1,2e999]},"p":{"a":1}}`, map[string]any{"p": map[string]any{"a": 1.0}},
			map[string]any{"o": `{"a":[1,2e999]}`}},
		{"json escaped key", nil, `{"msg":"m","\u006e":1e400}`, nil, map[string]any{"n": "1e400"}},
		{"json time key", nil, `{"msg":"m","time":1e400}`, nil, map[string]any{"time": "1e400"}},
		{"json pinned float", map[string]Type{"n": TypeFloat}, `{"msg":"m","n":1e400}`, nil, map[string]any{"n": "1e400"}},
		{"json pinned int", map[string]Type{"n": TypeInt}, `{"msg":"m","n":1` + strings.Repeat("0", 400) + `}`, nil,
			map[string]any{"n": "1" + strings.Repeat("0", 400)}},
		{"json pinned string", map[string]Type{"n": TypeString}, `{"msg":"m","n":1e400}`, map[string]any{"n": "1e400"}, nil},
		{"json in range", nil, `{"msg":"m","a":1e-400,"b":1.7976931348623157e308,"c":4e-324,"d":1e0000000000001}`,
			map[string]any{"a": 0.0, "b": 1.7976931348623157e308, "c": 5e-324, "d": 10.0}, nil},
		{"logfmt", nil, `msg=m n=1e400 ok=1`, map[string]any{"ok": 1.0}, map[string]any{"n": "1e400"}},
		{"logfmt quoted stays a string", nil, `msg=m n="1e400"`, map[string]any{"n": "1e400"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Input{Text: []byte(tt.line), Lines: 1, File: "app.log", ReadTime: readTime}
			out, res := NewParser(Options{FieldTypes: tt.types}).Append(nil, &in, testPod)
			var rec struct {
				Fields     map[string]any `json:"fields"`
				TypeErrors map[string]any `json:"type_errors"`
			}
			if err := json.Unmarshal(out, &rec); err != nil {
				t.Fatalf("encoding/json refuses the record: %v\n%s", err, out)
			}
			if diff := cmp.Diff(tt.fields, rec.Fields); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.typeErrors, rec.TypeErrors); diff != "" {
				t.Errorf("type_errors (-want +got):\n%s", diff)
			}
			if res.TypeErrors != len(tt.typeErrors) || res.ParseError {
				t.Errorf("result %+v, want %d type errors", res, len(tt.typeErrors))
			}
		})
	}
}

func TestTimeZones(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, line string
		loc        *time.Location
		want       string
		fromRead   bool
	}{
		{"offset", `{"time":"2020-03-02T18:22:24+09:00"}`, nil, "2020-03-02T09:22:24Z", false},
		{"offset without colon", `{"time":"2020-03-02T18:22:24+0900"}`, nil, "2020-03-02T09:22:24Z", false},
		{"negative offset", `{"time":"2020-03-02T01:22:24.5-08:00"}`, nil, "2020-03-02T09:22:24.5Z", false},
		{"nanoseconds", `{"time":"2020-03-02T09:22:24.123456789Z"}`, nil, "2020-03-02T09:22:24.123456789Z", false},
		{"no zone is UTC by default", `{"time":"2020-03-02T09:22:24"}`, nil, "2020-03-02T09:22:24Z", false},
		{"no zone in DEFAULT_TZ", `{"time":"2020-03-02T18:22:24"}`, tokyo, "2020-03-02T09:22:24Z", false},
		{"go log prefix in DEFAULT_TZ", `2020/03/02 18:22:24 hello`, tokyo, "2020-03-02T09:22:24Z", false},
		{"zoned time ignores DEFAULT_TZ", `{"time":"2020-03-02T09:22:24Z"}`, tokyo, "2020-03-02T09:22:24Z", false},
		{"logfmt", `time="2020-03-02T18:22:24+09:00" msg=x`, nil, "2020-03-02T09:22:24Z", false},
		{"epoch millis", `{"ts":1583141044250}`, nil, "2020-03-02T09:24:04.25Z", false},
		{"no time uses read time", `{"msg":"x"}`, nil, "2026-11-21T12:00:00Z", true},
		{"bad date uses read time", `{"time":"2020-02-30T00:00:00Z"}`, nil, "2026-11-21T12:00:00Z", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, res := parseOne(t, Options{Location: tt.loc}, tt.line)
			if got := m["@timestamp"]; got != tt.want {
				t.Errorf("@timestamp = %v, want %v", got, tt.want)
			}
			if got := m["time_source"] == "read"; got != tt.fromRead {
				t.Errorf("time_source read = %v, want %v", got, tt.fromRead)
			}
			if res.Time.Format(time.RFC3339Nano) != tt.want {
				t.Errorf("Result.Time = %v", res.Time)
			}
		})
	}
}

func TestFieldTypes(t *testing.T) {
	types, err := ParseFieldTypes("count=int, latency_ms=float,ok=bool,user=string,obj=string")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, line  string
		fields      map[string]any
		typeErrors  map[string]any
		nTypeErrors int
	}{
		{"already typed", `{"count":5,"latency_ms":1.5,"ok":true,"user":"bob"}`,
			map[string]any{"count": json.Number("5"), "latency_ms": json.Number("1.5"), "ok": true, "user": "bob"}, nil, 0},
		{"strings converted", `{"count":"5","latency_ms":"2","ok":"false","user":42}`,
			map[string]any{"count": json.Number("5"), "latency_ms": json.Number("2.0"), "ok": false, "user": "42"}, nil, 0},
		{"integral float to int, int to float", `{"count":7.0,"latency_ms":3}`,
			map[string]any{"count": json.Number("7"), "latency_ms": json.Number("3.0")}, nil, 0},
		{"object to string", `{"obj":{"a":1}}`, map[string]any{"obj": `{"a":1}`}, nil, 0},
		{"null stays null", `{"count":null}`, map[string]any{"count": nil}, nil, 0},
		{"unconvertible moved", `{"count":"many","latency_ms":"fast","ok":"maybe","n":1}`,
			map[string]any{"n": json.Number("1")},
			map[string]any{"count": "many", "latency_ms": "fast", "ok": "maybe"}, 3},
		{"fraction is no int", `{"count":1.5}`, nil, map[string]any{"count": "1.5"}, 1},
		{"logfmt converted", `count=5 latency_ms=7 ok=1 user=99`,
			map[string]any{"count": json.Number("5"), "latency_ms": json.Number("7.0"), "ok": true, "user": "99"}, nil, 0},
		{"logfmt unconvertible", `count=lots`, nil, map[string]any{"count": "lots"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, res := parseOne(t, Options{FieldTypes: types}, tt.line)
			var fields, typeErrors map[string]any
			if f, ok := m["fields"]; ok {
				fields = f.(map[string]any)
			}
			if f, ok := m["type_errors"]; ok {
				typeErrors = f.(map[string]any)
			}
			if diff := cmp.Diff(tt.fields, fields); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.typeErrors, typeErrors); diff != "" {
				t.Errorf("type_errors (-want +got):\n%s", diff)
			}
			if res.TypeErrors != tt.nTypeErrors {
				t.Errorf("TypeErrors = %d, want %d", res.TypeErrors, tt.nTypeErrors)
			}
		})
	}
}

func TestParseFieldTypesErrors(t *testing.T) {
	for _, spec := range []string{"count", "count=number", "=int", "a=int,a=bool"} {
		if _, err := ParseFieldTypes(spec); err == nil {
			t.Errorf("ParseFieldTypes(%q): no error", spec)
		}
	}
	got, err := ParseFieldTypes("")
	if err != nil || len(got) != 0 {
		t.Errorf("empty spec: %v, %v", got, err)
	}
}

func TestMarkers(t *testing.T) {
	in := Input{Text: []byte(`{"msg":"cut`), Lines: 1, File: "a.log", ReadTime: readTime, Truncated: true}
	out, res := NewParser(Options{}).Append(nil, &in, nil)
	m := decode(t, out)
	if m["truncated"] != true || !res.ParseError || m["parse_error"] == nil {
		t.Errorf("want truncated and parse_error: %s", out)
	}
	if res.Format != FormatPlain || res.Detected != FormatJSON {
		t.Errorf("Format %v, Detected %v; want plain, json", res.Format, res.Detected)
	}
	if diff := cmp.Diff(map[string]any{}, m["kubernetes"]); diff != "" {
		t.Errorf("kubernetes: %s", diff)
	}
	if m["msg"] != `{"msg":"cut` {
		t.Errorf("msg = %v, want the whole line", m["msg"])
	}
	m, _ = parseOne(t, Options{}, `{"msg":"fine"}`)
	for _, k := range []string{"truncated", "parse_error", "type_errors"} {
		if _, ok := m[k]; ok {
			t.Errorf("%s present on a clean record", k)
		}
	}
}

func TestMultilineRecordIsPlain(t *testing.T) {
	text := "2020/03/02 08:31:45 panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/app/main.go:10 +0x1d"
	in := Input{Text: []byte(text), Lines: 5, File: "a.log", ReadTime: readTime}
	out, res := NewParser(Options{}).Append(nil, &in, nil)
	m := decode(t, out)
	if res.Format != FormatPlain || res.ParseError {
		t.Errorf("result %+v: %s", res, out)
	}
	if want := strings.TrimPrefix(text, "2020/03/02 08:31:45 "); m["msg"] != want {
		t.Errorf("msg = %q, want %q", m["msg"], want)
	}
}

func BenchmarkAppend(b *testing.B) {
	lines := map[string]string{
		"json":   `{"count":12345,"file":"main.go:16","func":"main.main","level":"info","msg":"sample log with some text","text_sample":"fooooo","latency_ms":1.25,"time":"2020-03-02T18:22:24.123456789+09:00"}`,
		"logfmt": `time="2020-03-02T18:22:24+09:00" level=info msg="sample log with some text" count=12345 latency_ms=1.25 text_sample=fooooo ok=true`,
		"plain":  `2020/03/02 08:31:45 sample log with some text count=12345 and nothing else of note`,
	}
	pod := []byte(`{"pod_name":"counter-5d8f7c9b4-x2k9p","namespace_name":"shop","pod_id":"9f1c2d3e-aaaa-bbbb-cccc-1234567890ab","pod_ip":"10.1.2.3","host":"node-1","container_name":"app","labels":{"app":"counter"}}`)
	for _, name := range []string{"json", "logfmt", "plain"} {
		b.Run(name, func(b *testing.B) {
			p := NewParser(Options{})
			in := Input{Text: []byte(lines[name]), Lines: 1, File: "counter.log", ReadTime: readTime}
			buf := make([]byte, 0, 4096)
			b.ReportAllocs()
			b.SetBytes(int64(len(in.Text)))
			for b.Loop() {
				buf, _ = p.Append(buf[:0], &in, pod)
			}
		})
	}
}

// A time of exactly 0001-01-01T00:00:00Z is Go's zero time, which a Result
// uses for "no time": the record takes the read time, and the field is kept
// as written (found by FuzzParseLine).
func TestZeroTimeIsNoTime(t *testing.T) {
	p := NewParser(Options{})
	in := Input{Text: []byte(`{"time":"0001-01-01 00:00:00+0000","msg":"m"}`), Lines: 1, File: "f.log", ReadTime: readTime}
	out, res := p.Append(nil, &in, nil)
	if !res.Time.Equal(readTime) {
		t.Errorf("time = %v, want the read time %v", res.Time, readTime)
	}
	if !bytes.Contains(out, []byte(`"time":"0001-01-01 00:00:00+0000"`)) {
		t.Errorf("the time field is not kept as written: %s", out)
	}
}
