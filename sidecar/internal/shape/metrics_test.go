package shape

import (
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

func strconvF(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func TestLogToMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	spec := mustSpec(t, vars{"METRICS": "app_items_total counter count by=level,app=kubernetes.labels.app;" +
		"app_latency_ms histogram latency_ms buckets=10,100 by=path; app_lines_total counter",
		"DROP_LEVELS": "debug"})
	sh, err := New(spec, reg)
	if err != nil {
		t.Fatal(err)
	}
	shapeLines(t, sh,
		`{"level":"info","count":3,"latency_ms":5,"path":"/a"}`,
		`{"level":"info","count":"2","latency_ms":50.5,"path":"/a"}`,
		`level=debug count=1 latency_ms=500 path=/b`, // dropped, and still counted
		`{"level":"warning","count":-1,"latency_ms":"slow"}`,
		`{"msg":"no fields"}`,
	)
	got := gather(t, reg, "app_items_total")
	for k, v := range gather(t, reg, "app_latency_ms") {
		got[k] = v
	}
	for k, v := range gather(t, reg, "app_lines_total") {
		got[k] = v
	}
	for k, v := range gather(t, reg, "loglet_log_metrics_invalid_total") {
		got[k] = v
	}
	want := map[string]float64{
		`app_items_total{app="shop",level="info"}`:                   5,
		`app_items_total{app="shop",level="debug"}`:                  1,
		`app_items_total{app="other",level="other"}`:                 0,
		`app_latency_ms{path="/a"} count`:                            2,
		`app_latency_ms{path="/a"} sum`:                              55.5,
		`app_latency_ms{path="/a"} le=10`:                            1,
		`app_latency_ms{path="/a"} le=100`:                           2,
		`app_latency_ms{path="/b"} count`:                            1,
		`app_latency_ms{path="/b"} sum`:                              500,
		`app_latency_ms{path="/b"} le=10`:                            0,
		`app_latency_ms{path="/b"} le=100`:                           0,
		`app_latency_ms{path="other"} count`:                         0,
		`app_latency_ms{path="other"} sum`:                           0,
		`app_latency_ms{path="other"} le=10`:                         0,
		`app_latency_ms{path="other"} le=100`:                        0,
		`app_lines_total`:                                            5,
		`loglet_log_metrics_invalid_total{metric="app_items_total"}`: 1,
		`loglet_log_metrics_invalid_total{metric="app_latency_ms"}`:  1,
		`loglet_log_metrics_invalid_total{metric="app_lines_total"}`: 0,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestMetricCardinalityFolds(t *testing.T) {
	reg := prometheus.NewRegistry()
	spec := mustSpec(t, vars{"METRICS": "app_users_total counter by=user"})
	spec.MaxSeries = 2
	sh, err := New(spec, reg)
	if err != nil {
		t.Fatal(err)
	}
	shapeLines(t, sh, "user=a", "user=b", "user=c", "user=a", "user=d", "user=\xff\xfe")
	got := gather(t, reg, "app_users_total")
	for k, v := range gather(t, reg, "loglet_log_metrics_folded_total") {
		got[k] = v
	}
	want := map[string]float64{
		`app_users_total{user="a"}`: 2, `app_users_total{user="b"}`: 1, `app_users_total{user="other"}`: 3,
		`loglet_log_metrics_folded_total{metric="app_users_total"}`: 3,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestMetricInvalidUTF8Label(t *testing.T) {
	reg := prometheus.NewRegistry()
	sh, err := New(mustSpec(t, vars{"METRICS": "app_msgs_total counter by=msg"}), reg)
	if err != nil {
		t.Fatal(err)
	}
	shapeLines(t, sh, "bad \xff\xfe utf-8", "plain")
	if got := gather(t, reg, "app_msgs_total"); len(got) != 3 {
		t.Errorf("series %v", got)
	}
}
