package shape

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loglet/loglet/sidecar/internal/parse"
)

// BenchmarkRules measures each rule kind on a logrus JSON line like the
// benchmark's (make bench): the cost is the difference to "none".
func BenchmarkRules(b *testing.B) {
	line := []byte(`{"count":42,"latency_ms":12.5,"level":"info","msg":"sample log for user ann@example.com","path":"/api/orders","text_sample":"fooooo","time":"2020-03-02T18:22:24+09:00","token":"abcdefghijklmnopqrstuvwxyz012345"}`)
	for _, bc := range []struct {
		name string
		v    vars
	}{
		{"none", nil},
		{"drop_levels", vars{"DROP_LEVELS": "debug,trace"}},
		{"drop_if_equal", vars{"DROP_IF": "path=/healthz"}},
		{"drop_if_regexp", vars{"DROP_IF": "path~^/health"}},
		{"sample", vars{"SAMPLE": "10:path~^/api/"}},
		{"redact_msg", vars{"REDACT": `msg~[\w.+-]+@[\w-]+\.[\w.]+`}},
		{"redact_msg_no_match", vars{"REDACT": `msg~Bearer [A-Za-z0-9._-]+`}},
		{"redact_field", vars{"REDACT": `token~[a-z0-9]{16,}`}},
		{"remove_fields", vars{"REMOVE_FIELDS": "text_sample"}},
		{"remove_annotations", vars{"REMOVE_FIELDS": "kubernetes.annotations"}},
		{"keep_fields", vars{"KEEP_FIELDS": "count,latency_ms,path"}},
		{"metric_counter", vars{"METRICS": "app_lines_total counter"}},
		{"metric_counter_field_labels", vars{"METRICS": "app_items_total counter count by=level,path"}},
		{"metric_histogram", vars{"METRICS": "app_latency_ms histogram latency_ms buckets=5,10,50,100 by=path,app=kubernetes.labels.app"}},
		{"typical", vars{"DROP_LEVELS": "debug", "REDACT": `msg~[\w.+-]+@[\w-]+\.[\w.]+`, "METRICS": "app_latency_ms histogram latency_ms buckets=5,10,50,100"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			opts := parse.Options{}
			if bc.v != nil {
				sh, err := New(mustSpec(b, bc.v), prometheus.NewRegistry())
				if err != nil {
					b.Fatal(err)
				}
				opts.Shape = sh
			}
			p := parse.NewParser(opts)
			in := parse.Input{Text: line, Lines: 1, File: "web-1.log", ReadTime: readTime}
			dst := make([]byte, 0, 4096)
			b.ReportAllocs()
			b.SetBytes(int64(len(line)))
			for b.Loop() {
				dst, _ = p.Append(dst[:0], &in, pod)
			}
		})
	}
}
