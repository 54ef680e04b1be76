package integration_test

// The forwarder core, end to end through the real bin/loglet process with
// LOGLET_SINK=stdout: lines written while the app rotates its file, the
// sidecar SIGKILLed and restarted, then stopped with SIGTERM and restarted.
// Every line must arrive; only SIGKILL may cause duplicates; a clean
// restart must cause none.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loglet/loglet/integration/internal/harness"
)

type forwarder struct {
	t      *testing.T
	bin    string
	dir    string
	logDir string
	runs   int
	proc   *harness.Process
	outs   []string
}

func newForwarder(t *testing.T) *forwarder {
	t.Helper()
	bin, err := harness.Loglet()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := &forwarder{t: t, bin: bin, dir: dir, logDir: filepath.Join(dir, "logs")}
	if err := os.MkdirAll(filepath.Join(dir, "podinfo"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "podinfo", "labels"), []byte("app=\"counter\"\n"), 0o644)
	if err := os.MkdirAll(f.logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if f.proc != nil && !f.proc.Exited() {
			f.proc.Kill()
		}
		if t.Failed() {
			for i := 0; i < f.runs; i++ {
				b, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("stderr-%d", i)))
				t.Logf("loglet run %d stderr:\n%s", i, b)
			}
		}
	})
	return f
}

func (f *forwarder) start() {
	f.t.Helper()
	env := []string{
		"POD_NAME=web-1", "POD_NAMESPACE=shop", "NODE_NAME=node-1", "CONTAINER_NAME=app",
		"LOGLET_SINK=stdout", "LOGLET_LOG_DIR=" + f.logDir,
		"LOGLET_PODINFO_DIR=" + filepath.Join(f.dir, "podinfo"),
		"LOGLET_HTTP_ADDR=", "LOGLET_POLL_INTERVAL=50ms", "LOGLET_ROTATE_WAIT=500ms",
		"LOGLET_SHUTDOWN_TIMEOUT=10s",
	}
	out := filepath.Join(f.dir, fmt.Sprintf("stdout-%d", f.runs))
	p, err := harness.Start(f.bin, nil, env, out, filepath.Join(f.dir, fmt.Sprintf("stderr-%d", f.runs)))
	if err != nil {
		f.t.Fatal(err)
	}
	f.runs++
	f.proc = p
	f.outs = append(f.outs, out)
}

// counts reads every run's output and counts each line number seen; it
// also checks every record is a well-formed, pod-labelled record.
func (f *forwarder) counts(runs []string) map[int]int {
	f.t.Helper()
	seen := map[int]int{}
	for _, out := range runs {
		file, err := os.Open(out)
		if err != nil {
			f.t.Fatal(err)
		}
		sc := bufio.NewScanner(file)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var r struct {
				Fields     struct{ Seq int }
				Kubernetes struct {
					PodName string `json:"pod_name"`
					Labels  map[string]string
				}
			}
			line := sc.Bytes()
			if !json.Valid(line) {
				// The last line of a SIGKILLed run's stdout may be cut short.
				continue
			}
			if err := json.Unmarshal(line, &r); err != nil {
				f.t.Fatalf("record %s: %v", line, err)
			}
			if r.Kubernetes.PodName != "web-1" || r.Kubernetes.Labels["app"] != "counter" {
				f.t.Fatalf("record without pod metadata: %s", line)
			}
			seen[r.Fields.Seq]++
		}
		file.Close()
	}
	return seen
}

func (f *forwarder) waitFor(n int, runs func() []string) map[int]int {
	f.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c := f.counts(runs())
		missing := 0
		for i := 0; i < n; i++ {
			if c[i] == 0 {
				missing++
			}
		}
		if missing == 0 {
			return c
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%d of %d lines never arrived", missing, n)
		}
		if f.proc.Exited() {
			f.t.Fatalf("loglet exited early")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// app writes numbered logrus lines to web-1.log, rotating it by rename
// every rotateEvery lines, alternately to a name that still matches the
// include pattern and to one that does not.
type app struct {
	dir      string
	f        *os.File
	next     int
	rotation int
}

func (a *app) write(t *testing.T, n, rotateEvery int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if a.f == nil {
			var err error
			a.f, err = os.OpenFile(filepath.Join(a.dir, "web-1.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
			if err != nil {
				t.Fatal(err)
			}
		}
		fmt.Fprintf(a.f, `{"level":"info","msg":"request served","seq":%d,"time":"%s"}`+"\n", a.next, time.Now().UTC().Format(time.RFC3339Nano))
		a.next++
		if a.next%rotateEvery == 0 {
			a.rotation++
			rotated := fmt.Sprintf("web-1.log.%d", a.rotation)
			if a.rotation%2 == 0 {
				rotated = fmt.Sprintf("web-1-%04d.log", a.rotation)
			}
			if err := os.Rename(filepath.Join(a.dir, "web-1.log"), filepath.Join(a.dir, rotated)); err != nil {
				t.Fatal(err)
			}
			a.f.Close()
			a.f = nil
		}
		if i%200 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
}

func TestForwarderSurvivesKillAndRestartsClean(t *testing.T) {
	f := newForwarder(t)
	a := &app{dir: f.logDir}
	defer func() {
		if a.f != nil {
			a.f.Close()
		}
	}()

	f.start()
	a.write(t, 3000, 2500)
	for kill := 0; kill < 3; kill++ {
		time.Sleep(time.Duration(50+kill*70) * time.Millisecond)
		f.proc.Kill()
		a.write(t, 3000, 2500) // the app goes on while the sidecar is down
		f.start()
		a.write(t, 2000, 2500)
	}
	total := a.next
	all := func() []string { return f.outs }
	counts := f.waitFor(total, all)
	dups := 0
	for _, c := range counts {
		dups += c - 1
	}
	t.Logf("%d lines, %d duplicates after 3 SIGKILLs", total, dups)

	// A clean stop: exit 0, and the next run sends nothing twice.
	if code, err := f.proc.Stop(30 * time.Second); err != nil || code != 0 {
		t.Fatalf("SIGTERM: exit %d, %v", code, err)
	}
	f.start()
	a.write(t, 500, 2500)
	final := func() []string { return f.outs[len(f.outs)-1:] }
	deadline := time.Now().Add(60 * time.Second)
	for {
		c := f.counts(final())
		got := 0
		for i := total; i < total+500; i++ {
			if c[i] > 0 {
				got++
			}
		}
		if got == 500 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of the 500 lines written after the restart arrived", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, err := f.proc.Stop(30 * time.Second); err != nil || code != 0 {
		t.Fatalf("second SIGTERM: exit %d, %v", code, err)
	}
	c := f.counts(final())
	for seq, n := range c {
		if seq < total {
			t.Errorf("line %d sent again after a clean restart", seq)
		}
		if n != 1 {
			t.Errorf("line %d sent %d times in the final run", seq, n)
		}
	}
	if len(c) != 500 {
		t.Errorf("final run sent %d records, want 500", len(c))
	}
}

func TestForwarderRejectsBadConfigBeforeTouchingFiles(t *testing.T) {
	bin, err := harness.Loglet()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	env := []string{"LOGLET_SINK=stdout", "POD_NAME=p", "LOGLET_LOG_DIR=" + dir,
		"LOGLET_POLL_INTERVAL=soon", "LOGLET_START_AT=middle"}
	p, err := harness.Start(bin, nil, env, filepath.Join(t.TempDir(), "out"), filepath.Join(t.TempDir(), "err"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code, err := p.Wait(ctx)
	if err != nil {
		p.Kill()
		t.Fatalf("did not exit: %v", err)
	}
	if code != 2 {
		t.Errorf("exit code %d, want 2", code)
	}
	stderr, _ := os.ReadFile(p.Stderr)
	for _, name := range []string{"LOGLET_POLL_INTERVAL", "LOGLET_START_AT"} {
		if !strings.Contains(string(stderr), name) {
			t.Errorf("stderr does not name %s:\n%s", name, stderr)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files created in the log dir: %v", entries)
	}
}
