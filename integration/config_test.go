package integration_test

// Configuration, through the real bin/loglet: every problem that can be
// found at start is reported at once with exit status 2 before any file is
// touched; what is valid starts; the sidecar's own logs stay readable.

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loglet/loglet/integration/internal/harness"
)

// startLoglet starts bin/loglet with exactly env; stdout and stderr go to
// files in the test's directory.
func startLoglet(t *testing.T, env []string) *harness.Process {
	t.Helper()
	bin, err := harness.Loglet()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p, err := harness.Start(bin, nil, env, filepath.Join(dir, "stdout"), filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !p.Exited() {
			p.Kill()
		}
	})
	return p
}

// refused runs bin/loglet with env, which it must refuse with status 2
// within a few seconds, and returns its stderr.
func refused(t *testing.T, env []string) string {
	t.Helper()
	p := startLoglet(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code, err := p.Wait(ctx)
	stderr, _ := os.ReadFile(p.Stderr)
	if err != nil {
		p.Kill()
		t.Fatalf("loglet did not exit: it started with a configuration it should refuse:\n%s", stderr)
	}
	if code != 2 {
		t.Errorf("exit status %d, want 2; stderr:\n%s", code, stderr)
	}
	return string(stderr)
}

func fileOf(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestConfigEveryProblemAtOnce: the problems that came one at a time after
// start with status 1 (topic template expanded for the pod, HTTP address,
// CA file with no PEM, missing password file, missing log dir) come in one
// message with status 2, beside the syntax errors, each naming its
// variable, and nothing is created.
func TestConfigEveryProblemAtOnce(t *testing.T) {
	dir := t.TempDir()
	logDir := filepath.Join(dir, "logs") // does not exist
	stateDir := filepath.Join(dir, "state")
	podinfo := filepath.Join(dir, "podinfo")
	if err := os.Mkdir(podinfo, 0o755); err != nil {
		t.Fatal(err)
	}
	fileOf(t, podinfo, "labels", "app=\"shop\"\n")
	notPEM := fileOf(t, dir, "ca.pem", "not a certificate\n")
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()

	stderr := refused(t, []string{
		"POD_NAME=web-1", // no POD_NAMESPACE: logs.{namespace} would be "logs."
		"LOGLET_LOG_DIR=" + logDir, "LOGLET_STATE_DIR=" + stateDir, "LOGLET_PODINFO_DIR=" + podinfo,
		"LOGLET_KAFKA_BROKERS=127.0.0.1:1", "LOGLET_KAFKA_KEY={label:team}",
		"LOGLET_KAFKA_TLS=true", "LOGLET_KAFKA_TLS_CA_FILE=" + notPEM,
		"LOGLET_KAFKA_SASL_MECHANISM=PLAIN", "LOGLET_KAFKA_SASL_USERNAME=u",
		"LOGLET_KAFKA_SASL_PASSWORD_FILE=" + filepath.Join(dir, "no-such-password"),
		"LOGLET_HTTP_ADDR=" + taken.Addr().String(),
		"LOGLET_DELETE_SHIPPED=yes", "LOGLET_SHUTDOWN_TIMEOUT=10", "LOGLET_KAFKA_BROKER=typo:9092",
	})
	for _, want := range []string{
		"LOGLET_LOG_DIR: stat " + logDir + ": no such file or directory",
		`LOGLET_KAFKA_TOPIC: "logs.{namespace}": {namespace} expands to nothing: POD_NAMESPACE is not set`,
		`LOGLET_KAFKA_KEY: "{label:team}": {label:team} expands to nothing: the pod has no label "team"`,
		"LOGLET_KAFKA_TLS_CA_FILE: no PEM certificate in " + notPEM,
		"LOGLET_KAFKA_SASL_PASSWORD_FILE: open " + filepath.Join(dir, "no-such-password"),
		"LOGLET_HTTP_ADDR: listen tcp " + taken.Addr().String(),
		`LOGLET_DELETE_SHIPPED: "yes" is not a boolean (true or false)`,
		`LOGLET_SHUTDOWN_TIMEOUT: "10" is not a duration`,
		"LOGLET_KAFKA_BROKER: unknown variable; did you mean LOGLET_KAFKA_BROKERS?",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	for _, raw := range []string{"strconv.", "is not positive", `"level"`} {
		if strings.Contains(stderr, raw) {
			t.Errorf("stderr has %q: a raw Go error, a second line for one bad value, or a log line after start", raw)
		}
	}
	if t.Failed() {
		t.Logf("stderr:\n%s", stderr)
	}
	for _, d := range []string{logDir, stateDir} {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("%s was created", d)
		}
	}
}

// TestConfigNeverProducesToAnEmptyPlaceholder: without POD_NAMESPACE, or
// with a {label:KEY} the pod lacks, the topic template must not expand to
// "logs."; loglet used to start and produce there.
func TestConfigNeverProducesToAnEmptyPlaceholder(t *testing.T) {
	for _, tt := range []struct {
		name, topic, unset, want string
	}{
		{"no namespace", "logs.{namespace}", "POD_NAMESPACE", "POD_NAMESPACE is not set"},
		{"no such label", "logs.{label:team}", "", `the pod has no label "team"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			env := []string{"POD_NAME=web-1", "LOGLET_LOG_DIR=" + dir, "LOGLET_PODINFO_DIR=" + dir, "LOGLET_HTTP_ADDR=",
				"LOGLET_KAFKA_BROKERS=127.0.0.1:1", "LOGLET_KAFKA_TOPIC=" + tt.topic}
			if tt.unset == "" {
				env = append(env, "POD_NAMESPACE=shop")
			}
			stderr := refused(t, env)
			if !strings.Contains(stderr, "LOGLET_KAFKA_TOPIC: ") || !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr does not name LOGLET_KAFKA_TOPIC and %q:\n%s", tt.want, stderr)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("files created in the log dir: %v", entries)
			}
		})
	}
}

// dryRun starts loglet with the stdout sink on a log dir holding one JSON
// line and returns the record it prints, failing if it exits first.
func dryRun(t *testing.T, extra ...string) map[string]any {
	t.Helper()
	dir := t.TempDir()
	fileOf(t, dir, "web-1.log", `{"level":"info","msg":"hello"}`+"\n")
	env := append([]string{"POD_NAME=web-1", "LOGLET_SINK=stdout", "LOGLET_LOG_DIR=" + dir,
		"LOGLET_PODINFO_DIR=" + filepath.Join(dir, "podinfo"), "LOGLET_POLL_INTERVAL=20ms"}, extra...)
	p := startLoglet(t, env)
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := os.ReadFile(p.Stdout)
		if line, _, ok := strings.Cut(string(out), "\n"); ok {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("record %q: %v", line, err)
			}
			return rec
		}
		if p.Exited() || time.Now().After(deadline) {
			stderr, _ := os.ReadFile(p.Stderr)
			t.Fatalf("no record on stdout (exited: %v); stderr:\n%s", p.Exited(), stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConfigEmptyHTTPAddrDisablesTheServer: LOGLET_HTTP_ADDR= is documented
// as disabling the server, but bound :9110. With :9110 taken, loglet must
// still run.
func TestConfigEmptyHTTPAddrDisablesTheServer(t *testing.T) {
	if ln, err := net.Listen("tcp", ":9110"); err == nil {
		defer ln.Close()
	} // else something else holds it: taken either way
	dryRun(t, "LOGLET_HTTP_ADDR=")
}

// TestConfigSizesTakeOneSyntax: LOGLET_KAFKA_*_BYTES refused the MiB that
// LOGLET_MAX_*_BYTES took.
func TestConfigSizesTakeOneSyntax(t *testing.T) {
	dryRun(t, "LOGLET_HTTP_ADDR=", "LOGLET_MAX_BUFFER_BYTES=8MiB", "LOGLET_MAX_LINE_BYTES=64 KiB",
		"LOGLET_KAFKA_BATCH_BYTES=1MiB", "LOGLET_KAFKA_MAX_MESSAGE_BYTES=2MB",
		"LOGLET_MAX_FILE_BYTES=100MiB", "LOGLET_MAX_FILES=3") // applib's, from a shared envFrom
}

// TestConfigShellNamesStayOutOfTheDryRun: a developer's HOSTNAME, NODE_NAME
// and CONTAINER_NAME are not the pod's.
func TestConfigShellNamesStayOutOfTheDryRun(t *testing.T) {
	rec := dryRun(t, "LOGLET_HTTP_ADDR=", "HOSTNAME=laptop", "NODE_NAME=jenkins-agent-3", "CONTAINER_NAME=toolbox")
	k, _ := json.Marshal(rec["kubernetes"])
	if string(k) != `{"pod_name":"web-1"}` {
		t.Errorf("kubernetes = %s, want only the pod name", k)
	}
	rec = dryRun(t, "LOGLET_HTTP_ADDR=", "NODE_NAME=node-1", "CONTAINER_NAME=app", "KUBERNETES_SERVICE_HOST=10.96.0.1")
	k, _ = json.Marshal(rec["kubernetes"])
	if string(k) != `{"container_name":"app","host":"node-1","pod_name":"web-1"}` {
		t.Errorf("in a pod, kubernetes = %s, want the node and container", k)
	}
}

// TestRepeatedErrorsAreRateLimited: a log directory that vanishes is met at
// every poll; its error was logged each time (3 a second at the default
// interval, 50 a second here). Now the first is logged and the repeats
// within 30 s are held back.
func TestRepeatedErrorsAreRateLimited(t *testing.T) {
	dir := t.TempDir()
	logDir := filepath.Join(dir, "logs")
	if err := os.Mkdir(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	fileOf(t, logDir, "web-1.log", `{"msg":"hello"}`+"\n")
	p := startLoglet(t, []string{"POD_NAME=web-1", "LOGLET_SINK=stdout", "LOGLET_LOG_DIR=" + logDir,
		"LOGLET_STATE_DIR=" + filepath.Join(dir, "state"), "LOGLET_PODINFO_DIR=" + filepath.Join(dir, "podinfo"),
		"LOGLET_HTTP_ADDR=", "LOGLET_POLL_INTERVAL=20ms"})
	waitFile := func(path, what string, cond func(string) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			b, _ := os.ReadFile(path)
			if cond(string(b)) {
				return
			}
			if p.Exited() || time.Now().After(deadline) {
				stderr, _ := os.ReadFile(p.Stderr)
				t.Fatalf("waiting for %s (exited: %v); stderr:\n%s", what, p.Exited(), stderr)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFile(p.Stdout, "the first record", func(s string) bool { return strings.Contains(s, "hello") })
	if err := os.RemoveAll(logDir); err != nil {
		t.Fatal(err)
	}
	errorLines := func(s string) map[string]int {
		kinds := map[string]int{}
		for _, line := range strings.Split(s, "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) != nil || (rec["level"] != "ERROR" && rec["level"] != "WARN") {
				continue
			}
			delete(rec, "time")
			delete(rec, "suppressed")
			k, _ := json.Marshal(rec)
			kinds[string(k)]++
		}
		return kinds
	}
	waitFile(p.Stderr, "an error about the vanished directory", func(s string) bool { return len(errorLines(s)) > 0 })
	// 200 polls at 20ms: the same error was logged again every second or so.
	time.Sleep(4 * time.Second)
	if p.Exited() {
		t.Fatal("loglet exited")
	}
	stderr, _ := os.ReadFile(p.Stderr)
	for k, n := range errorLines(string(stderr)) {
		if n > 2 {
			t.Errorf("logged %d times in 4s: %s", n, k)
		}
	}
}
