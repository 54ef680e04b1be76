package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// printer writes the demo's output: its notices and the records the
// consumer reads. It is safe for concurrent use; each call writes whole
// lines.
type printer struct {
	w     io.Writer
	color bool // ANSI colours (a terminal)

	mu   sync.Mutex
	full bool          // the first record was printed in full
	last map[int]int64 // offset of the last record printed, by partition
}

func newPrinter(w io.Writer, color bool) *printer {
	return &printer{w: w, color: color, last: map[int]int64{}}
}

// useColor reports whether output to f should be coloured: f is a
// terminal, NO_COLOR is unset (https://no-color.org) and TERM is not dumb.
func useColor(f *os.File, getenv func(string) string) bool {
	if getenv("NO_COLOR") != "" || getenv("TERM") == "dumb" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// ANSI SGR codes.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
)

func (p *printer) paint(code, s string) string {
	if !p.color || s == "" {
		return s
	}
	return code + s + ansiReset
}

// notice prints a line of the demo's own text.
func (p *printer) notice(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format+"\n", args...)
}

// message is a record read from the topic.
type message struct {
	Topic     string
	Partition int
	Offset    int64
	Value     []byte
}

// record prints m: the first record in full (indented JSON), every record as
// one line.
func (p *printer) record(m message) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.full {
		p.full = true
		var pretty bytes.Buffer
		if json.Indent(&pretty, m.Value, "  ", "  ") == nil {
			fmt.Fprintf(p.w, "\nThe first record, in full, as loglet produced it to %s:\n\n  %s\n\n", m.Topic, pretty.Bytes())
			fmt.Fprintf(p.w, "Then one line per record: time (UTC), level, message, the fields as JSON values\n"+
				"(numbers bare, strings quoted: their types survive the trip; file and func left out),\n"+
				"namespace/pod, and where the record is in Kafka (topic/partition@offset):\n\n")
		}
	}
	fmt.Fprintln(p.w, p.format(m))
	p.last[m.Partition] = m.Offset
}

// printed returns the offset of the last record printed from partition, or
// -1.
func (p *printer) printed(partition int) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if off, ok := p.last[partition]; ok {
		return off
	}
	return -1
}

// loglet's record, as much of it as a line shows.
type record struct {
	Timestamp  string          `json:"@timestamp"`
	Level      string          `json:"level"`
	Msg        string          `json:"msg"`
	Fields     json.RawMessage `json:"fields"`
	TypeErrors json.RawMessage `json:"type_errors"`
	Truncated  bool            `json:"truncated"`
	ParseError string          `json:"parse_error"`
	Kubernetes struct {
		Pod       string `json:"pod_name"`
		Namespace string `json:"namespace_name"`
	} `json:"kubernetes"`
}

// format renders m as one line. A value that is not a loglet record is shown
// as it is.
func (p *printer) format(m message) string {
	where := p.paint(ansiDim, fmt.Sprintf("%s/%d@%d", m.Topic, m.Partition, m.Offset))
	var r record
	if err := json.Unmarshal(m.Value, &r); err != nil {
		return fmt.Sprintf("(not a loglet record: %v) %q  %s", err, m.Value, where)
	}
	var b strings.Builder
	ts := r.Timestamp
	if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
		ts = t.UTC().Format("15:04:05.000Z")
	}
	b.WriteString(p.paint(ansiDim, ts))
	b.WriteByte(' ')
	name, code := levelStyle(r.Level)
	b.WriteString(p.paint(code, fmt.Sprintf("%-5s", name)))
	b.WriteByte(' ')
	b.WriteString(p.paint(ansiBold, r.Msg))
	fields, err := orderedFields(r.Fields)
	if err != nil {
		fields = []field{{"fields", string(r.Fields)}}
	}
	for _, f := range fields {
		if f.key == "file" || f.key == "func" {
			continue
		}
		fmt.Fprintf(&b, " %s=%s", p.paint(ansiCyan, f.key), f.value)
	}
	if len(r.TypeErrors) > 0 {
		fmt.Fprintf(&b, " %s=%s", p.paint(ansiYellow, "type_errors"), compact(r.TypeErrors))
	}
	if r.Truncated {
		fmt.Fprintf(&b, " %s=true", p.paint(ansiYellow, "truncated"))
	}
	if r.ParseError != "" {
		fmt.Fprintf(&b, " %s=%q", p.paint(ansiYellow, "parse_error"), r.ParseError)
	}
	fmt.Fprintf(&b, "  %s/%s  %s", r.Kubernetes.Namespace, r.Kubernetes.Pod, where)
	return b.String()
}

// levelStyle returns how a level is shown: its short upper-case name and its
// colour.
func levelStyle(level string) (string, string) {
	switch level {
	case "trace", "debug":
		return strings.ToUpper(level), ansiDim
	case "info", "":
		return "INFO", ansiGreen
	case "warn", "warning":
		return "WARN", ansiYellow
	case "error", "err":
		return "ERROR", ansiRed
	case "fatal", "panic", "critical", "crit", "alert", "emerg", "emergency":
		return strings.ToUpper(level), ansiRed + ansiBold
	}
	return strings.ToUpper(level), ""
}

// field is a key and its value's compact JSON text.
type field struct{ key, value string }

// orderedFields returns the members of the JSON object obj in their order
// (loglet keeps the order they were logged in); nil for an absent object.
func orderedFields(obj json.RawMessage) ([]field, error) {
	if len(obj) == 0 || string(obj) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(obj))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("fields is not an object: %s", obj)
	}
	var out []field
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, field{key, compact(v)})
	}
	return out, nil
}

func compact(v json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, v) != nil {
		return string(v)
	}
	return b.String()
}
