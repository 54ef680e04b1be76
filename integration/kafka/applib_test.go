package kafka_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/loglet/loglet/integration/internal/harness"
)

// buildCounter builds examples/counter, the example service that logs
// through applib, into a temporary directory.
func buildCounter(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "counter")
	cmd := exec.Command("go", "build", "-o", bin, "./examples/counter")
	cmd.Dir = harness.RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build examples/counter: %v\n%s", err, out)
	}
	return bin
}

// TestAppRetentionWaitsForLoglet, with the real binaries: examples/counter logs through applib with
// LOGLET_MAX_FILE_BYTES=16384 and LOGLET_MAX_FILES=1 next to the real
// loglet while Kafka is down. applib used to delete the rotated files
// loglet had not shipped, silently. Now every count the app logged either
// reaches Kafka once Kafka is back, or is reported missing by applib's
// "dropped" record, which reaches Kafka too: nothing is lost unaccounted,
// and what was kept is the oldest, without a gap.
func TestAppRetentionWaitsForLoglet(t *testing.T) {
	counter := buildCounter(t)
	k := harness.StartKafka(t, true, kfake.NumBrokers(1))
	k.Fake(t)
	p := &pod{name: "web-1", namespace: uniq("retention"), dir: t.TempDir()}
	logDir := filepath.Join(p.dir, "logs")
	for _, d := range []string{logDir, filepath.Join(p.dir, "podinfo")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(p.dir, "podinfo", "labels"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	k.CreateTopic(t, p.topic(), 1)
	sc := harness.StartSidecar(t, p.env(k, "LOGLET_CHECKPOINT_INTERVAL=200ms"))
	sc.WaitFor(t, 20*time.Second, "the sidecar's first checkpoint save", func() bool {
		_, err := os.Stat(p.stateFile())
		return err == nil
	})
	k.Stop(t)

	app, err := harness.Start(counter, []string{"-interval", "1ms"}, []string{
		"LOGLET_LOG_DIR=" + logDir, "POD_NAME=" + p.name,
		"LOGLET_STATE_DIR=" + filepath.Join(p.dir, "state"), // as the sidecar's
		"LOGLET_MAX_FILE_BYTES=16384", "LOGLET_MAX_FILES=1",
	}, filepath.Join(p.dir, "app.stdout"), filepath.Join(p.dir, "app.stderr"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !app.Exited() {
			app.Kill()
		}
	})
	appStderr := func() string { b, _ := os.ReadFile(app.Stderr); return string(b) }
	// waitUpTo waits until cond holds or d passes: the checks below, not
	// these waits, decide the test, so that it fails on what was lost.
	waitUpTo := func(d time.Duration, cond func() bool) {
		for end := time.Now().Add(d); !cond() && time.Now().Before(end); {
			time.Sleep(50 * time.Millisecond)
		}
	}
	// At about 20 KB/s the app fills the 32 KiB the settings allow in 2 s.
	waitUpTo(20*time.Second, func() bool { return strings.Contains(appStderr(), "applib: dropped ") })
	time.Sleep(2 * time.Second) // keep the volume full for a while
	k.Restart(t)
	sc.WaitFor(t, 30*time.Second, "/readyz 200 after the outage", func() bool { s, _ := sc.Get("/readyz"); return s == 200 })
	waitUpTo(20*time.Second, func() bool { return strings.Contains(appStderr(), "applib: writing to ") })
	time.Sleep(time.Second)
	if err := app.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, err := app.Stop(10 * time.Second); code != 0 || err != nil {
		t.Fatalf("counter exited with %d, %v; stderr:\n%s", code, err, appStderr())
	}

	// The counts 0..n-1 were logged; n is what the final "stopping" says.
	var n int
	var seen map[int]bool
	var reported int64
	sc.WaitFor(t, time.Minute, "the app's last record in Kafka", func() bool {
		n, seen, reported = -1, map[int]bool{}, 0
		for _, m := range k.Read(t, p.topic(), 0, time.Second) {
			var v struct {
				Msg    string
				Fields map[string]any
			}
			if err := json.Unmarshal([]byte(m.Value), &v); err != nil {
				t.Fatalf("record %s: %v", m.Value, err)
			}
			c, hasCount := v.Fields["count"].(float64)
			switch {
			case v.Msg == "stopping" && hasCount:
				n = int(c)
			case hasCount:
				seen[int(c)] = true
			case v.Fields["dropped_records"] != nil:
				reported += int64(v.Fields["dropped_records"].(float64))
			}
		}
		return n >= 0
	})
	first := -1 // the first count missing from Kafka
	missing := 0
	for c := range n {
		if !seen[c] {
			missing++
			if first < 0 {
				first = c
			}
		}
	}
	// Drops applib could not write into the log before it closed, it
	// reports on stderr.
	for line := range strings.Lines(appStderr()) {
		var path string
		var records int64
		if _, err := fmt.Sscanf(line, "applib: closing %s with %d log records", &path, &records); err == nil {
			reported += records
		}
	}
	t.Logf("%d counts logged, %d in Kafka, %d missing, %d reported dropped by applib", n, n-missing, missing, reported)
	if first == 0 {
		t.Errorf("count 0 missing from Kafka: the oldest records, which loglet had not shipped, were deleted")
	}
	if int64(missing) != reported {
		t.Errorf("%d counts missing from Kafka but applib reported %d dropped: records were lost unaccounted", missing, reported)
	}
	if missing == 0 {
		t.Errorf("nothing was dropped: the volume never filled, so the test shows nothing")
	}
}
