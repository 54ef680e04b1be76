package kafka

import (
	"bytes"
	"encoding/json"
	"slices"
	"unicode/utf8"

	"github.com/loglet/loglet/sidecar/internal/jsontext"
)

// member is one member of a JSON object: its name and its raw JSON value.
type member struct {
	key string
	raw []byte
}

// The top-level members shorten never removes (they say when, how
// important and where from), and those it never changes.
var (
	noDrop = map[string]bool{"@timestamp": true, "level": true, "msg": true, "log": true, "truncated": true}
	noCut  = map[string]bool{"@timestamp": true, "level": true, "log": true, "truncated": true}
)

// shorten returns a copy of the record v (one JSON object) made to fit in
// limit bytes, with "truncated":true set. It shortens the largest values
// first: a string is cut at a character boundary, an object is shortened the
// same way, and a value that is still too long is removed. It never changes
// @timestamp, level, log or truncated, and cuts msg without removing it. A
// v that is not a JSON object becomes {"truncated":true,"msg":"<its text,
// cut>"}. The result is always valid JSON; it exceeds limit only when the
// members it keeps whole do.
func shorten(v []byte, limit int) []byte {
	ms, ok := parseObject(v)
	if !ok {
		ms = []member{
			{"truncated", []byte("true")},
			{"msg", jsontext.AppendStringBytes(nil, bytes.ToValidUTF8(v, []byte("\uFFFD")))},
		}
	} else if i := index(ms, "truncated"); i >= 0 {
		ms[i].raw = []byte("true")
	} else {
		ms = append(ms, member{"truncated", []byte("true")})
	}
	if over := objectLen(ms) - limit; over > 0 {
		ms, _ = shrinkObject(ms, over, noDrop, noCut)
	}
	return appendObject(nil, ms)
}

// shrinkObject makes an object's members over bytes shorter, largest value
// first, leaving alone the members named in noCut and keeping those named in
// noDrop. It returns the members left and how many bytes are still over.
func shrinkObject(ms []member, over int, noDrop, noCut map[string]bool) ([]member, int) {
	order := make([]int, len(ms))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return len(ms[b].raw) - len(ms[a].raw) })
	drop := make([]bool, len(ms))
	alive := len(ms)
	for _, i := range order {
		if over <= 0 {
			break
		}
		m := &ms[i]
		if noCut[m.key] {
			continue
		}
		switch {
		case isString(m.raw):
			over = cutMember(m, over)
		case len(m.raw) > 0 && m.raw[0] == '{':
			if inner, ok := parseObject(m.raw); ok {
				inner, innerOver := shrinkObject(inner, over, nil, nil)
				if innerOver <= 0 || noDrop[m.key] {
					before := len(m.raw)
					m.raw = appendObject(nil, inner)
					over -= before - len(m.raw)
				}
			}
		}
		if over > 0 && !noDrop[m.key] {
			drop[i] = true
			over -= memberLen(*m)
			if alive > 1 {
				over-- // its comma
			}
			alive--
		}
	}
	out := ms[:0]
	for i, m := range ms {
		if !drop[i] {
			out = append(out, m)
		}
	}
	return out, over
}

// cutMember cuts the string value of m by at least over bytes of JSON text,
// or to "" when it is shorter, and returns how many bytes are still over.
func cutMember(m *member, over int) int {
	before := len(m.raw)
	m.raw = cutString(m.raw, before-over)
	return over - (before - len(m.raw))
}

// cutString returns the JSON string raw with its value cut, at a character
// boundary, so that its JSON text is at most max bytes (at least `""`).
func cutString(raw []byte, max int) []byte {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return []byte(`""`)
	}
	// The encoded form is at least 2 bytes longer than the text, so the
	// answer is below max-2; search for the longest prefix that fits.
	lo, hi := 0, min(len(s), max-2)
	if hi < 0 {
		hi = 0
	}
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if len(jsontext.AppendString(nil, runePrefix(s, mid))) <= max {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return jsontext.AppendString(nil, runePrefix(s, lo))
}

// runePrefix returns the longest prefix of s of at most n bytes that does
// not split a UTF-8 sequence.
func runePrefix(s string, n int) string {
	if n >= len(s) {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func isString(raw []byte) bool { return len(raw) > 0 && raw[0] == '"' }

func index(ms []member, key string) int {
	return slices.IndexFunc(ms, func(m member) bool { return m.key == key })
}

// parseObject splits a JSON object into its members, in order. ok is false
// when v is not one valid JSON object.
func parseObject(v []byte) (ms []member, ok bool) {
	if !json.Valid(v) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, false
		}
		ms = append(ms, member{key, raw})
	}
	return ms, true
}

func memberLen(m member) int { return len(jsontext.AppendString(nil, m.key)) + 1 + len(m.raw) }

func objectLen(ms []member) int {
	n := 2
	for i, m := range ms {
		if i > 0 {
			n++
		}
		n += memberLen(m)
	}
	return n
}

func appendObject(b []byte, ms []member) []byte {
	b = append(b, '{')
	for i, m := range ms {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsontext.AppendString(b, m.key)
		b = append(b, ':')
		b = append(b, m.raw...)
	}
	return append(b, '}')
}
