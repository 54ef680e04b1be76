package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/loglet/loglet/applib"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// record is a decoded line with each value's JSON text, which shows its type.
type record map[string]json.RawMessage

func decodeLines(t *testing.T, b []byte) []record {
	t.Helper()
	var recs []record
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if l == "" {
			continue
		}
		if !strings.HasSuffix(l, "\n") {
			t.Fatalf("torn last line %q", l)
		}
		var r record
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// checkSample checks a "sample log" or error record: count n as an integer,
// latency_ms as a float, the text field and the caller. fn is the function
// as the runtime names it: main.run in the command, the package path in tests.
func checkSample(t *testing.T, r record, n int, level, fn string) {
	t.Helper()
	got := map[string]string{}
	for _, k := range []string{"level", "count", "text_sample", "func"} {
		got[k] = string(r[k])
	}
	want := map[string]string{
		"level": `"` + level + `"`, "count": strings.TrimSpace(string(mustJSON(t, n))),
		"text_sample": `"fooooo"`, "func": `"` + fn + `"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("record %d mismatch (-want +got):\n%s", n, diff)
	}
	lat := string(r["latency_ms"])
	var ms float64
	if err := json.Unmarshal(r["latency_ms"], &ms); err != nil || !strings.ContainsAny(lat, ".e") || ms < 0 {
		t.Errorf("record %d: latency_ms %s is not a non-negative float", n, lat)
	}
	if !strings.HasPrefix(string(r["file"]), `"main.go:`) {
		t.Errorf("record %d: file %s, want main.go:<line>", n, r["file"])
	}
}

// inTest is run's name when the package is compiled into a test binary.
const inTest = "github.com/loglet/loglet/examples/counter.run"

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRunRecords(t *testing.T) {
	var buf bytes.Buffer
	run(t.Context(), applib.New(&buf), options{interval: time.Millisecond, records: 4, errorEvery: 2})
	recs := decodeLines(t, buf.Bytes())
	if len(recs) != 4 {
		t.Fatalf("got %d records, want 4:\n%s", len(recs), buf.Bytes())
	}
	for i, r := range recs {
		level, msg := "info", `"sample log"`
		if i%2 == 1 {
			level, msg = "error", `"request failed: simulated exception"`
		}
		checkSample(t, r, i, level, inTest)
		if string(r["msg"]) != msg {
			t.Errorf("record %d: msg %s, want %s", i, r["msg"], msg)
		}
	}
}

// TestRunStops cancels the context: run logs "stopping" and returns
// without waiting for the next tick.
func TestRunStops(t *testing.T) {
	var buf bytes.Buffer
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	run(ctx, applib.New(&buf), options{interval: time.Hour})
	recs := decodeLines(t, buf.Bytes())
	if len(recs) != 2 {
		t.Fatalf("got %d records, want 2:\n%s", len(recs), buf.Bytes())
	}
	checkSample(t, recs[0], 0, "info", inTest)
	if string(recs[1]["msg"]) != `"stopping"` || string(recs[1]["count"]) != "1" {
		t.Errorf("last record %v, want stopping with count 1", recs[1])
	}
}

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    options
		wantErr string
	}{
		{"defaults", nil, nil, options{interval: 5 * time.Second}, ""},
		{"env", nil, map[string]string{"COUNTER_INTERVAL": "1s", "COUNTER_RECORDS": "3", "COUNTER_ERROR_EVERY": "10"},
			options{interval: time.Second, records: 3, errorEvery: 10}, ""},
		{"flags override env", []string{"-interval", "250ms", "-n", "2", "-error-every", "5"}, map[string]string{"COUNTER_INTERVAL": "1s"},
			options{interval: 250 * time.Millisecond, records: 2, errorEvery: 5}, ""},
		{"bad env", nil, map[string]string{"COUNTER_INTERVAL": "soon"}, options{}, `COUNTER_INTERVAL="soon"`},
		{"bad env number", nil, map[string]string{"COUNTER_RECORDS": "x"}, options{}, `COUNTER_RECORDS="x"`},
		{"zero interval", []string{"-interval", "0s"}, nil, options{}, "want a positive duration"},
		{"negative", []string{"-n", "-1"}, nil, options{}, "cannot be negative"},
		{"extra argument", []string{"extra"}, nil, options{}, `unexpected arguments ["extra"]`},
		{"unknown flag", []string{"-x"}, nil, options{}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseOptions(tt.args, func(k string) string { return tt.env[k] }, new(bytes.Buffer))
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
				t.Errorf("options mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBinary builds the command with plain go build, runs it as a pod
// would (LOGLET_LOG_DIR and POD_NAME set), stops it with SIGTERM and reads
// its log file.
func TestBinary(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go command not found: %v", err)
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "counter")
	build := exec.CommandContext(t.Context(), goBin, "build", "-o", bin, ".")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}

	logDir := filepath.Join(tmp, "log")
	cmd := exec.CommandContext(t.Context(), bin, "-interval", "5ms")
	cmd.Env = []string{"LOGLET_LOG_DIR=" + logDir, "POD_NAME=counter-7d9c5-x2x4z", "HOSTNAME=ignored"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(logDir, "counter-7d9c5-x2x4z.log")
	for {
		b, _ := os.ReadFile(path)
		if bytes.Count(b, []byte("\n")) >= 3 {
			break
		}
		select {
		case <-t.Context().Done():
			t.Fatal("no records")
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("counter exited with %v; stderr: %s", err, stderr.Bytes())
	}
	if stdout.Len()+stderr.Len() > 0 {
		t.Errorf("output outside the log file: stdout %q stderr %q", stdout.Bytes(), stderr.Bytes())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs := decodeLines(t, b)
	last := recs[len(recs)-1]
	if string(last["msg"]) != `"stopping"` || string(last["count"]) != strings.TrimSpace(string(mustJSON(t, len(recs)-1))) {
		t.Errorf("last record %s, want stopping after %d records", b[bytes.LastIndexByte(b[:len(b)-1], '\n')+1:], len(recs)-1)
	}
	for i, r := range recs[:len(recs)-1] {
		checkSample(t, r, i, "info", "main.run")
	}
}
