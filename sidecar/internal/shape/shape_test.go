package shape

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/loglet/loglet/sidecar/internal/parse"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// vars are the rule variables a test sets, by name without LOGLET_.
type vars map[string]string

func mustSpec(t testing.TB, v vars) Spec {
	t.Helper()
	var s Spec
	var err error
	check := func(e error) {
		if e != nil && err == nil {
			err = e
		}
	}
	s.DropLevels, err = ParseDropLevels(v["DROP_LEVELS"])
	var e error
	s.DropIf, e = ParseConditions(v["DROP_IF"])
	check(e)
	s.Sample, e = ParseSample(v["SAMPLE"])
	check(e)
	s.Redact, e = ParseRedact(v["REDACT"])
	check(e)
	s.Remove, e = ParseRemove(v["REMOVE_FIELDS"])
	check(e)
	s.Keep, e = ParseKeep(v["KEEP_FIELDS"])
	check(e)
	s.Metrics, e = ParseMetrics(v["METRICS"])
	check(e)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var (
	readTime = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	pod      = []byte(`{"pod_name":"web-1","namespace_name":"shop","labels":{"app":"shop"},"annotations":{"sidecar.istio.io/status":"{\"initContainers\":[\"istio-init\"]}"}}`)
)

// shapeLines parses each line with the Shaper of spec and returns the
// records, "dropped" for those dropped.
func shapeLines(t testing.TB, sh *Shaper, lines ...string) []string {
	t.Helper()
	p := parse.NewParser(parse.Options{Shape: sh})
	var out []string
	for _, l := range lines {
		in := parse.Input{Text: []byte(l), Lines: 1, File: "a.log", ReadTime: readTime}
		rec, res := p.Append(nil, &in, pod)
		if res.Dropped {
			if len(rec) != 0 {
				t.Errorf("dropped record appended %q", rec)
			}
			out = append(out, "dropped")
			continue
		}
		// Only what the rules touch: cut the constant parts.
		s := string(rec)
		s = strings.TrimPrefix(s, `{"@timestamp":"2026-11-21T12:00:00Z",`)
		if i := strings.Index(s, `,"log":{`); i >= 0 {
			s = s[:i]
		}
		out = append(out, s)
	}
	return out
}

func TestRules(t *testing.T) {
	const k8s = `"kubernetes":{"pod_name":"web-1","namespace_name":"shop","labels":{"app":"shop"},"annotations":{"sidecar.istio.io/status":"{\"initContainers\":[\"istio-init\"]}"}}`
	tests := []struct {
		name  string
		vars  vars
		lines []string
		want  []string
	}{
		{"drop levels, normalised", vars{"DROP_LEVELS": "debug,trace"},
			[]string{`{"level":"DEBUG","msg":"a"}`, `level=trace msg=b`, `{"level":"info","msg":"c"}`, `2020-03-02 18:22:24 DEBUG plain`, `no level`},
			[]string{"dropped", "dropped", `"level":"info","msg":"c","time_source":"read",` + k8s, "dropped", `"msg":"no level","time_source":"read",` + k8s}},
		{"drop if field equals or matches", vars{"DROP_IF": "path=/healthz; msg~^GET /metrics && status=200"},
			[]string{`{"msg":"hit","path":"/healthz"}`, `{"msg":"hit","path":"/healthz/x"}`, `{"msg":"GET /metrics","status":200}`, `{"msg":"GET /metrics","status":500}`},
			[]string{"dropped", `"msg":"hit","fields":{"path":"/healthz/x"},"time_source":"read",` + k8s, "dropped",
				`"msg":"GET /metrics","fields":{"status":500},"time_source":"read",` + k8s}},
		{"negated conditions, missing fields", vars{"DROP_IF": "user!=admin"},
			[]string{`{"msg":"a","user":"admin"}`, `{"msg":"b","user":"bob"}`, `{"msg":"c"}`},
			[]string{`"msg":"a","fields":{"user":"admin"},"time_source":"read",` + k8s, "dropped", "dropped"}},
		{"sample 1 in 3, kept ones marked", vars{"SAMPLE": "3:path~^/api/"},
			[]string{`path=/api/1`, `path=/api/2`, `path=/other`, `path=/api/3`, `path=/api/4`},
			[]string{`"fields":{"path":"/api/1"},"time_source":"read","sample_rate":3,` + k8s, "dropped",
				`"fields":{"path":"/other"},"time_source":"read",` + k8s, "dropped",
				`"fields":{"path":"/api/4"},"time_source":"read","sample_rate":3,` + k8s}},
		{"redact msg and a named field", vars{"REDACT": `msg,token~[A-Za-z0-9]{16,}; msg~[\w.+-]+@[\w-]+\.[\w.]+`},
			[]string{`{"msg":"login ann@example.com key abcdefghijklmnopqr","token":"abcdefghijklmnopqr","other":"abcdefghijklmnopqr"}`},
			[]string{`"msg":"login [REDACTED] key [REDACTED]","fields":{"token":"[REDACTED]","other":"abcdefghijklmnopqr"},"time_source":"read",` + k8s}},
		{"redact every string field, escaped input", vars{"REDACT": `*~secret`},
			[]string{`{"msg":"a \"secret\"","a":"my\tsecret","n":5}`},
			[]string{`"msg":"a \"[REDACTED]\"","fields":{"a":"my\t[REDACTED]","n":5},"time_source":"read",` + k8s}},
		{"remove fields and the annotations block", vars{"REMOVE_FIELDS": "password,kubernetes.annotations"},
			[]string{`{"msg":"a","password":"x","user":"u"}`},
			[]string{`"msg":"a","fields":{"user":"u"},"time_source":"read","kubernetes":{"pod_name":"web-1","namespace_name":"shop","labels":{"app":"shop"}}`}},
		{"remove the only field", vars{"REMOVE_FIELDS": "password"},
			[]string{`{"msg":"a","password":"x"}`},
			[]string{`"msg":"a","time_source":"read",` + k8s}},
		{"keep only listed keys", vars{"KEEP_FIELDS": "user,status"},
			[]string{`user=u status=200 path=/x extra=1 msg=m`},
			[]string{`"msg":"m","fields":{"user":"u","status":200},"time_source":"read",` + k8s}},
		{"typical set", vars{"DROP_LEVELS": "debug", "REDACT": "msg~token=\\S+", "METRICS": "app_requests_total counter"},
			[]string{`{"level":"debug","msg":"x"}`, `{"level":"info","msg":"got token=abc ok"}`},
			[]string{"dropped", `"level":"info","msg":"got [REDACTED] ok","time_source":"read",` + k8s}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sh, err := New(mustSpec(t, tt.vars), prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			got := shapeLines(t, sh, tt.lines...)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDryRunMarks(t *testing.T) {
	spec := mustSpec(t, vars{"DROP_LEVELS": "debug", "DROP_IF": "path=/healthz", "SAMPLE": "2"})
	spec.DryRun = true
	reg := prometheus.NewRegistry()
	sh, err := New(spec, reg)
	if err != nil {
		t.Fatal(err)
	}
	got := shapeLines(t, sh, `level=debug path=/healthz`, `path=/healthz`, `a=1`, `a=2`)
	want := []string{`"level":"debug","fields":{"path":"/healthz"},"time_source":"read","loglet_dropped":"LOGLET_DROP_LEVELS",`,
		`"fields":{"path":"/healthz"},"time_source":"read","loglet_dropped":"path=/healthz",`,
		`"fields":{"a":1},"time_source":"read","sample_rate":2,`,
		`"fields":{"a":2},"time_source":"read","loglet_dropped":"2",`}
	for i := range got {
		got[i] = got[i][:strings.Index(got[i], `"kubernetes"`)]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]float64{
		`loglet_shape_records_total{action="dropped",rule="LOGLET_DROP_LEVELS"}`: 1,
		`loglet_shape_records_total{action="dropped",rule="path=/healthz"}`:      1,
		`loglet_shape_records_total{action="sampled_kept",rule="2"}`:             1,
		`loglet_shape_records_total{action="sampled_out",rule="2"}`:              1,
	}, gather(t, reg, "loglet_shape_records_total")); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
}

func TestParseErrors(t *testing.T) {
	for _, v := range []vars{
		{"DROP_LEVELS": "debug,verbose"},
		{"DROP_IF": "path"}, {"DROP_IF": "=x"}, {"DROP_IF": "msg~("}, {"DROP_IF": "a b=c"},
		{"SAMPLE": "1:a=b"}, {"SAMPLE": "x:a=b"}, {"SAMPLE": "10:nope"},
		{"REDACT": "msg"}, {"REDACT": "~x"}, {"REDACT": "msg~[z"},
		{"REMOVE_FIELDS": "msg"}, {"REMOVE_FIELDS": "kubernetes"}, {"KEEP_FIELDS": "level"},
		{"METRICS": "x"}, {"METRICS": "9bad counter"}, {"METRICS": "loglet_x counter"}, {"METRICS": "go_goroutines counter"}, {"METRICS": "a gauge"},
		{"METRICS": "a histogram"}, {"METRICS": "a counter f buckets=1"}, {"METRICS": "a histogram f buckets=2,1"},
		{"METRICS": "a histogram f buckets=x"}, {"METRICS": "a counter f g"}, {"METRICS": "a counter by=a,b,c,d,e"},
		{"METRICS": "a counter by=x-y"}, {"METRICS": "a histogram f by=le"}, {"METRICS": "a counter by=a,a"},
		{"METRICS": "a counter; a counter"}, {"METRICS": "a_bucket histogram f"}, {"METRICS": "a counter color=red"},
	} {
		var err error
		for name, val := range v {
			switch name {
			case "DROP_LEVELS":
				_, err = ParseDropLevels(val)
			case "DROP_IF":
				_, err = ParseConditions(val)
			case "SAMPLE":
				_, err = ParseSample(val)
			case "REDACT":
				_, err = ParseRedact(val)
			case "REMOVE_FIELDS":
				_, err = ParseRemove(val)
			case "KEEP_FIELDS":
				_, err = ParseKeep(val)
			case "METRICS":
				_, err = ParseMetrics(val)
			}
		}
		if !errors.Is(err, ErrRule) {
			t.Errorf("%v: error %v, want ErrRule", v, err)
		}
	}
}

func TestNewRejectsTakenMetricName(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "app_total", Help: "h"}))
	if _, err := New(mustSpec(t, vars{"METRICS": "app_total counter"}), reg); err == nil {
		t.Fatal("New registered a metric whose name is taken")
	}
	if sh, err := New(Spec{}, reg); sh != nil || err != nil {
		t.Fatalf("New(empty) = %v, %v", sh, err)
	}
}

// gather returns the samples of the named metric family as text: name{labels} value.
func gather(t testing.TB, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			key := name
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[key] = m.GetCounter().GetValue()
			case m.Histogram != nil:
				h := m.GetHistogram()
				out[key+" count"] = float64(h.GetSampleCount())
				out[key+" sum"] = h.GetSampleSum()
				for _, b := range h.GetBucket() {
					out[key+" le="+strconvF(b.GetUpperBound())] = float64(b.GetCumulativeCount())
				}
			}
		}
	}
	return out
}

func TestRequiredLiteral(t *testing.T) {
	for expr, want := range map[string]string{
		`[\w.+-]+@[\w-]+\.[\w.]+`: "@", `Bearer [^ ]+`: "Bearer ", `token=\S+`: "token=", `^/health`: "/health",
		`a|b`: "", `(?i)secret`: "", `x*`: "", `(`: "",
	} {
		if got := string(requiredLiteral(expr)); got != want {
			t.Errorf("requiredLiteral(%q) = %q, want %q", expr, got, want)
		}
	}
}

// FuzzShape checks that no record panics the rules and that every record
// kept is one valid JSON object.
func FuzzShape(f *testing.F) {
	f.Add([]byte(`{"level":"info","msg":"a@b.co \"x\"","user":"u","password":"p","count":"3","latency_ms":1e400}`))
	f.Add([]byte("level=debug path=/healthz msg=\"token=\\xff\""))
	f.Add([]byte("2020-03-02 18:22:24 ERROR \xff\xfe"))
	spec := mustSpec(f, vars{"DROP_LEVELS": "trace", "DROP_IF": "path=/healthz", "SAMPLE": "2:msg~a",
		"REDACT": `*~[\w.+-]+@[\w-]+\.[\w.]+;msg,user~u`, "REMOVE_FIELDS": "password,kubernetes.annotations",
		"METRICS": "app_a_total counter count by=msg,user,app=kubernetes.labels.app; app_l histogram latency_ms by=level"})
	spec.MaxSeries = 5
	sh, err := New(spec, prometheus.NewRegistry())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		p := parse.NewParser(parse.Options{Shape: sh})
		out, res := p.Append(nil, &parse.Input{Text: line, Lines: 1, ReadTime: readTime}, pod)
		if !res.Dropped && !json.Valid(out) {
			t.Fatalf("invalid record for %q: %s", line, out)
		}
	})
}
