package parse

import (
	"encoding/json"
	"strconv"
)

// Shaper shapes records as the parser builds them: it sees a record once it
// is parsed and before it is encoded, and may drop it, change its message
// and fields, replace its pod metadata and add members. Package shape
// implements it from the LOGLET_DROP_*, LOGLET_SAMPLE, LOGLET_REDACT,
// LOGLET_REMOVE_FIELDS, LOGLET_KEEP_FIELDS and LOGLET_METRICS rules.
//
// Concurrency: one Shaper serves every Parser, so Shape is called from
// many goroutines at once; the Record is the calling Parser's own.
type Shaper interface {
	Shape(r *Record)
}

// Record is the view a [Shaper] has of the record being built. Its byte
// slices are valid only during Shape.
type Record struct {
	p       *Parser
	spans   []span
	pod     []byte
	extra   []byte // members added by Annotate, each with its leading comma
	msgRepl []byte // the replaced message, as JSON
	msgStr  []byte // and its characters
	changed bool   // a field was replaced or removed
	dropped bool
	scratch []byte // decoded strings
	// Buf is scratch space the Shaper may use during Shape; the Parser keeps
	// it between records so that it stops allocating.
	Buf []byte
}

// span is one member of the fields object: p.fields[start:end], its value
// starting at vstart.
type span struct {
	start, vstart, end int
	key                []byte
	v                  value
	repl               []byte // the replacement value as JSON, when set
	str                []byte // the replacement string's characters
	removed            bool
}

func (r *Record) reset(p *Parser, pod []byte) {
	r.p = p
	r.spans = r.spans[:0]
	r.pod = pod
	r.extra = r.extra[:0]
	r.msgRepl = r.msgRepl[:0]
	r.changed, r.dropped = false, false
	r.scratch = r.scratch[:0]
}

var levelBytes = func() map[string][]byte {
	m := map[string][]byte{}
	for _, l := range Levels {
		m[l] = []byte(l)
	}
	return m
}()

// Level is the record's level, normalised (see [NormalizeLevel]) unless the
// name is unknown, lower-cased; empty when it has none.
func (r *Record) Level() []byte {
	if !r.p.hasLevel {
		return nil
	}
	if r.p.opts.RawLevels {
		if n, ok := NormalizeLevel(r.p.level); ok {
			return levelBytes[n]
		}
	}
	return r.p.level
}

// Msg returns the record's message text, decoded.
func (r *Record) Msg() ([]byte, bool) {
	if !r.p.hasMsg {
		return nil, false
	}
	if len(r.msgRepl) > 0 {
		return r.msgStr, true
	}
	return r.text(r.p.msg), true
}

// SetMsg replaces the message with the string s.
func (r *Record) SetMsg(s []byte) {
	r.msgRepl = appendJSONString(r.msgRepl[:0], s)
	r.msgStr = append(r.msgStr[:0], s...)
}

// Len is the number of fields (the members of "fields").
func (r *Record) Len() int { return len(r.spans) }

// Key is field i's name, as JSON text without the quotes.
func (r *Record) Key(i int) []byte { return r.spans[i].key }

// Lookup returns the index of the field named key, or -1.
func (r *Record) Lookup(key string) int {
	for i := range r.spans {
		if !r.spans[i].removed && string(r.spans[i].key) == key {
			return i
		}
	}
	return -1
}

// Text returns field i's value: a string's characters, decoded, or the JSON
// text of any other value; isString tells which.
func (r *Record) Text(i int) (text []byte, isString bool) {
	s := &r.spans[i]
	if s.repl != nil {
		return s.str, true
	}
	return r.text(s.v), s.v.kind == kindString
}

// Number returns field i's value as a number: a JSON number, or a string
// that holds one.
func (r *Record) Number(i int) (float64, bool) {
	text, isString := r.Text(i)
	if !isString && r.spans[i].v.kind != kindNumber {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(text), 64)
	return f, err == nil
}

func (r *Record) text(v value) []byte {
	c, ok := v.content()
	if ok {
		return c
	}
	var s string
	if json.Unmarshal(v.text, &s) != nil {
		return v.text
	}
	n := len(r.scratch)
	r.scratch = append(r.scratch, s...)
	return r.scratch[n:]
}

// SetString replaces field i's value with the string s.
func (r *Record) SetString(i int, s []byte) {
	sp := &r.spans[i]
	sp.repl = appendJSONString(sp.repl[:0], s)
	sp.str = append(sp.str[:0], s...)
	r.changed = true
}

// Remove removes field i.
func (r *Record) Remove(i int) {
	r.spans[i].removed = true
	r.changed = true
}

// Drop drops the record: Append encodes nothing and reports Result.Dropped.
func (r *Record) Drop() { r.dropped = true }

// Annotate adds the member key with the JSON value raw at the record's top
// level (e.g. "sample_rate":10). key must need no escaping.
func (r *Record) Annotate(key string, raw []byte) {
	r.extra = append(r.extra, ',', '"')
	r.extra = append(r.extra, key...)
	r.extra = append(r.extra, '"', ':')
	r.extra = append(r.extra, raw...)
}

// Pod is the record's `kubernetes` object as JSON text.
func (r *Record) Pod() []byte { return r.pod }

// SetPod replaces the record's `kubernetes` object with pod, JSON text the
// caller keeps unchanged until Append returns.
func (r *Record) SetPod(pod []byte) { r.pod = pod }

// appendFields appends the members of the fields object after the Shaper's
// changes.
func (r *Record) appendFields(dst []byte) []byte {
	first := true
	for i := range r.spans {
		s := &r.spans[i]
		if s.removed {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		f := r.p.fields
		if s.repl == nil {
			dst = append(dst, f[s.start:s.end]...)
			continue
		}
		dst = append(dst, f[s.start:s.vstart]...)
		dst = append(dst, s.repl...)
	}
	return dst
}
