package parse_test

// applib writes what loglet parses: lines from applib's logrus and slog
// loggers must come out of the forwarder's parser with exactly the fields
// and JSON types that were logged.

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/loglet/loglet/applib"
	"github.com/loglet/loglet/sidecar/internal/parse"
)

func TestApplibOutputParses(t *testing.T) {
	attrs := []slog.Attr{
		applib.Int("count", 7),
		applib.Int("big", uint64(12345678901234567890)),
		applib.Duration("latency_ms", 1500*time.Microsecond),
		applib.String("text_sample", "fooooo"),
		applib.Float("ratio", 2.0),
		slog.Bool("ok", true),
	}
	var buf bytes.Buffer
	applib.New(&buf).WithFields(applib.Fields(attrs...)).Warn("sample log")
	slog.New(applib.NewHandler(&buf, nil)).LogAttrs(context.Background(), slog.LevelWarn, "sample log", attrs...)

	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("applib wrote %d lines, want 2:\n%s", len(lines), buf.Bytes())
	}
	// Raw JSON text of each field: the type as well as the value must survive.
	want := map[string]string{
		"count": "7", "big": "12345678901234567890", "latency_ms": "1.5", "text_sample": `"fooooo"`,
		"ratio": "2.0", "ok": "true",
	}
	for i, line := range lines {
		p := parse.NewParser(parse.Options{})
		in := parse.Input{Text: line, Lines: 1, File: "web-1.log", ReadTime: time.Now()}
		out, res := p.Append(nil, &in, nil)
		if res.Format != parse.FormatJSON || res.ParseError || res.TypeErrors != 0 {
			t.Fatalf("line %d: result %+v for %s", i, res, line)
		}
		var rec struct {
			Level  string
			Orig   string `json:"level_original"`
			Msg    string
			Time   string `json:"@timestamp"`
			Source string `json:"time_source"`
			Fields map[string]json.RawMessage
		}
		if err := json.Unmarshal(out, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Level != "warn" || rec.Orig != "warning" || rec.Msg != "sample log" || rec.Source != "" {
			t.Errorf("line %d: level %q (original %q) msg %q time_source %q", i, rec.Level, rec.Orig, rec.Msg, rec.Source)
		}
		if _, err := time.Parse(time.RFC3339Nano, rec.Time); err != nil {
			t.Errorf("line %d: @timestamp %q: %v", i, rec.Time, err)
		}
		got := map[string]string{}
		for k, v := range rec.Fields {
			got[k] = string(v)
		}
		if got["file"] == "" || got["func"] == "" {
			t.Errorf("line %d: no caller fields in %v", i, got)
		}
		delete(got, "file")
		delete(got, "func")
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("line %d fields (-logged +parsed):\n%s", i, diff)
		}
	}
}
