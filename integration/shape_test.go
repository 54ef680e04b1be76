package integration_test

// The shaping rules through the real bin/loglet: log_to_metrics served on /metrics,
// and the dry run (LOGLET_SINK=stdout) showing what the rules do.

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sirupsen/logrus"

	"github.com/loglet/loglet/integration/internal/harness"
)

// TestLogToMetrics writes lines with count and latency_ms fields, scrapes
// the binary's /metrics, and checks the counter (the sum of count, by level
// and the pod's app label) and every histogram bucket; the debug lines a
// rule drops are counted still, and the dry run prints them marked.
func TestLogToMetrics(t *testing.T) {
	dir := t.TempDir()
	logDir, podinfo := filepath.Join(dir, "logs"), filepath.Join(dir, "podinfo")
	if err := os.MkdirAll(podinfo, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(podinfo, "labels"), []byte("app=\"shop\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	app := harness.NewApp(t, logDir, "web-1.log")
	log := app.Logrus(true)
	latencies := []float64{3, 7.5, 12, 40, 99.9, 100, 250, 1200}
	sumCount := map[string]float64{}
	for i, l := range latencies {
		level := logrus.InfoLevel
		if i%4 == 3 {
			level = logrus.DebugLevel
		}
		log.WithFields(logrus.Fields{"count": i + 1, "latency_ms": l, "user": "ann@example.com"}).Log(level, "served ann@example.com")
		sumCount[level.String()] += float64(i + 1)
	}
	sc := harness.StartSidecar(t, map[string]string{
		"LOGLET_SINK": "stdout", "LOGLET_LOG_DIR": logDir, "LOGLET_PODINFO_DIR": podinfo, "POD_NAME": "web-1",
		"LOGLET_METRICS": "app_items_total counter count by=level,app=kubernetes.labels.app; " +
			"app_latency_ms histogram latency_ms buckets=10,100,1000",
		"LOGLET_DROP_LEVELS": "debug",
		"LOGLET_REDACT":      `msg,user~[\w.+-]+@[\w-]+\.[\w.]+`,
	})
	sc.WaitFor(t, 20*time.Second, "every line observed", func() bool {
		return sc.Metric("app_latency_ms_count") == float64(len(latencies))
	})
	_, body := sc.Get("/metrics")
	got := map[string]string{}
	for line := range strings.Lines(body) {
		if strings.HasPrefix(line, "app_") {
			series, value, _ := strings.Cut(strings.TrimSpace(line), " ")
			got[series] = value
		}
	}
	want := map[string]string{
		`app_items_total{app="shop",level="info"}`:   strconv.FormatFloat(sumCount["info"], 'g', -1, 64),
		`app_items_total{app="shop",level="debug"}`:  strconv.FormatFloat(sumCount["debug"], 'g', -1, 64),
		`app_items_total{app="other",level="other"}`: "0",
		`app_latency_ms_bucket{le="10"}`:             "2",
		`app_latency_ms_bucket{le="100"}`:            "6",
		`app_latency_ms_bucket{le="1000"}`:           "7",
		`app_latency_ms_bucket{le="+Inf"}`:           "8",
		`app_latency_ms_sum`:                         "1712.4",
		`app_latency_ms_count`:                       "8",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("/metrics (-want +got):\n%s\n%s", diff, body)
	}
	if v := sc.Metric("loglet_shape_records_total", `action="dropped"`, `rule="LOGLET_DROP_LEVELS"`); v != 2 {
		t.Errorf("dropped counter %v, want 2", v)
	}

	// The dry run prints every record, those a rule would drop marked.
	if _, err := sc.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(sc.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	var dropped, shown int
	s := bufio.NewScanner(strings.NewReader(string(out)))
	for s.Scan() {
		var rec struct {
			Level   string
			Msg     string
			Dropped string `json:"loglet_dropped"`
			Fields  map[string]any
		}
		if err := json.Unmarshal(s.Bytes(), &rec); err != nil {
			t.Fatalf("%v: %s", err, s.Bytes())
		}
		shown++
		if rec.Msg != "served [REDACTED]" || rec.Fields["user"] != "[REDACTED]" {
			t.Errorf("not redacted: %s", s.Bytes())
		}
		if (rec.Dropped == "LOGLET_DROP_LEVELS") != (rec.Level == "debug") {
			t.Errorf("dry-run mark wrong: %s", s.Bytes())
		}
		if rec.Dropped != "" {
			dropped++
		}
	}
	if shown != len(latencies) || dropped != 2 {
		t.Errorf("dry run printed %d records, %d marked dropped; want %d and 2", shown, dropped, len(latencies))
	}
}

// TestShapeRulesCheckedAtStart: bad rules stop loglet with status 2,
// each naming its variable.
func TestShapeRulesCheckedAtStart(t *testing.T) {
	dir := t.TempDir()
	stderr := refused(t, []string{"LOGLET_SINK=stdout", "POD_NAME=p", "LOGLET_LOG_DIR=" + dir, "LOGLET_HTTP_ADDR=",
		"LOGLET_METRICS=go_goroutines counter", "LOGLET_DROP_IF=path", "LOGLET_MULTILINE_START=(",
		"LOGLET_MULTILINE_CONTINUE=x", "LOGLET_REDACT=msg~["})
	for _, name := range []string{"LOGLET_METRICS:", "LOGLET_DROP_IF:", "LOGLET_MULTILINE_START:", "LOGLET_REDACT:"} {
		if !strings.Contains(stderr, name) {
			t.Errorf("stderr does not name %s\n%s", name, stderr)
		}
	}
}
