package harness

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Sidecar is a running loglet process with its HTTP server on a free local
// port.
//
// Concurrency: Get, Metric, Output and WaitFor may be called from any
// goroutine; the Process methods from the test's goroutine.
type Sidecar struct {
	*Process
	// HTTP is the address of its /healthz, /readyz, /status and /metrics
	// server.
	HTTP string
	// Env is the environment it was started with, without
	// LOGLET_HTTP_ADDR.
	Env map[string]string
}

// StartSidecar starts the loglet binary with exactly env (nothing of the
// test's own environment) plus LOGLET_HTTP_ADDR. The test's cleanup kills it
// if it still runs and, when the test failed, logs the end of its output.
func StartSidecar(t testing.TB, env map[string]string) *Sidecar {
	t.Helper()
	bin, err := Loglet()
	if err != nil {
		t.Fatal(err)
	}
	s := &Sidecar{HTTP: freeAddr(t), Env: env}
	list := []string{"LOGLET_HTTP_ADDR=" + s.HTTP}
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	dir := t.TempDir()
	s.Process, err = Start(bin, nil, list, filepath.Join(dir, "stdout"), filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !s.Exited() {
			s.Kill()
		}
		if t.Failed() {
			t.Logf("loglet %s output:\n%s", env["POD_NAME"], lastLines(s.Output(), 100))
		}
	})
	return s
}

// Output returns what the process wrote to stderr (its logs) so far.
func (s *Sidecar) Output() string {
	b, _ := os.ReadFile(s.Stderr)
	return string(b)
}

// PeakRSS returns the process's peak resident set size (VmHWM) in bytes;
// the process must still be running.
func (s *Sidecar) PeakRSS(t testing.TB) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.Cmd.Process.Pid))
	if err != nil {
		t.Fatalf("read peak RSS: %v", err)
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// Get fetches path from the HTTP server and returns the status and body;
// status 0 means the server could not be reached (the body is the error).
func (s *Sidecar) Get(path string) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.HTTP+path, nil)
	if err != nil {
		return 0, err.Error()
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// WaitFor polls cond until it holds; the test fails after timeout, or at
// once when the process exits first.
func (s *Sidecar) WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if s.Exited() {
			t.Fatalf("loglet exited while waiting for %s", what)
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Metric returns the sum of the samples of the Prometheus metric name whose
// labels include each of labels (written `key="value"`), or -1 when
// /metrics cannot be fetched.
func (s *Sidecar) Metric(name string, labels ...string) float64 {
	status, body := s.Get("/metrics")
	if status != http.StatusOK {
		return -1
	}
	sum := 0.0
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		series, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || (series != name && !strings.HasPrefix(series, name+"{")) {
			continue
		}
		matches := true
		for _, l := range labels {
			matches = matches && strings.Contains(series, l)
		}
		if v, err := strconv.ParseFloat(strings.Fields(value)[0], 64); err == nil && matches {
			sum += v
		}
	}
	return sum
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
