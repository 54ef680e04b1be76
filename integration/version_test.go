package integration_test

// The version promise: one semantic version, the VERSION file's
// unless a tagged build sets another, reported by every binary's -version,
// in the sidecar's "loglet started" line and as loglet_build_info; and the
// sidecar's own logs give durations in readable units.

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/loglet/loglet/integration/internal/harness"
)

// semver is a semantic version as the Makefile makes them: X.Y.Z, maybe
// with git describe's -N-gHASH and -dirty.
var semver = regexp.MustCompile(`^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`)

// TestVersionDefaultIsTheVersionFile: a plain `go build`, without the
// Makefile's -ldflags, reports the VERSION file's version from each binary.
func TestVersionDefaultIsTheVersionFile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds four binaries; skipped with -short")
	}
	root, want := moduleRoot(t), readVersion(t)
	out := t.TempDir()
	cmd := exec.Command("go", "build", "-o", out+"/", "./sidecar/cmd/loglet", "./sidecar/cmd/loglet-injector", "./examples/counter", "./examples/alerter")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	for _, name := range []string{"loglet", "loglet-injector", "counter", "alerter"} {
		got, err := exec.Command(filepath.Join(out, name), "-version").CombinedOutput()
		if err != nil || !strings.HasPrefix(string(got), name+" "+want+"\n") && !strings.HasPrefix(string(got), name+" "+want+" (") {
			t.Errorf("%s -version = %q, %v; want %q first", name, got, err, name+" "+want)
		}
	}
}

// TestVersionEverywhere runs the real bin/loglet: -version, the start log
// line and loglet_build_info name the same semantic version, and the
// shutdown line's durations are readable ("10s", not 10000000000).
func TestVersionEverywhere(t *testing.T) {
	bin, err := harness.Loglet()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-version").Output()
	if err != nil {
		t.Fatalf("loglet -version: %v", err)
	}
	m := regexp.MustCompile(`^loglet (\S+) \((go\S+), revision (\S+)\)\n$`).FindStringSubmatch(string(out))
	if m == nil || !semver.MatchString(m[1]) {
		t.Fatalf("loglet -version = %q, want `loglet X.Y.Z (goVERSION, revision R)`", out)
	}
	version, goVersion, revision := m[1], m[2], m[3]

	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	sc := harness.StartSidecar(t, map[string]string{
		"POD_NAME": "web-1", "POD_NAMESPACE": "shop", "LOGLET_SINK": "stdout", "LOGLET_LOG_DIR": logs,
		"LOGLET_PODINFO_DIR": filepath.Join(dir, "podinfo"), "LOGLET_SHUTDOWN_TIMEOUT": "10s",
	})
	sc.WaitFor(t, 30*time.Second, "loglet_build_info", func() bool {
		return sc.Metric("loglet_build_info", `version="`+version+`"`, `goversion="`+goVersion+`"`, `revision="`+revision+`"`) == 1
	})
	if code, err := sc.Stop(30 * time.Second); err != nil || code != 0 {
		t.Fatalf("stop: exit %d, %v", code, err)
	}

	lines := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(sc.Output()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("a log line is not JSON: %q", line)
		}
		if msg, _ := rec["msg"].(string); msg != "" {
			lines[msg] = rec
		}
	}
	started := lines["loglet started"]
	if started == nil || started["version"] != version {
		t.Errorf(`"loglet started" = %v, want version %q`, started, version)
	}
	var shutdown map[string]any
	for msg, rec := range lines {
		if strings.HasPrefix(msg, "shutting down") {
			shutdown = rec
		}
	}
	if shutdown == nil || shutdown["timeout"] != "10s" {
		t.Errorf(`the shutdown line = %v, want "timeout":"10s"`, shutdown)
	}
}
