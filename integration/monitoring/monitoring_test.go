package monitoring

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	promql "github.com/prometheus/prometheus/promql/parser"
	"go.uber.org/goleak"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"

	"github.com/loglet/loglet/integration/internal/harness"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// dir is manifests/monitoring.
var dir = filepath.Join(harness.RepoRoot(), "manifests", "monitoring")

// wantAlerts are the alerts manifests/monitoring must define (the README's
// "Why these alerts" says what each is for).
var wantAlerts = []string{
	"LogletDown", "LogletRestarting", "LogletKafkaNotReady", "LogletLagGrowing",
	"LogletNoAcknowledgement", "LogletKafkaRefuses", "LogletCheckpointSaveFailing", "LogletParseErrors",
}

// targetLabels are the labels Prometheus and the PodMonitor add to every
// scraped series; the binary does not serve them.
var targetLabels = map[string]bool{"job": true, "namespace": true, "pod": true, "container": true, "instance": true, "endpoint": true}

// prometheusSeries are series Prometheus makes itself for every target.
var prometheusSeries = map[string]bool{"up": true}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// readRule decodes prometheusrule.yaml strictly into the Operator's type.
func readRule(t *testing.T) *monitoringv1.PrometheusRule {
	t.Helper()
	var r monitoringv1.PrometheusRule
	if err := yaml.UnmarshalStrict(readFile(t, "prometheusrule.yaml"), &r); err != nil {
		t.Fatalf("prometheusrule.yaml: %v", err)
	}
	if r.APIVersion != "monitoring.coreos.com/v1" || r.Kind != "PrometheusRule" || r.Name == "" || r.Namespace == "" {
		t.Fatalf("prometheusrule.yaml: %s %s %s/%s, want a monitoring.coreos.com/v1 PrometheusRule with a name and namespace", r.APIVersion, r.Kind, r.Namespace, r.Name)
	}
	return &r
}

// parseRules parses the PrometheusRule's groups as Prometheus parses a rule
// file, and returns them.
func parseRules(t *testing.T) *rulefmt.RuleGroups {
	t.Helper()
	spec, err := yaml.Marshal(readRule(t).Spec)
	if err != nil {
		t.Fatal(err)
	}
	groups, errs := rulefmt.Parse(spec, false, model.UTF8Validation, promql.NewParser(promql.Options{}), slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, err := range errs {
		t.Errorf("rulefmt: %v", err)
	}
	if groups == nil {
		t.FailNow()
	}
	return groups
}

// TestAlertRules: the rules parse as Prometheus parses them, the alerts of
// wantAlerts are all there, and each has a severity, a summary, a
// description and a runbook_url pointing at its section of the README.
func TestAlertRules(t *testing.T) {
	groups := parseRules(t)
	readme := string(readFile(t, "README.md"))
	var got []string
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			got = append(got, r.Alert)
			if r.Alert == "" {
				t.Errorf("group %s: a recording rule %q; want alerts only", g.Name, r.Record)
				continue
			}
			if s := r.Labels["severity"]; !slices.Contains([]string{"critical", "warning", "info"}, s) {
				t.Errorf("%s: severity %q, want critical, warning or info", r.Alert, s)
			}
			for _, a := range []string{"summary", "description"} {
				if r.Annotations[a] == "" {
					t.Errorf("%s: no %s annotation", r.Alert, a)
				}
			}
			anchor := strings.ToLower(r.Alert)
			if want := "https://github.com/loglet/loglet/blob/main/manifests/monitoring/README.md#" + anchor; r.Annotations["runbook_url"] != want {
				t.Errorf("%s: runbook_url %q, want %q", r.Alert, r.Annotations["runbook_url"], want)
			}
			if !strings.Contains(readme, "\n### "+r.Alert+"\n") {
				t.Errorf("%s: README.md has no runbook section \"### %s\"", r.Alert, r.Alert)
			}
			if !strings.Contains(readme, "| `"+r.Alert+"` |") {
				t.Errorf("%s: not in README.md's table of alerts", r.Alert)
			}
		}
	}
	if diff := cmp.Diff(wantAlerts, got); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
}

// TestPodMonitor: the PodMonitor decodes strictly into the Operator's type
// and scrapes the port the sidecar has, by its name, as job="loglet".
func TestPodMonitor(t *testing.T) {
	var pm monitoringv1.PodMonitor
	if err := yaml.UnmarshalStrict(readFile(t, "podmonitor.yaml"), &pm); err != nil {
		t.Fatalf("podmonitor.yaml: %v", err)
	}
	var d appsv1.Deployment
	data, err := os.ReadFile(filepath.Join(harness.RepoRoot(), "manifests", "sidecar", "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, &d); err != nil {
		t.Fatal(err)
	}
	var port string
	for _, c := range d.Spec.Template.Spec.InitContainers {
		if c.Name == "loglet" {
			for _, p := range c.Ports {
				if p.ContainerPort == 9110 {
					port = p.Name
				}
			}
		}
	}
	if port == "" {
		t.Fatal("manifests/sidecar: the loglet container has no named port 9110")
	}
	if !pm.Spec.NamespaceSelector.Any || len(pm.Spec.Selector.MatchLabels)+len(pm.Spec.Selector.MatchExpressions) != 0 {
		t.Errorf("the PodMonitor selects %+v in %+v; want every pod in every namespace (the port name picks the sidecars)", pm.Spec.Selector, pm.Spec.NamespaceSelector)
	}
	if len(pm.Spec.PodMetricsEndpoints) != 1 {
		t.Fatalf("%d endpoints, want 1", len(pm.Spec.PodMetricsEndpoints))
	}
	ep := pm.Spec.PodMetricsEndpoints[0]
	if ep.Port == nil || *ep.Port != port || ep.Path != "/metrics" {
		t.Errorf("endpoint port %v path %q, want %q /metrics (the sidecar's port name)", ep.Port, ep.Path, port)
	}
	job := false
	for _, r := range ep.RelabelConfigs {
		job = job || r.TargetLabel == "job" && r.Replacement != nil && *r.Replacement == "loglet"
	}
	if !job {
		t.Error(`no relabeling sets job="loglet", which the rules and the dashboard select`)
	}
}

// dashboard is the part of a Grafana dashboard the tests read.
type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

// grafanaMacros are the interval variables Grafana replaces before a query
// reaches Prometheus; the parser needs a duration in their place.
var grafanaMacros = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "6h")

var labelValues = regexp.MustCompile(`^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)

// dashboardExprs returns the dashboard's queries by where they are, with
// Grafana's interval macros replaced; a label_values variable's metric
// selector counts as a query.
func dashboardExprs(t *testing.T) map[string]string {
	t.Helper()
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(readFile(t, "dashboard.json"))))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard.json: uid %q, title %q: want both", d.UID, d.Title)
	}
	out := map[string]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q: datasource %v, want the ${datasource} variable", p.Title, p.Datasource)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q: no query", p.Title)
			}
			for i, tg := range p.Targets {
				out[fmt.Sprintf("panel %q query %d", p.Title, i+1)] = grafanaMacros.Replace(tg.Expr)
			}
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("variable %s: %q is not label_values(selector, label)", v.Name, v.Definition)
			continue
		}
		out["variable "+v.Name] = m[1]
	}
	return out
}

// TestDashboard: every query parses as PromQL, and the panels an operator
// needs first (lines read and acknowledged, lag per pod, acknowledgement
// age and the rest listed below) are there.
func TestDashboard(t *testing.T) {
	p := promql.NewParser(promql.Options{})
	for where, expr := range dashboardExprs(t) {
		if _, err := p.ParseExpr(expr); err != nil {
			t.Errorf("%s: %q: %v", where, expr, err)
		}
	}
	var d dashboard
	if err := json.Unmarshal(readFile(t, "dashboard.json"), &d); err != nil {
		t.Fatal(err)
	}
	var titles []string
	for _, p := range d.Panels {
		titles = append(titles, p.Title)
	}
	for _, want := range []string{"Lines read and records acknowledged", "Lag per pod", "Acknowledgement age",
		"Kafka send errors by kind", "Buffer fill", "CPU", "Memory"} {
		if !slices.Contains(titles, want) {
			t.Errorf("no panel %q; panels: %q", want, titles)
		}
	}
}

// allExprs returns every expression of the rules and the dashboard.
func allExprs(t *testing.T) map[string]string {
	t.Helper()
	out := dashboardExprs(t)
	for _, g := range parseRules(t).Groups {
		for _, r := range g.Rules {
			out["alert "+r.Alert] = r.Expr
		}
	}
	return out
}

// served is what a /metrics page holds: for each series name (histograms'
// _bucket, _sum and _count included), its label names and their values.
type served map[string]map[string]map[string]bool

var (
	seriesLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? `)
	labelPair  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
)

func parseExposition(text string) served {
	s := served{}
	for _, line := range strings.Split(text, "\n") {
		m := seriesLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if s[m[1]] == nil {
			s[m[1]] = map[string]map[string]bool{}
		}
		for _, lp := range labelPair.FindAllStringSubmatch(m[3], -1) {
			if s[m[1]][lp[1]] == nil {
				s[m[1]][lp[1]] = map[string]bool{}
			}
			s[m[1]][lp[1]][lp[2]] = true
		}
	}
	return s
}

// plainAlternation matches a regular expression that is only literal
// words joined by |.
var plainAlternation = regexp.MustCompile(`^[a-zA-Z0-9_]+(\|[a-zA-Z0-9_]+)*$`)

// check returns what expr names that s does not serve: metrics, label
// names in matchers and in by/without clauses, and label values matched
// literally (= or a plain alternation with =~).
func check(expr string, s served) []string {
	e, err := promql.NewParser(promql.Options{}).ParseExpr(expr)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	hasLabel := func(metrics []string, l string) bool {
		if targetLabels[l] {
			return true
		}
		for _, m := range metrics {
			if _, ok := s[m][l]; ok {
				return true
			}
		}
		return false
	}
	promql.Inspect(e, func(node promql.Node, _ []promql.Node) error {
		switch n := node.(type) {
		case *promql.VectorSelector:
			name := n.Name
			if prometheusSeries[name] {
				return nil
			}
			if _, ok := s[name]; !ok {
				problems = append(problems, fmt.Sprintf("metric %s is not served", name))
				return nil
			}
			for _, m := range n.LabelMatchers {
				if m.Name == labels.MetricName || targetLabels[m.Name] {
					continue
				}
				values, ok := s[name][m.Name]
				if !ok {
					problems = append(problems, fmt.Sprintf("%s has no label %s", name, m.Name))
					continue
				}
				var want []string
				switch {
				case m.Type == labels.MatchEqual:
					want = []string{m.Value}
				case m.Type == labels.MatchRegexp && plainAlternation.MatchString(m.Value):
					want = strings.Split(m.Value, "|")
				}
				for _, v := range want {
					if !values[v] {
						problems = append(problems, fmt.Sprintf("%s{%s=%q} is not served", name, m.Name, v))
					}
				}
			}
		case *promql.AggregateExpr:
			var metrics []string
			promql.Inspect(n.Expr, func(node promql.Node, _ []promql.Node) error {
				if vs, ok := node.(*promql.VectorSelector); ok {
					metrics = append(metrics, vs.Name)
				}
				return nil
			})
			for _, l := range n.Grouping {
				if l != "le" && !hasLabel(metrics, l) {
					problems = append(problems, fmt.Sprintf("%s by %s: no such label on %v", n.Op, l, metrics))
				}
			}
		}
		return nil
	})
	return problems
}

// TestMetricsAreServed starts the real loglet binary against a Kafka broker
// (kfake, over TCP), makes it count a parse error, a type error and a
// skipped symlink, scrapes /metrics, and checks every metric and label
// the rules and the dashboard name against what it serves.
func TestMetricsAreServed(t *testing.T) {
	k := harness.StartKafka(t, false)
	k.CreateTopic(t, "logs.shop", 1)
	root := t.TempDir()
	logs, podinfo := filepath.Join(root, "logs"), filepath.Join(root, "podinfo")
	for _, d := range []string{logs, podinfo} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	lines := `{"level":"info","msg":"ok","count":1}` + "\n" +
		`{"level":"info","msg":"no type","count":"many"}` + "\n" +
		`{"level":"info","msg":"broken` + "\n"
	if err := os.WriteFile(filepath.Join(logs, "web-1.log"), []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(logs, "other.log")); err != nil {
		t.Fatal(err)
	}
	sc := harness.StartSidecar(t, map[string]string{
		"POD_NAME": "web-1", "POD_NAMESPACE": "shop", "LOGLET_LOG_DIR": logs, "LOGLET_PODINFO_DIR": podinfo,
		"LOGLET_KAFKA_BROKERS": strings.Join(k.Addrs, ","), "LOGLET_KAFKA_LINGER": "1ms",
		"LOGLET_FIELD_TYPES": "count=int",
	})
	sc.WaitFor(t, 30*time.Second, "the three records acknowledged, a parse error and a skipped symlink counted", func() bool {
		return sc.Metric("loglet_kafka_records_acked_total") >= 3 && sc.Metric("loglet_parse_errors_total") >= 1 &&
			sc.Metric("loglet_files_skipped_total") >= 1 && sc.Metric("loglet_type_errors_total") >= 1
	})
	status, body := sc.Get("/metrics")
	if status != 200 {
		t.Fatalf("/metrics: %d %s", status, body)
	}
	s := parseExposition(body)

	exprs := allExprs(t)
	keys := make([]string, 0, len(exprs))
	for k := range exprs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	names := map[string]bool{}
	for _, where := range keys {
		for _, p := range check(exprs[where], s) {
			t.Errorf("%s: %s", where, p)
		}
		e, _ := promql.NewParser(promql.Options{}).ParseExpr(exprs[where])
		promql.Inspect(e, func(node promql.Node, _ []promql.Node) error {
			if vs, ok := node.(*promql.VectorSelector); ok {
				names[vs.Name] = true
			}
			return nil
		})
	}
	if len(names) < 20 {
		t.Errorf("only %d metrics named: %v", len(names), names)
	}

	// The check fails on what it exists to catch.
	t.Run("catches renames", func(t *testing.T) {
		for _, bad := range []string{
			`rate(loglet_lines_red_total{job="loglet"}[5m])`,
			`loglet_kafka_send_errors_total{kind=~"authentication|authentification"}`,
			`loglet_kafka_send_errors_total{reason="tls"}`,
			`sum by (namespace, kinds) (loglet_kafka_send_errors_total)`,
			`histogram_quantile(0.9, sum by (le) (rate(loglet_kafka_produce_second_bucket[5m])))`,
		} {
			if len(check(bad, s)) == 0 {
				t.Errorf("check(%q) found nothing", bad)
			}
		}
		if p := check(`sum by (kind) (rate(loglet_kafka_send_errors_total{job="loglet", kind="tls"}[5m])) + on () group_left up`, s); len(p) != 0 {
			t.Errorf("a good expression: %v", p)
		}
	})
}
