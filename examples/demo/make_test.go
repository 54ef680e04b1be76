//go:build linux

package main

// TestMakeDemo runs `make demo` the way a person does in a terminal: as a
// process group, stopped with SIGINT sent to the whole group (what Ctrl-C
// does). It reads the output through a pipe, so it also checks that piped
// output is plain.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Deadlines of the test's waits.
const (
	startTimeout = 5 * time.Minute // make builds three binaries first; a cold cache is slow
	stopTimeout  = time.Minute
)

// output collects a process's output lines as they come.
type output struct {
	mu    sync.Mutex
	lines []string
	done  chan struct{} // closed at EOF
}

func collect(r interface{ Read([]byte) (int, error) }) *output {
	o := &output{done: make(chan struct{})}
	go func() {
		defer close(o.done)
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			o.mu.Lock()
			o.lines = append(o.lines, sc.Text())
			o.mu.Unlock()
		}
	}()
	return o
}

func (o *output) snapshot() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.lines...)
}

func (o *output) String() string { return strings.Join(o.snapshot(), "\n") }

// A record line of the demo's output: time, level, message, the fields as
// JSON values, namespace/pod and topic/partition@offset.
var (
	sampleLine = regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{3}Z INFO  sample log count=(\d+) latency_ms=(\d+\.\d+) text_sample="fooooo"  demo/counter-7d9c5-x2x4z  logs\.demo/0@(\d+)$`)
	errorLine  = regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{3}Z ERROR request failed: simulated exception count=(\d+) latency_ms=\d+\.\d+ text_sample="fooooo"  demo/counter-7d9c5-x2x4z  logs\.demo/0@(\d+)$`)
	stopLine   = regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{3}Z INFO  stopping count=(\d+)  demo/counter-7d9c5-x2x4z  logs\.demo/0@(\d+)$`)
	removed    = regexp.MustCompile(`^Removed (.+)\. Nothing is left running\.$`)
)

func TestMakeDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs make demo, which builds loglet, the counter and the demo; skipped with -short")
	}
	makeBin, err := exec.LookPath("make")
	if err != nil {
		t.Fatalf("make demo needs make: %v", err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	tmpDir := filepath.Join(tmp, "tmp") // TMPDIR: where the demo makes its directory
	if err := os.Mkdir(tmpDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Every process make demo starts inherits this variable, so the test can
	// find any that is left, whatever its process group or parent. It is not
	// named LOGLET_*: loglet refuses unknown LOGLET_ variables.
	mark := fmt.Sprintf("DEMO_TEST_MARK=%d-%d", os.Getpid(), time.Now().UnixNano())

	// BIN= keeps the binaries in the test's directory: under `make test`,
	// other tests run bin/loglet while this one runs.
	cmd := exec.Command(makeBin, "--no-print-directory", "demo", "BIN="+filepath.Join(tmp, "bin"))
	cmd.Dir = root
	cmd.Env = append(personEnv(os.Environ()), "TMPDIR="+tmpDir, mark)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a terminal's foreground job
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	var stderrMu sync.Mutex
	cmd.Stderr = writerFunc(func(p []byte) (int, error) {
		stderrMu.Lock()
		defer stderrMu.Unlock()
		return stderr.Write(p)
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := collect(stdout)
	exited := make(chan error, 1)
	go func() {
		<-out.done // Wait closes the pipe: read everything first
		exited <- cmd.Wait()
	}()
	pgid := cmd.Process.Pid
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			syscall.Kill(-pgid, syscall.SIGKILL)
			for _, pid := range marked(t, mark) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			select {
			case <-exited:
			case <-time.After(stopTimeout):
				t.Errorf("make demo still running %s after SIGKILL", stopTimeout)
			}
		}
		if t.Failed() {
			stderrMu.Lock()
			t.Logf("stdout:\n%s\nstderr:\n%s", out, stderr.String())
			stderrMu.Unlock()
		}
	})

	// Wait for the first record in full, then for five more lines: enough
	// for an error record (the app logs every fifth request as one).
	deadline := time.Now().Add(startTimeout)
	for countRecords(out.snapshot()) < 6 {
		select {
		case err := <-exited:
			stopped = true
			t.Fatalf("make demo exited before printing records: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than 6 records printed after %s", startTimeout)
		}
	}

	// Ctrl-C.
	if err := syscall.Kill(-pgid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		// make exits because of the interrupt once the demo has ended.
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Errorf("make demo: %v", err)
		}
	case <-time.After(stopTimeout):
		t.Fatalf("make demo still running %s after SIGINT", stopTimeout)
	}
	if left := marked(t, mark); len(left) > 0 {
		t.Errorf("processes left running after make demo ended: %v", left)
	}
	entries, err := os.ReadDir(tmpDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind in TMPDIR: %s", e.Name())
	}

	lines := out.snapshot()
	checkHeader(t, lines)
	checkFirstRecord(t, lines)
	checkRecordLines(t, lines)
	for _, l := range lines {
		if strings.Contains(l, "\x1b[") {
			t.Errorf("piped output has an escape sequence: %q", l)
			break
		}
	}
	var demoDir string
	for _, l := range lines {
		if m := removed.FindStringSubmatch(l); m != nil {
			demoDir = m[1]
		}
	}
	if demoDir == "" {
		t.Errorf("the demo did not report removing its directory")
	} else if !strings.HasPrefix(demoDir, tmpDir+string(filepath.Separator)) {
		t.Errorf("the demo's directory %s is not in TMPDIR %s", demoDir, tmpDir)
	}
}

// personEnv returns environ without what a person's shell would not have
// when typing make demo: make's variables from an enclosing make (make
// test), the CGO_ENABLED=1 make test sets for the race detector, and
// loglet's own variables.
func personEnv(environ []string) []string {
	var out []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "MAKEFLAGS", k == "MFLAGS", k == "MAKELEVEL", k == "MAKEOVERRIDES", k == "TMPDIR", k == "CGO_ENABLED",
			strings.HasPrefix(k, "LOGLET_"), strings.HasPrefix(k, "POD_"):
			continue
		}
		out = append(out, kv)
	}
	return out
}

// marked returns the processes whose environment holds mark.
func marked(t *testing.T, mark string) []int {
	t.Helper()
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatalf("list processes: %v", err)
	}
	var pids []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", d.Name(), "environ"))
		if err != nil {
			continue // ended meanwhile, or not ours
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if string(kv) == mark {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// countRecords returns how many record lines (not counting the full one)
// lines hold.
func countRecords(lines []string) int {
	n := 0
	for _, l := range lines {
		if sampleLine.MatchString(l) || errorLine.MatchString(l) {
			n++
		}
	}
	return n
}

// checkHeader checks that the demo said what runs where.
func checkHeader(t *testing.T, lines []string) {
	t.Helper()
	text := strings.Join(lines, "\n")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^  app       \S+/counter -interval 1s -error-every 5 \(pid \d+\)`),
		regexp.MustCompile(`(?m)^  pod       demo/counter-7d9c5-x2x4z on node demo-node-1, container counter`),
		regexp.MustCompile(`(?m)^  sidecar   \S+/loglet \(pid \d+\)`),
		regexp.MustCompile(`(?m)^  Kafka     in-process broker \(kfake\) at 127\.0\.0\.1:\d+, topic logs\.demo$`),
		regexp.MustCompile(`(?m)^Ctrl-C stops`),
	} {
		if !want.MatchString(text) {
			t.Errorf("output has no line matching %s", want)
		}
	}
}

// checkFirstRecord decodes the record printed in full and checks its pod
// metadata and the types of its fields.
func checkFirstRecord(t *testing.T, lines []string) {
	t.Helper()
	start := -1
	for i, l := range lines {
		if l == "  {" {
			start = i
			break
		}
	}
	end := -1
	for i := start + 1; start >= 0 && i < len(lines); i++ {
		if lines[i] == "  }" {
			end = i
			break
		}
	}
	if start < 0 || end < 0 {
		t.Errorf("no record printed in full")
		return
	}
	var rec struct {
		Level      string
		Msg        string
		Fields     map[string]json.RawMessage
		Kubernetes map[string]any
		Log        map[string]any
	}
	if err := json.Unmarshal([]byte(strings.Join(lines[start:end+1], "\n")), &rec); err != nil {
		t.Errorf("the record printed in full is not JSON: %v", err)
		return
	}
	wantK8s := map[string]any{
		"pod_name": "counter-7d9c5-x2x4z", "namespace_name": "demo", "pod_id": "3f8e2c1a-5b7d-4e9f-a1c2-d3e4f5a6b7c8",
		"pod_ip": "10.244.1.17", "host": "demo-node-1", "container_name": "counter",
		"labels":      map[string]any{"app": "counter", "pod-template-hash": "7d9c5"},
		"annotations": map[string]any{"team": "storefront", "loglet.dev/inject": "enabled"},
	}
	if diff := cmp.Diff(wantK8s, rec.Kubernetes); diff != "" {
		t.Errorf("kubernetes metadata (-want +got):\n%s", diff)
	}
	if rec.Level != "info" || rec.Msg != "sample log" {
		t.Errorf("first record: level %q msg %q, want info and sample log", rec.Level, rec.Msg)
	}
	if c := string(rec.Fields["count"]); c != "0" {
		t.Errorf("first record: count %s, want the integer 0", c)
	}
	if l := string(rec.Fields["latency_ms"]); !regexp.MustCompile(`^\d+\.\d+$`).MatchString(l) {
		t.Errorf("first record: latency_ms %s, want a float", l)
	}
	if f := rec.Log["file"]; f != "counter-7d9c5-x2x4z.log" {
		t.Errorf("first record: log.file %v, want counter-7d9c5-x2x4z.log", f)
	}
}

// checkRecordLines checks the one-line records: counts 0, 1, 2… in offset
// order, every fifth an error, and the app's last record ("stopping")
// printed after Ctrl-C, before the demo's closing words.
func checkRecordLines(t *testing.T, lines []string) {
	t.Helper()
	next := 0
	stopping := -1
	for i, l := range lines {
		var m []string
		wantError := (next+1)%5 == 0
		switch {
		case sampleLine.MatchString(l) && !wantError:
			m = sampleLine.FindStringSubmatch(l)
			m = []string{m[0], m[1], m[3]}
		case errorLine.MatchString(l) && wantError:
			m = errorLine.FindStringSubmatch(l)
		case stopLine.MatchString(l):
			m = stopLine.FindStringSubmatch(l)
			stopping = i
		default:
			if sampleLine.MatchString(l) || errorLine.MatchString(l) {
				t.Errorf("record %d at the wrong level: %q", next, l)
			}
			continue
		}
		count, offset := m[1], m[2]
		if count != strconv.Itoa(next) || offset != strconv.Itoa(next) {
			t.Errorf("record line %q: want count and offset %d", l, next)
		}
		next++
	}
	if stopping < 0 {
		t.Errorf("the app's last record (stopping) was not printed")
		return
	}
	var interrupted, closing int = -1, -1
	for i, l := range lines {
		if l == "Stopping: the app first." {
			interrupted = i
		}
		if removed.MatchString(l) {
			closing = i
		}
	}
	if !(interrupted < stopping && stopping < closing) {
		t.Errorf("lines: Stopping at %d, the stopping record at %d, the closing words at %d; want them in this order", interrupted, stopping, closing)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
