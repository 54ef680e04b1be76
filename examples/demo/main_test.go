package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rec is a loglet record as the sidecar writes it, with fields and markers
// spliced in.
func rec(level, msg, fields, extra string) []byte {
	return []byte(`{"@timestamp":"2026-03-02T09:22:24.123456789Z","level":"` + level + `","msg":"` + msg + `","fields":` + fields + extra +
		`,"kubernetes":{"pod_name":"web-1","namespace_name":"shop","labels":{"app":"web"}},"log":{"file":"web-1.log","offset":0,"format":"json"}}`)
}

func TestFormat(t *testing.T) {
	tests := []struct {
		name  string
		value []byte
		want  string
	}{
		{"fields in logged order, typed, file and func left out",
			rec("info", "sample log", `{"file":"main.go:16","func":"main.main","count":3,"latency_ms":12.0,"text_sample":"fooooo","ok":true,"tags":["a","b"]}`, ""),
			`09:22:24.123Z INFO  sample log count=3 latency_ms=12.0 text_sample="fooooo" ok=true tags=["a","b"]  shop/web-1  logs.shop/2@41`},
		{"warning", rec("warning", "slow", `{}`, ""), `09:22:24.123Z WARN  slow  shop/web-1  logs.shop/2@41`},
		{"error", rec("error", "db down", `{"code":500}`, ""), `09:22:24.123Z ERROR db down code=500  shop/web-1  logs.shop/2@41`},
		{"panic", rec("panic", "boom", `{}`, ""), `09:22:24.123Z PANIC boom  shop/web-1  logs.shop/2@41`},
		{"no level", rec("", "plain text", `{}`, ""), `09:22:24.123Z INFO  plain text  shop/web-1  logs.shop/2@41`},
		{"markers", rec("info", "cut", `{"count":"x"}`, `,"type_errors":{"count":"x"},"truncated":true,"parse_error":"invalid character"`),
			`09:22:24.123Z INFO  cut count="x" type_errors={"count":"x"} truncated=true parse_error="invalid character"  shop/web-1  logs.shop/2@41`},
		{"no fields", []byte(`{"@timestamp":"2026-03-02T09:22:24Z","level":"debug","msg":"m","kubernetes":{"pod_name":"p","namespace_name":"n"}}`),
			`09:22:24.000Z DEBUG m  n/p  logs.shop/2@41`},
		{"not a record", []byte("hello"), `(not a loglet record: invalid character 'h' looking for beginning of value) "hello"  logs.shop/2@41`},
		{"fields not an object", rec("info", "m", `[1]`, ""), `09:22:24.123Z INFO  m fields=[1]  shop/web-1  logs.shop/2@41`},
	}
	p := newPrinter(nil, false)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.format(message{Topic: "logs.shop", Partition: 2, Offset: 41, Value: tt.value})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("line (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFormatColor(t *testing.T) {
	p := newPrinter(nil, true)
	got := p.format(message{Topic: "logs.shop", Value: rec("error", "db down", `{"code":500}`, "")})
	want := "\x1b[2m09:22:24.123Z\x1b[0m \x1b[31mERROR\x1b[0m \x1b[1mdb down\x1b[0m \x1b[36mcode\x1b[0m=500  shop/web-1  \x1b[2mlogs.shop/0@0\x1b[0m"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("coloured line (-want +got):\n%s", diff)
	}
}

// TestRecordPrintsFirstInFull checks the printer's output for two records:
// the first in full, indented, then a line each.
func TestRecordPrintsFirstInFull(t *testing.T) {
	var buf bytes.Buffer
	p := newPrinter(&buf, false)
	p.record(message{Topic: "logs.shop", Offset: 7, Value: []byte(`{"level":"info","msg":"a","fields":{"n":1}}`)})
	p.record(message{Topic: "logs.shop", Offset: 8, Value: []byte(`{"level":"info","msg":"b"}`)})
	want := `
The first record, in full, as loglet produced it to logs.shop:

  {
    "level": "info",
    "msg": "a",
    "fields": {
      "n": 1
    }
  }

Then one line per record: time (UTC), level, message, the fields as JSON values
(numbers bare, strings quoted: their types survive the trip; file and func left out),
namespace/pod, and where the record is in Kafka (topic/partition@offset):

 INFO  a n=1  /  logs.shop/0@7
 INFO  b  /  logs.shop/0@8
`
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	if got := p.printed(0); got != 8 {
		t.Errorf("printed(0) = %d, want 8", got)
	}
	if got := p.printed(1); got != -1 {
		t.Errorf("printed(1) = %d, want -1", got)
	}
}

func TestUseColor(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if useColor(f, func(string) string { return "" }) {
		t.Errorf("a file is coloured")
	}
	tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0)
	if err != nil {
		return // no terminal here: the rest cannot be checked
	}
	defer tty.Close()
	if !useColor(tty, func(string) string { return "" }) {
		t.Errorf("a terminal is not coloured")
	}
	for _, env := range []map[string]string{{"NO_COLOR": "1"}, {"TERM": "dumb"}} {
		if useColor(tty, func(k string) string { return env[k] }) {
			t.Errorf("a terminal is coloured with %v", env)
		}
	}
}

func TestChildEnv(t *testing.T) {
	environ := []string{"PATH=/bin", "LOGLET_LOG_DIR=/mine", "LOGLET_KAFKA_COMPRESSION=zstd", "HOME=/root"}
	got := childEnv(environ,
		map[string]string{"LOGLET_LOG_DIR": "/tmp/v", "POD_NAME": "p"},
		map[string]string{"LOGLET_KAFKA_COMPRESSION": "lz4", "LOGLET_POLL_INTERVAL": "100ms", "POD_NAME": "ignored"})
	want := []string{"PATH=/bin", "LOGLET_KAFKA_COMPRESSION=zstd", "HOME=/root", "LOGLET_LOG_DIR=/tmp/v", "POD_NAME=p", "LOGLET_POLL_INTERVAL=100ms"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("environment (-want +got):\n%s", diff)
	}
}

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    options
		wantErr string
	}{
		{"defaults", nil, options{loglet: "bin/loglet", counter: "bin/counter", interval: time.Second, errorEvery: 5}, ""},
		{"flags", []string{"-loglet", "/x/loglet", "-counter", "/x/counter", "-interval", "200ms", "-error-every", "0"},
			options{loglet: "/x/loglet", counter: "/x/counter", interval: 200 * time.Millisecond}, ""},
		{"zero interval", []string{"-interval", "0s"}, options{}, "want a positive duration"},
		{"negative", []string{"-error-every", "-1"}, options{}, "cannot be negative"},
		{"argument", []string{"now"}, options{}, `unexpected arguments ["now"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseOptions(tt.args, new(bytes.Buffer))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(options{})); diff != "" {
				t.Errorf("options (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRunRefusesTLS checks that the demo stops before starting anything
// when loglet would need TLS or SASL, which its consumer does not speak.
func TestRunRefusesTLS(t *testing.T) {
	for _, v := range []string{"LOGLET_KAFKA_TLS=true", "LOGLET_KAFKA_SASL_MECHANISM=PLAIN"} {
		err := run(t.Context(), t.Context(), options{}, []string{v}, newPrinter(new(bytes.Buffer), false), new(bytes.Buffer))
		name, _, _ := strings.Cut(v, "=")
		if err == nil || !strings.Contains(err.Error(), name+" is set") {
			t.Errorf("with %s: run = %v, want an error naming it", v, err)
		}
	}
}

func TestRunMissingBinary(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "loglet")
	err := run(t.Context(), t.Context(), options{loglet: missing, counter: missing}, nil, newPrinter(new(bytes.Buffer), false), new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "make demo builds it") {
		t.Errorf("run = %v, want an error naming %s", err, missing)
	}
}
