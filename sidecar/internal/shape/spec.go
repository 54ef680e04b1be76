package shape

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/loglet/loglet/sidecar/internal/parse"
)

// ErrRule is wrapped by every error the Parse functions return.
var ErrRule = errors.New("bad rule")

// Spec is a checked rule set, as the LOGLET_* variables give it; [New]
// turns it into a Shaper. The zero Spec has no rules.
type Spec struct {
	DropLevels []string     // LOGLET_DROP_LEVELS: normalised level names
	DropIf     []Condition  // LOGLET_DROP_IF
	Sample     []SampleRule // LOGLET_SAMPLE
	Redact     []RedactRule // LOGLET_REDACT
	Remove     []string     // LOGLET_REMOVE_FIELDS: field keys and kubernetes.KEY
	Keep       []string     // LOGLET_KEEP_FIELDS: the only field keys kept, when set
	Metrics    []MetricRule // LOGLET_METRICS
	MaxSeries  int          // LOGLET_METRICS_MAX_SERIES: label sets per metric before folding into "other"
	DryRun     bool         // mark dropped records with loglet_dropped instead of dropping them (LOGLET_SINK=stdout)
}

// Empty reports whether s has no rule at all.
func (s *Spec) Empty() bool {
	return len(s.DropLevels) == 0 && len(s.DropIf) == 0 && len(s.Sample) == 0 && len(s.Redact) == 0 &&
		len(s.Remove) == 0 && len(s.Keep) == 0 && len(s.Metrics) == 0
}

// Condition is one test on a record: FIELD=VALUE (equal), FIELD!=VALUE,
// FIELD~RE2 (matches) or FIELD!~RE2, possibly several joined by && (all
// must hold). FIELD is msg, level (the normalised level) or the key of a
// field. A record without the field fails = and ~, and passes != and !~.
type Condition struct {
	Text  string // as written
	terms []term
}

type term struct {
	field  string
	equal  string
	re     *pattern
	negate bool
}

// SampleRule keeps 1 record in N of those matching If (all records when
// If has no terms); the kept ones carry "sample_rate":N.
type SampleRule struct {
	Text string
	N    int
	If   Condition
}

// RedactRule replaces every match of Pattern in the named fields (msg, a
// field's key, or * for msg and every string field) with [REDACTED].
type RedactRule struct {
	Text    string
	Fields  []string
	Pattern *regexp.Regexp
	pat     pattern
}

// MetricKind is a metric's type.
type MetricKind uint8

// The metric kinds.
const (
	Counter MetricKind = iota + 1
	Histogram
)

// MetricRule is one log_to_metrics rule.
type MetricRule struct {
	Text    string
	Name    string
	Kind    MetricKind
	Field   string    // the observed field; empty: a counter counts records
	Buckets []float64 // a histogram's upper bounds
	Labels  []Label
}

// Label is a metric label and the record field or pod metadata it takes
// its value from: level, msg, a field key, or kubernetes.KEY
// (kubernetes.pod_name, kubernetes.labels.app, ...).
type Label struct {
	Name, From string
}

// MaxLabels is the most labels a metric may have.
const MaxLabels = 4

// DefaultBuckets are a histogram's buckets when the rule names none:
// milliseconds, from 5ms to 10s.
var DefaultBuckets = []float64{5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000}

func errorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrRule}, args...)...)
}

// splitRules splits a variable's value into its rules, at ';'.
func splitRules(s string) []string {
	var out []string
	for r := range strings.SplitSeq(s, ";") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}

// ParseDropLevels parses LOGLET_DROP_LEVELS: normalised level names,
// comma-separated (debug,trace).
func ParseDropLevels(s string) ([]string, error) {
	var out []string
	for l := range strings.SplitSeq(s, ",") {
		l = strings.ToLower(strings.TrimSpace(l))
		if l == "" {
			continue
		}
		if !slices.Contains(parse.Levels, l) {
			return nil, errorf("%q is not a level (want %s)", l, strings.Join(parse.Levels, ", "))
		}
		out = append(out, l)
	}
	return out, nil
}

// ParseCondition parses one condition (see [Condition]).
func ParseCondition(s string) (Condition, error) {
	c := Condition{Text: strings.TrimSpace(s)}
	for part := range strings.SplitSeq(s, "&&") {
		part = strings.TrimSpace(part)
		i := strings.IndexAny(part, "=~")
		if i <= 0 {
			return Condition{}, errorf("%q is not FIELD=VALUE, FIELD!=VALUE, FIELD~RE2 or FIELD!~RE2", part)
		}
		t := term{field: strings.TrimSpace(part[:i])}
		if strings.HasSuffix(t.field, "!") {
			t.negate = true
			t.field = strings.TrimSpace(strings.TrimSuffix(t.field, "!"))
		}
		if t.field == "" || strings.ContainsAny(t.field, " \t") {
			return Condition{}, errorf("%q: %q is not a field name", part, t.field)
		}
		val := part[i+1:]
		if part[i] == '~' {
			re, err := regexp.Compile(val)
			if err != nil {
				return Condition{}, errorf("%q: %v", part, err)
			}
			pat := newPattern(re)
			t.re = &pat
		} else {
			t.equal = val
		}
		c.terms = append(c.terms, t)
	}
	return c, nil
}

// ParseConditions parses LOGLET_DROP_IF: conditions separated by ';'; a
// record matching any of them is dropped.
func ParseConditions(s string) ([]Condition, error) {
	var out []Condition
	for _, r := range splitRules(s) {
		c, err := ParseCondition(r)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// ParseSample parses LOGLET_SAMPLE: rules N or N:CONDITION separated by
// ';' (10:path~^/api/;100:level=debug). A record takes the first rule it
// matches.
func ParseSample(s string) ([]SampleRule, error) {
	var out []SampleRule
	for _, r := range splitRules(s) {
		num, cond, _ := strings.Cut(r, ":")
		n, err := strconv.Atoi(strings.TrimSpace(num))
		if err != nil || n < 2 {
			return nil, errorf("%q: %q is not a whole number of at least 2 (keep 1 in N)", r, num)
		}
		rule := SampleRule{Text: r, N: n}
		if strings.TrimSpace(cond) != "" {
			if rule.If, err = ParseCondition(cond); err != nil {
				return nil, fmt.Errorf("%q: %w", r, err)
			}
		}
		out = append(out, rule)
	}
	return out, nil
}

// ParseRedact parses LOGLET_REDACT: rules FIELDS~RE2 separated by ';',
// FIELDS being msg, field keys or * (msg,token~[A-Za-z0-9]{32}).
func ParseRedact(s string) ([]RedactRule, error) {
	var out []RedactRule
	for _, r := range splitRules(s) {
		fields, pat, ok := strings.Cut(r, "~")
		if !ok || strings.TrimSpace(fields) == "" || pat == "" {
			return nil, errorf("%q is not FIELDS~RE2 (e.g. msg,token~Bearer [^ ]+)", r)
		}
		re, err := regexp.Compile(pat)
		if err != nil {
			return nil, errorf("%q: %v", r, err)
		}
		rule := RedactRule{Text: r, Pattern: re, pat: newPattern(re)}
		for f := range strings.SplitSeq(fields, ",") {
			if f = strings.TrimSpace(f); f != "" {
				rule.Fields = append(rule.Fields, f)
			}
		}
		out = append(out, rule)
	}
	return out, nil
}

// ParseRemove parses LOGLET_REMOVE_FIELDS: field keys, and kubernetes.KEY
// for a member of the pod metadata (kubernetes.annotations,
// kubernetes.labels, kubernetes.pod_ip), comma-separated.
func ParseRemove(s string) ([]string, error) {
	out, err := ParseKeep(s)
	if err != nil {
		return nil, err
	}
	for _, f := range out {
		if f == "kubernetes" {
			return nil, errorf("the kubernetes block cannot go whole; name its members (kubernetes.annotations, kubernetes.labels)")
		}
	}
	return out, nil
}

// ParseKeep parses LOGLET_KEEP_FIELDS: field keys, comma-separated.
func ParseKeep(s string) ([]string, error) {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		switch f {
		case "":
			continue
		case "msg", "level", "@timestamp", "log", "time_source", "type_errors":
			return nil, errorf("%q is part of every record, not a field", f)
		}
		out = append(out, f)
	}
	return out, nil
}

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// ParseMetrics parses LOGLET_METRICS: rules separated by ';', each
//
//	NAME counter [FIELD] [by=LABELS]
//	NAME histogram FIELD [buckets=B1,B2,...] [by=LABELS]
//
// A counter without FIELD counts records; with FIELD it adds the field's
// value. LABELS are up to MaxLabels of level, msg, a field key or
// kubernetes.KEY, each optionally renamed (app=kubernetes.labels.app).
func ParseMetrics(s string) ([]MetricRule, error) {
	var out []MetricRule
	seen := map[string]bool{}
	for _, r := range splitRules(s) {
		m, err := parseMetric(r)
		if err != nil {
			return nil, err
		}
		if seen[m.Name] {
			return nil, errorf("%q: metric %s is defined twice", r, m.Name)
		}
		seen[m.Name] = true
		out = append(out, m)
	}
	return out, nil
}

func parseMetric(r string) (MetricRule, error) {
	words := strings.Fields(r)
	if len(words) < 2 {
		return MetricRule{}, errorf("%q is not NAME counter|histogram [FIELD] [buckets=...] [by=...]", r)
	}
	m := MetricRule{Text: r, Name: words[0]}
	if !metricName.MatchString(m.Name) || strings.HasPrefix(m.Name, "__") {
		return MetricRule{}, errorf("%q: %q is not a Prometheus metric name", r, m.Name)
	}
	for _, p := range []string{"loglet_", "go_", "process_", "promhttp_"} {
		if strings.HasPrefix(m.Name, p) {
			return MetricRule{}, errorf("%q: names starting with %s are taken by loglet's own metrics", r, p)
		}
	}
	switch words[1] {
	case "counter":
		m.Kind = Counter
	case "histogram":
		m.Kind = Histogram
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if strings.HasSuffix(m.Name, suf) {
				return MetricRule{}, errorf("%q: a histogram's name must not end in %s", r, suf)
			}
		}
	default:
		return MetricRule{}, errorf("%q: kind %q is not counter or histogram", r, words[1])
	}
	for _, w := range words[2:] {
		switch {
		case strings.HasPrefix(w, "by="):
			for item := range strings.SplitSeq(strings.TrimPrefix(w, "by="), ",") {
				if item == "" {
					continue
				}
				name, from, renamed := strings.Cut(item, "=")
				if !renamed {
					from = name
					name = from[strings.LastIndexByte(from, '.')+1:]
				}
				if !labelName.MatchString(name) || strings.HasPrefix(name, "__") || (m.Kind == Histogram && name == "le") {
					return MetricRule{}, errorf("%q: %q is not a usable label name (rename it: name=%s)", r, name, from)
				}
				for _, l := range m.Labels {
					if l.Name == name {
						return MetricRule{}, errorf("%q: label %s appears twice", r, name)
					}
				}
				m.Labels = append(m.Labels, Label{Name: name, From: from})
			}
			if len(m.Labels) > MaxLabels {
				return MetricRule{}, errorf("%q: %d labels; at most %d", r, len(m.Labels), MaxLabels)
			}
		case strings.HasPrefix(w, "buckets="):
			if m.Kind != Histogram {
				return MetricRule{}, errorf("%q: only a histogram has buckets", r)
			}
			prev := math.Inf(-1)
			for b := range strings.SplitSeq(strings.TrimPrefix(w, "buckets="), ",") {
				f, err := strconv.ParseFloat(b, 64)
				if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f <= prev {
					return MetricRule{}, errorf("%q: buckets must be increasing numbers, and %q is not", r, b)
				}
				prev = f
				m.Buckets = append(m.Buckets, f)
			}
		case strings.Contains(w, "="):
			return MetricRule{}, errorf("%q: unknown option %q (want by= or buckets=)", r, w)
		default:
			if m.Field != "" {
				return MetricRule{}, errorf("%q: one field per metric, and %q is a second", r, w)
			}
			m.Field = w
		}
	}
	if m.Kind == Histogram && m.Field == "" {
		return MetricRule{}, errorf("%q: a histogram observes a field: NAME histogram FIELD", r)
	}
	if m.Kind == Histogram && m.Buckets == nil {
		m.Buckets = DefaultBuckets
	}
	return m, nil
}
