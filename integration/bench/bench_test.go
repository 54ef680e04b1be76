package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestGeneratorIsDeterministicAndValid(t *testing.T) {
	for _, tc := range []struct {
		format string
		size   int
	}{
		{formatJSON, 100}, {formatJSON, 180}, {formatJSON, 1024}, {formatJSON, 16 << 10},
		{formatLogfmt, 180}, {formatLogfmt, 1024},
	} {
		dir := t.TempDir()
		a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
		const lines = 2000
		na, err := newGenerator(tc.format, tc.size, 7).writeFile(a, 0, lines)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := newGenerator(tc.format, tc.size, 7).writeFile(b, 0, lines); err != nil {
			t.Fatal(err)
		}
		da, _ := os.ReadFile(a)
		db, _ := os.ReadFile(b)
		if !bytes.Equal(da, db) {
			t.Errorf("%s %d: the same seed gave different files", tc.format, tc.size)
		}
		if int64(len(da)) != na {
			t.Errorf("%s %d: writeFile reported %d bytes, the file has %d", tc.format, tc.size, na, len(da))
		}
		// The mean line length is the target within 10%.
		if mean := len(da)/lines - 1; mean < tc.size*9/10 || mean > tc.size*11/10 {
			t.Errorf("%s %d: mean line length %d", tc.format, tc.size, mean)
		}
		sc := bufio.NewScanner(bytes.NewReader(da))
		sc.Buffer(nil, 1<<20)
		n, levels := 0, map[string]bool{}
		for sc.Scan() {
			line := sc.Text()
			switch tc.format {
			case formatJSON:
				var m map[string]any
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatalf("%s %d line %d is not JSON: %v\n%s", tc.format, tc.size, n, err, line)
				}
				if m["count"] != float64(n) {
					t.Fatalf("line %d has count %v", n, m["count"])
				}
				levels[m["level"].(string)] = true
			case formatLogfmt:
				if !strings.HasPrefix(line, `time="2020-03-02T`) || !strings.Contains(line, " level=") {
					t.Fatalf("line %d is not logrus logfmt: %s", n, line)
				}
			}
			n++
		}
		if n != lines {
			t.Errorf("%s %d: %d lines, want %d", tc.format, tc.size, n, lines)
		}
		if tc.format == formatJSON && len(levels) < 3 {
			t.Errorf("%s %d: levels %v are not varied", tc.format, tc.size, levels)
		}
	}
}

func TestParseProc(t *testing.T) {
	// Field 2 holds spaces and a parenthesis; utime is 1234 and stime 56 ticks.
	stat := []byte("4242 (log (let) x) S 1 4242 4242 0 -1 4194560 1581 0 0 0 1234 56 0 0 20 0 7 0 12345 1234567 890 18446744073709551615\n")
	cpu, err := parseStatCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := 12900 * time.Millisecond; cpu != want {
		t.Errorf("cpu = %v, want %v", cpu, want)
	}
	if _, err := parseStatCPU([]byte("4242 (x) S 1 2")); err == nil {
		t.Error("a short stat line gave no error")
	}
	status := []byte("Name:\tloglet\nVmPeak:\t  800000 kB\nVmHWM:\t   30720 kB\nVmRSS:\t   20480 kB\n")
	got := map[string]int64{}
	for _, k := range []string{"VmHWM", "VmRSS"} {
		if got[k], err = statusBytes(status, k); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(map[string]int64{"VmHWM": 30 << 20, "VmRSS": 20 << 20}, got); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
	if _, err := statusBytes(status, "VmSwap"); err == nil {
		t.Error("a missing key gave no error")
	}
	// This process's own figures can be read.
	u, err := readUsage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if u.PeakRSS <= 0 || u.RSS <= 0 || u.PeakRSS < u.RSS {
		t.Errorf("own usage %+v", u)
	}
}

func TestSchedstat(t *testing.T) {
	got, err := parseSchedstat([]byte("86403488 18691653 344\n"))
	if err != nil || got != 86403488*time.Nanosecond {
		t.Errorf("parseSchedstat = %v, %v; want 86.403488ms", got, err)
	}
	for _, bad := range []string{"", "1 2", "x 2 3", "1 2 3 4"} {
		if _, err := parseSchedstat([]byte(bad)); err == nil {
			t.Errorf("parseSchedstat(%q) gave no error", bad)
		}
	}
	// This process's threads' run time is finer than the ticks of
	// /proc/<pid>/stat, and close to what the kernel counts in them.
	run, err := threadsRunTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	ticks, err := parseStatCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if run <= 0 || run%(time.Second/userHZ) == 0 || run < ticks-2*time.Second/userHZ {
		t.Errorf("threads' run time %v, ticks %v", run, ticks)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 200; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	got := []time.Duration{percentile(d, 0.5), percentile(d, 0.99), percentile(d, 1), percentile(d[:1], 0.99), percentile(nil, 0.5)}
	want := []time.Duration{100 * time.Millisecond, 198 * time.Millisecond, 200 * time.Millisecond, time.Millisecond, 0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("percentiles (-want +got):\n%s", diff)
	}
}

func TestRecordTime(t *testing.T) {
	got, err := recordTime([]byte(`{"@timestamp":"2020-03-02T09:22:24.123456789Z","level":"info"}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2020, 3, 2, 9, 22, 24, 123456789, time.UTC); !got.Equal(want) {
		t.Errorf("time = %v, want %v", got, want)
	}
	for _, bad := range []string{`{"level":"info"}`, `{"@timestamp":"2020-03-02`, `{"@timestamp":"yesterday"}`} {
		if _, err := recordTime([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// TestScenarios runs small scenarios of each kind through the real loglet
// binary and the broker process, and checks that every figure of the table
// is filled. It asserts no timing.
func TestScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs loglet and the broker")
	}
	o := &options{Dir: t.TempDir(), Scale: 1, Idle: time.Second, Settle: 100 * time.Millisecond}
	if err := o.prepare(); err != nil {
		t.Fatal(err)
	}
	scenarios := []scenario{
		{Name: "floor", Kind: floor, Lines: 3000, Files: 1, Size: 180, Format: formatJSON},
		{Name: "full", Lines: 3000, Files: 3, Size: 180, Format: formatJSON, Acks: "one", Codec: "none"},
		{Name: "rules", Lines: 3000, Files: 1, Size: 180, Format: formatJSON, Acks: "one", Codec: "none", Env: typicalRules, DropsDebug: true},
		{Name: "logfmt", Lines: 1000, Files: 1, Size: 1024, Format: formatLogfmt, Acks: "all", Codec: "lz4"},
		{Name: "steady", Kind: steady, Lines: 500, Rate: 1000, Files: 1, Size: 180, Format: formatJSON, Acks: "all", Codec: "zstd"},
		{Name: "wake-up floor: steady", Kind: steady, Peer: peerWakeFloor, Lines: 500, Rate: 1000, Burst: 10, Files: 1, Size: 180, Format: formatJSON, Acks: "all", Codec: "lz4"},
		{Name: "steady in bursts", Kind: steady, Lines: 500, Rate: 1000, Burst: 10, Files: 1, Size: 180, Format: formatJSON, Acks: "all", Codec: "lz4"},
		{Name: "idle", Kind: idle, Lines: 10, Files: 2, Size: 180, Format: formatJSON, Acks: "one", Codec: "none"},
		{Name: "idle, 1 file", Kind: idle, Lines: 10, Files: 1, Size: 180, Format: formatJSON, Acks: "all", Codec: "lz4"},
		{Name: "wake-up floor: idle, 1 file", Kind: idle, Peer: peerWakeFloor, Lines: 10, Files: 1, Size: 180, Format: formatJSON, Acks: "all", Codec: "lz4"},
	}
	var log bytes.Buffer
	results, err := runAll(o, scenarios, &log)
	if err != nil {
		t.Fatalf("%v\nprogress:\n%s", err, log.String())
	}
	if len(results) != len(scenarios) {
		t.Fatalf("%d results for %d scenarios", len(results), len(scenarios))
	}
	for _, r := range results {
		if r.Kind == floor {
			if r.CPU < 0 || r.Elapsed <= 0 || r.Bytes <= 0 {
				t.Errorf("floor: %+v", r)
			}
			continue
		}
		if r.PeakRSS <= 0 || r.RSS <= 0 {
			t.Errorf("%s: no memory figures: %+v", r.Name, r)
		}
		if r.Kind != idle && (r.Bytes < int64(r.Lines)*int64(r.Size)/2 || r.Elapsed <= 0) {
			t.Errorf("%s: bytes %d, elapsed %v for %d lines", r.Name, r.Bytes, r.Elapsed, r.Lines)
		}
		if (r.Name == "rules") != (r.Dropped > 0) {
			t.Errorf("%s: %d lines dropped by its rules", r.Name, r.Dropped)
		}
		if r.Kind == steady && (r.P50 <= 0 || r.P99 < r.P50) {
			t.Errorf("%s: latency p50 %v p99 %v", r.Name, r.P50, r.P99)
		}
		if r.Kind == idle && r.Window != time.Second {
			t.Errorf("%s: window %v", r.Name, r.Window)
		}
	}
	var table bytes.Buffer
	printReport(&table, o, results)
	rows := 0
	for line := range strings.Lines(table.String()) {
		if strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "| scenario") {
			rows++
		}
	}
	if rows != len(results) {
		t.Errorf("table has %d rows for %d results:\n%s", rows, len(results), table.String())
	}
	if !strings.Contains(table.String(), "The wake-up floor (") || !strings.Contains(table.String(), "at steady, with ") ||
		!strings.Contains(table.String(), "at idle, 1 file, with ") {
		t.Errorf("no wake-up floor ratio:\n%s", table.String())
	}
	if !strings.Contains(table.String(), "| CPU ÷ floor |") {
		t.Errorf("no floor column:\n%s", table.String())
	}
}

// TestMain is also the wake-up floor's process when TestScenarios runs it
// (the test binary is the benchmark's binary there).
func TestMain(m *testing.M) {
	if os.Getenv(wakeFloorEnv) == "1" {
		os.Exit(wakeFloorMain())
	}
	goleak.VerifyTestMain(m)
}

// TestFloorRecord checks that a wake-up floor record opens with the
// @timestamp the consumer reads, the line's own time, and is still the
// line's JSON.
func TestFloorRecord(t *testing.T) {
	g := newGenerator(formatJSON, 180, 1)
	g.TimeLayout = time.RFC3339Nano
	at := time.Date(2026, 12, 3, 14, 30, 0, 123456789, time.UTC)
	line := bytes.TrimSuffix(g.appendLine(nil, 7, at), []byte("\n"))
	v, err := floorRecord(line)
	if err != nil {
		t.Fatal(err)
	}
	got, err := recordTime(v)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(at) {
		t.Errorf("@timestamp %v, want %v", got, at)
	}
	var fields map[string]any
	if err := json.Unmarshal(v, &fields); err != nil {
		t.Fatalf("%s: %v", v, err)
	}
	if fields["count"] != 7.0 || fields["@timestamp"] != at.Format(time.RFC3339Nano) {
		t.Errorf("record %s", v)
	}
	for _, bad := range []string{`{"msg":"no time"}`, `{"time":"2026`, `x`} {
		if _, err := floorRecord([]byte(bad)); err == nil {
			t.Errorf("floorRecord(%s): no error", bad)
		}
	}
}

// TestRsyslogPeer ships a small file through rsyslogd, as -peers does, when
// Debian's rsyslog and rsyslog-kafka are installed, and checks the ratio
// line names it.
func TestRsyslogPeer(t *testing.T) {
	if testing.Short() {
		t.Skip("runs rsyslogd and the broker")
	}
	if _, _, _, err := rsyslog(t.TempDir(), t.TempDir(), "127.0.0.1:9092", scenario{Files: 1, Acks: "one", Codec: "none"}); err != nil {
		t.Skipf("no rsyslog peer here: %v", err)
	}
	o := &options{Dir: t.TempDir(), Scale: 1}
	if err := o.prepare(); err != nil {
		t.Fatal(err)
	}
	base := scenario{Lines: 2000, Files: 1, Size: 180, Format: formatJSON, Acks: "one", Codec: "none"}
	loglet, peer := base, base
	loglet.Name = "loglet"
	peer.Name, peer.Peer = "rsyslog", peerRsyslog
	var log bytes.Buffer
	results, err := runAll(o, []scenario{loglet, peer}, &log)
	if err != nil {
		t.Fatalf("%v\nprogress:\n%s", err, log.String())
	}
	var out bytes.Buffer
	printReport(&out, o, results)
	if !strings.Contains(out.String(), "rsyslog on the same data:") {
		t.Errorf("no ratio line:\n%s", out.String())
	}
}

func TestRsyslogPeerReadsOneFile(t *testing.T) {
	_, _, _, err := rsyslog(t.TempDir(), t.TempDir(), "127.0.0.1:9092", scenario{Files: 3})
	if err == nil || !strings.Contains(err.Error(), "one file") {
		t.Errorf("a peer scenario over 3 files: %v", err)
	}
}

func TestMedianIsOneRun(t *testing.T) {
	runs := []result{
		{CPU: 3 * time.Second, PeakRSS: 30},
		{CPU: 1 * time.Second, PeakRSS: 10},
		{CPU: 2 * time.Second, PeakRSS: 20},
	}
	m := median(runs)
	if m.CPU != 2*time.Second || m.PeakRSS != 20 || m.Runs != 3 {
		t.Errorf("median = %+v, want the 2 s run of 3", m)
	}
	if m := median([]result{{CPU: time.Second}}); m.Runs != 1 || m.CPU != time.Second {
		t.Errorf("median of one = %+v", m)
	}
}

func TestFloorRejectsInvalidJSON(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.log"), []byte("{\"a\":1}\n{\"a\":\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runFloor(dir); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("runFloor on a broken second line: %v", err)
	}
}
