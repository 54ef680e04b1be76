package shape

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loglet/loglet/sidecar/internal/parse"
)

// Redacted replaces each match of a redaction pattern.
const Redacted = "[REDACTED]"

// Shaper applies a Spec to records; it implements [parse.Shaper]. A record
// goes through the rules in this order: redact, metrics (log_to_metrics
// sees every record, those dropped next included, with redacted values),
// drop by level, drop by condition, sample, and last remove or keep fields.
//
// Concurrency: Shape is safe for concurrent use.
type Shaper struct {
	spec       Spec
	dropLevels [len(levelNames)]bool
	drops      []prometheus.Counter // by DropIf rule
	dropLevel  prometheus.Counter
	sampleOut  []prometheus.Counter // by Sample rule
	sampleKept []prometheus.Counter
	sampleN    []atomic.Uint64
	sampleRate [][]byte
	redacted   []prometheus.Counter // by Redact rule
	removed    prometheus.Counter
	remove     []string // field keys
	keep       map[string]bool
	podRemove  []string // members of the kubernetes object
	pods       atomic.Pointer[podCache]
	metrics    []*metric
}

var levelNames = [...]string{"trace", "debug", "info", "warn", "error", "fatal"}

func levelIndex(l []byte) int {
	for i, n := range levelNames {
		if string(l) == n {
			return i
		}
	}
	return -1
}

// New builds the Shaper of spec and registers its metrics on reg: the
// rules' own counters (loglet_shape_records_total by action and rule) and
// the log_to_metrics metrics. It returns nil, and no error, for a spec
// without rules. A metric name that collides with another metric fails.
func New(spec Spec, reg prometheus.Registerer) (*Shaper, error) {
	if spec.Empty() {
		return nil, nil
	}
	if spec.MaxSeries <= 0 {
		spec.MaxSeries = 100
	}
	s := &Shaper{spec: spec}
	actions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "loglet_shape_records_total",
		Help: "Records a shaping rule acted on, by action (dropped, sampled_out, sampled_kept, redacted, fields_removed) and rule (its text, or its variable).",
	}, []string{"action", "rule"})
	if err := reg.Register(actions); err != nil {
		return nil, fmt.Errorf("register shaping metrics: %w", err)
	}
	for _, l := range spec.DropLevels {
		if i := levelIndex([]byte(l)); i >= 0 {
			s.dropLevels[i] = true
		}
	}
	if len(spec.DropLevels) > 0 {
		s.dropLevel = actions.WithLabelValues("dropped", "LOGLET_DROP_LEVELS")
	}
	for _, c := range spec.DropIf {
		s.drops = append(s.drops, actions.WithLabelValues("dropped", c.Text))
	}
	s.sampleN = make([]atomic.Uint64, len(spec.Sample))
	for _, r := range spec.Sample {
		s.sampleOut = append(s.sampleOut, actions.WithLabelValues("sampled_out", r.Text))
		s.sampleKept = append(s.sampleKept, actions.WithLabelValues("sampled_kept", r.Text))
		s.sampleRate = append(s.sampleRate, strconv.AppendInt(nil, int64(r.N), 10))
	}
	for _, r := range spec.Redact {
		s.redacted = append(s.redacted, actions.WithLabelValues("redacted", r.Text))
	}
	if len(spec.Remove) > 0 || len(spec.Keep) > 0 {
		s.removed = actions.WithLabelValues("fields_removed", "LOGLET_REMOVE_FIELDS/LOGLET_KEEP_FIELDS")
	}
	for _, f := range spec.Remove {
		if k, ok := cutPrefix(f, "kubernetes."); ok {
			s.podRemove = append(s.podRemove, k)
		} else {
			s.remove = append(s.remove, f)
		}
	}
	if len(spec.Keep) > 0 {
		s.keep = map[string]bool{}
		for _, k := range spec.Keep {
			s.keep[k] = true
		}
	}
	var err error
	if s.metrics, err = newMetrics(spec.Metrics, spec.MaxSeries, reg); err != nil {
		return nil, err
	}
	return s, nil
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return s, false
}

// Shape shapes one record; see [Shaper] for the order of the rules.
func (s *Shaper) Shape(r *parse.Record) {
	for i := range s.spec.Redact {
		s.redact(r, i)
	}
	for _, m := range s.metrics {
		m.observe(s, r)
	}
	if rule := s.dropRule(r); rule != "" && s.drop(r, rule) {
		return
	}
	s.removeFields(r)
}

// dropRule returns the rule that drops r (counting it), or "" when r is
// kept: the level, then the first matching LOGLET_DROP_IF condition, then
// the first matching LOGLET_SAMPLE rule, which marks the records it keeps.
func (s *Shaper) dropRule(r *parse.Record) string {
	if l := levelIndex(r.Level()); l >= 0 && s.dropLevels[l] {
		s.dropLevel.Inc()
		return "LOGLET_DROP_LEVELS"
	}
	for i := range s.spec.DropIf {
		if c := &s.spec.DropIf[i]; c.Match(r) {
			s.drops[i].Inc()
			return c.Text
		}
	}
	for i := range s.spec.Sample {
		rule := &s.spec.Sample[i]
		if !rule.If.Match(r) {
			continue
		}
		if (s.sampleN[i].Add(1)-1)%uint64(rule.N) == 0 {
			s.sampleKept[i].Inc()
			r.Annotate("sample_rate", s.sampleRate[i])
			return ""
		}
		s.sampleOut[i].Inc()
		return rule.Text
	}
	return ""
}

// drop drops r, or in a dry run marks it with the rule that would drop it.
// It reports whether r was dropped.
func (s *Shaper) drop(r *parse.Record, rule string) bool {
	if s.spec.DryRun {
		r.Buf = appendJSON(r.Buf[:0], rule)
		r.Annotate("loglet_dropped", r.Buf)
		return false
	}
	r.Drop()
	return true
}

func appendJSON(dst []byte, s string) []byte {
	b, _ := json.Marshal(s)
	return append(dst, b...)
}

// Match reports whether r meets every term of c; a condition without
// terms matches every record.
func (c *Condition) Match(r *parse.Record) bool {
	for i := range c.terms {
		if !c.terms[i].match(r) {
			return false
		}
	}
	return true
}

func (t *term) match(r *parse.Record) bool {
	v, ok := lookup(r, t.field)
	var hit bool
	switch {
	case !ok:
		hit = false
	case t.re != nil:
		hit = t.re.Match(v)
	default:
		hit = string(v) == t.equal
	}
	return hit != t.negate
}

// lookup returns the text of msg, level or a field of r.
func lookup(r *parse.Record, field string) ([]byte, bool) {
	switch field {
	case "msg":
		return r.Msg()
	case "level":
		l := r.Level()
		return l, l != nil
	}
	i := r.Lookup(field)
	if i < 0 {
		return nil, false
	}
	v, _ := r.Text(i)
	return v, true
}

func (s *Shaper) redact(r *parse.Record, ri int) {
	rule := &s.spec.Redact[ri]
	hit := false
	for _, f := range rule.Fields {
		switch f {
		case "msg", "*":
			if m, ok := r.Msg(); ok && rule.pat.Match(m) {
				r.SetMsg(rule.Pattern.ReplaceAllLiteral(m, []byte(Redacted)))
				hit = true
			}
			if f == "msg" {
				continue
			}
			for i := range r.Len() {
				if v, isString := r.Text(i); isString && rule.pat.Match(v) {
					r.SetString(i, rule.Pattern.ReplaceAllLiteral(v, []byte(Redacted)))
					hit = true
				}
			}
		default:
			if i := r.Lookup(f); i >= 0 {
				if v, _ := r.Text(i); rule.pat.Match(v) {
					r.SetString(i, rule.Pattern.ReplaceAllLiteral(v, []byte(Redacted)))
					hit = true
				}
			}
		}
	}
	if hit {
		s.redacted[ri].Inc()
	}
}

func (s *Shaper) removeFields(r *parse.Record) {
	removed := false
	for _, f := range s.remove {
		if i := r.Lookup(f); i >= 0 {
			r.Remove(i)
			removed = true
		}
	}
	if s.keep != nil {
		for i := range r.Len() {
			if !s.keep[string(r.Key(i))] {
				r.Remove(i)
				removed = true
			}
		}
	}
	if len(s.podRemove) > 0 {
		if pod, changed := s.pod(r.Pod()); changed {
			r.SetPod(pod.out)
			removed = true
		}
	}
	if removed && s.removed != nil {
		s.removed.Inc()
	}
}

// podCache is the pod metadata of the last pod seen (its JSON text is
// replaced whole when the pod's labels or annotations change): the
// kubernetes object without the members LOGLET_REMOVE_FIELDS removes, and
// its values flattened for metric labels (pod_name, labels.app, ...).
type podCache struct {
	src    []byte
	out    []byte
	values map[string]string
}

// pod returns the cache entry of the pod JSON src, building it on a new
// pod; changed reports whether out differs from src.
func (s *Shaper) pod(src []byte) (c *podCache, changed bool) {
	if c = s.pods.Load(); c == nil || !sameBytes(c.src, src) {
		c = s.newPodCache(src)
		s.pods.Store(c)
	}
	return c, !sameBytes(c.out, src)
}

func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

func (s *Shaper) newPodCache(src []byte) *podCache {
	c := &podCache{src: src, out: src, values: map[string]string{}}
	var members map[string]json.RawMessage
	if json.Unmarshal(src, &members) != nil {
		return c
	}
	for k, raw := range members {
		var str string
		if json.Unmarshal(raw, &str) == nil {
			c.values[k] = str
			continue
		}
		var m map[string]string
		if json.Unmarshal(raw, &m) == nil {
			for mk, mv := range m {
				c.values[k+"."+mk] = mv
			}
		}
	}
	if len(s.podRemove) == 0 {
		return c
	}
	// Rebuild the object in its order without the removed members.
	dec := json.NewDecoder(bytes.NewReader(src))
	if _, err := dec.Token(); err != nil {
		return c
	}
	out := []byte{'{'}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return c
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return c
		}
		skip := false
		for _, k := range s.podRemove {
			if k == key {
				skip = true
			}
		}
		if skip {
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = appendJSON(out, key)
		out = append(out, ':')
		out = append(out, raw...)
	}
	c.out = append(out, '}')
	return c
}

// metric is one log_to_metrics rule with its series.
type metric struct {
	rule    *MetricRule
	max     int
	counter *prometheus.CounterVec
	hist    *prometheus.HistogramVec
	folded  prometheus.Counter
	invalid prometheus.Counter
	other   observer
	one     observer // the series of a metric without labels

	mu     sync.RWMutex
	series map[string]observer
	vals   []string // scratch for label values under mu
}

type observer interface{ add(float64) }

type counterObs struct{ prometheus.Counter }

func (c counterObs) add(v float64) { c.Add(v) }

type histObs struct{ prometheus.Observer }

func (h histObs) add(v float64) { h.Observe(v) }

func newMetrics(rules []MetricRule, maxSeries int, reg prometheus.Registerer) ([]*metric, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	folded := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "loglet_log_metrics_folded_total",
		Help: "Observations of a LOGLET_METRICS metric whose label values were folded into \"other\": the metric had LOGLET_METRICS_MAX_SERIES label sets already.",
	}, []string{"metric"})
	invalid := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "loglet_log_metrics_invalid_total",
		Help: "Records whose observed field was not a number (or was negative, for a counter), by LOGLET_METRICS metric; nothing was observed.",
	}, []string{"metric"})
	for _, c := range []prometheus.Collector{folded, invalid} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register log metrics: %w", err)
		}
	}
	var out []*metric
	for i := range rules {
		r := &rules[i]
		m := &metric{rule: r, max: maxSeries, series: map[string]observer{},
			folded: folded.WithLabelValues(r.Name), invalid: invalid.WithLabelValues(r.Name)}
		names := make([]string, len(r.Labels))
		for j, l := range r.Labels {
			names[j] = l.Name
		}
		help := "Records counted (LOGLET_METRICS: " + r.Text + ")."
		if r.Field != "" {
			help = "Values of the log field " + r.Field + " (LOGLET_METRICS: " + r.Text + ")."
		}
		var c prometheus.Collector
		if r.Kind == Counter {
			m.counter = prometheus.NewCounterVec(prometheus.CounterOpts{Name: r.Name, Help: help}, names)
			c = m.counter
		} else {
			m.hist = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: r.Name, Help: help, Buckets: r.Buckets}, names)
			c = m.hist
		}
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metric %s: %w", r.Name, err)
		}
		others := make([]string, len(names))
		for j := range others {
			others[j] = "other"
		}
		m.other = m.child(others)
		if len(names) == 0 {
			m.one = m.child(nil)
		}
		out = append(out, m)
	}
	return out, nil
}

func (m *metric) child(vals []string) observer {
	if m.counter != nil {
		return counterObs{m.counter.WithLabelValues(vals...)}
	}
	return histObs{m.hist.WithLabelValues(vals...)}
}

// observe observes r, if it has the field the metric observes.
func (m *metric) observe(s *Shaper, r *parse.Record) {
	v := 1.0
	if f := m.rule.Field; f != "" {
		i := r.Lookup(f)
		if i < 0 {
			return
		}
		n, ok := r.Number(i)
		if !ok || (m.counter != nil && n < 0) {
			m.invalid.Inc()
			return
		}
		v = n
	}
	if m.one != nil {
		m.one.add(v)
		return
	}
	// The series key: the label values, each followed by 0xff.
	key := r.Buf[:0]
	for _, l := range m.rule.Labels {
		key = s.appendLabel(key, r, l.From)
		key = append(key, 0xff)
	}
	r.Buf = key
	m.mu.RLock()
	o, ok := m.series[string(key)]
	full := len(m.series) >= m.max
	m.mu.RUnlock()
	if !ok && full {
		m.folded.Inc()
		m.other.add(v)
		return
	}
	if !ok {
		m.mu.Lock()
		if o, ok = m.series[string(key)]; !ok {
			if len(m.series) >= m.max {
				m.mu.Unlock()
				m.folded.Inc()
				m.other.add(v)
				return
			}
			m.vals = m.vals[:0]
			for part := range bytes.SplitSeq(key[:len(key)-1], []byte{0xff}) {
				// Prometheus refuses (panics on) label values that are not UTF-8.
				m.vals = append(m.vals, strings.ToValidUTF8(string(part), "\uFFFD"))
			}
			o = m.child(m.vals)
			m.series[string(key)] = o
		}
		m.mu.Unlock()
	}
	o.add(v)
}

// appendLabel appends the text of the label's source in r:
// kubernetes.KEY from the pod metadata, else msg, level or a field. A 0xff
// byte (never in UTF-8, and the key's separator) becomes '?'.
func (s *Shaper) appendLabel(dst []byte, r *parse.Record, from string) []byte {
	var v []byte
	if k, ok := cutPrefix(from, "kubernetes."); ok {
		c, _ := s.pod(r.Pod())
		return append(dst, c.values[k]...)
	}
	v, _ = lookup(r, from)
	n := len(dst)
	dst = append(dst, v...)
	for i := n; i < len(dst); i++ {
		if dst[i] == 0xff {
			dst[i] = '?'
		}
	}
	return dst
}
