package parse

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzParseLine checks that no input panics the parser and that every
// record is one valid JSON object. Its seed corpus is every golden input
// line, so `go test` runs them all; `make fuzz` explores further.
func FuzzParseLine(f *testing.F) {
	inputs, _ := filepath.Glob("testdata/golden/*.txt")
	for _, path := range inputs {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			f.Add(line, uint8(1), false)
		}
	}
	f.Add([]byte("panic: x\n\ngoroutine 1"), uint8(3), false)
	f.Add([]byte(`{"time":"2020-03-02T18:22:24+09:00","count":"5"}`), uint8(1), true)
	// Numbers beyond float64's range, which encoding/json refuses.
	f.Add([]byte(`{"msg":"m","n":1e400,"f":-1.8e308,"o":{"a":[2E+999]}}`), uint8(1), false)
	f.Add([]byte(`{"count":1e400,"f":1e309,"ok":1e400,"s":1e400,"time":1e400}`), uint8(1), false)
	f.Add([]byte(`msg=m n=1e400 count=1e400 f=-9e99999`), uint8(1), false)
	f.Add([]byte(`{"\u006e":1e400,"d":1`+strings.Repeat("0", 400)+`}`), uint8(1), false)
	types := map[string]Type{"count": TypeInt, "f": TypeFloat, "ok": TypeBool, "s": TypeString}
	tokyo := time.FixedZone("JST", 9*3600)
	f.Fuzz(func(t *testing.T, text []byte, lines uint8, truncated bool) {
		p := NewParser(Options{FieldTypes: types, Location: tokyo})
		in := Input{Text: text, Lines: int(lines), File: "f\xff.log", Offset: 7, ReadTime: readTime, Truncated: truncated}
		out, res := p.Append(nil, &in, []byte(`{"pod_name":"p"}`))
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("invalid record for %q: %v\n%s", text, err, out)
		}
		if _, ok := m["@timestamp"].(string); !ok {
			t.Fatalf("no @timestamp: %s", out)
		}
		if res.Time.IsZero() {
			t.Fatalf("zero time")
		}
		// The parser must be reusable after any input.
		again, _ := p.Append(nil, &Input{Text: []byte(`{"msg":"ok"}`), Lines: 1, ReadTime: readTime}, nil)
		if !json.Valid(again) {
			t.Fatalf("parser state leaked: %s", again)
		}
	})
}
