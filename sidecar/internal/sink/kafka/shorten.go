package kafka

import (
	"encoding/json"
	"slices"
	"unicode/utf8"

	"github.com/loglet/loglet/sidecar/jsontext"
)

// member is one member of a JSON object: its name, its name as it is
// written (quoted, escapes kept) and its raw JSON value. rawKey and raw point
// into the record being shortened, or into the few bytes shorten builds.
type member struct {
	key    string
	rawKey []byte
	raw    []byte
}

// The top-level members shorten never removes (they say when, how
// important and where from), and those it never changes.
var (
	noDrop = map[string]bool{"@timestamp": true, "level": true, "msg": true, "log": true, "truncated": true}
	noCut  = map[string]bool{"@timestamp": true, "level": true, "log": true, "truncated": true}
)

// Building blocks of the members shorten adds.
var (
	truncatedKey = []byte(`"truncated"`)
	msgKey       = []byte(`"msg"`)
	jsonTrue     = []byte("true")
	emptyString  = []byte(`""`)
)

// quoteChunk is how much of a text that is not JSON is escaped at a time:
// escaping stops once the limit is reached, so a huge line costs the limit,
// not its size.
const quoteChunk = 4096

// shorten returns a copy of the record v (one JSON object) made to fit in
// limit bytes, with "truncated":true set. It shortens the largest values
// first: a string is cut at a character boundary (keeping its escapes as
// they are), an object is shortened the same way, and a value that is still
// too long is removed. It never changes @timestamp, level, log or truncated,
// and cuts msg without removing it. A v that is not a JSON object becomes
// {"truncated":true,"msg":"<its text, cut>"}. The result is always valid
// JSON; it exceeds limit only when the members it keeps whole do.
//
// Memory: the members are slices of v, never copies, so shorten allocates a
// small multiple of limit whatever the size of v (the cut strings, the
// shortened nested objects and the result), plus about 75 bytes per member
// of the objects it shortens.
func shorten(v []byte, limit int) []byte {
	ms, ok := parseObject(v)
	if !ok {
		ms = []member{
			{"truncated", truncatedKey, jsonTrue},
			{"msg", msgKey, quotePrefix(v, limit)},
		}
	} else if i := index(ms, "truncated"); i >= 0 {
		ms[i].raw = jsonTrue
	} else {
		ms = append(ms, member{"truncated", truncatedKey, jsonTrue})
	}
	if over := objectLen(ms) - limit; over > 0 {
		ms, _ = shrinkObject(ms, over, noDrop, noCut)
	}
	return appendObject(make([]byte, 0, objectLen(ms)), ms)
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
			if inner, ok := parseMembers(m.raw); ok {
				inner, innerOver := shrinkObject(inner, over, nil, nil)
				if innerOver <= 0 || noDrop[m.key] {
					before := len(m.raw)
					m.raw = appendObject(make([]byte, 0, objectLen(inner)), inner)
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

// cutString returns the JSON string raw (valid JSON string text) cut so that
// it is at most max bytes (at least `""`): the longest prefix of its text
// that splits no escape sequence, no surrogate pair and no UTF-8 sequence,
// with the closing quote. The escapes kept are as raw wrote them.
func cutString(raw []byte, max int) []byte {
	switch {
	case len(raw) <= max:
		return raw
	case max <= 2:
		return emptyString
	}
	end := max - 1 // room for the closing quote
	i := 1
	for i < end {
		n := 1
		switch c := raw[i]; {
		case c == '\\':
			n = escapeLen(raw, i)
		case c >= utf8.RuneSelf:
			_, n = utf8.DecodeRune(raw[i:])
		}
		if i+n > end {
			break
		}
		i += n
	}
	out := make([]byte, 0, i+1)
	out = append(out, raw[:i]...)
	return append(out, '"')
}

// escapeLen returns the length of the escape sequence at raw[i] (a
// backslash inside valid JSON string text), counting a UTF-16 surrogate pair
// as one sequence.
func escapeLen(raw []byte, i int) int {
	if raw[i+1] != 'u' {
		return 2
	}
	if hi := raw[i+2]; (hi == 'd' || hi == 'D') && i+12 <= len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
		switch raw[i+3] {
		case '8', '9', 'a', 'b', 'A', 'B': // a high surrogate; a low one follows
			return 12
		}
	}
	return 6
}

// quotePrefix returns the text v, which is not JSON, as a JSON string of
// about max bytes or less (invalid UTF-8 replaced by U+FFFD); shrinkObject
// cuts it to size. It escapes v a chunk at a time and stops at max, so it
// allocates a little over max however long v is.
func quotePrefix(v []byte, max int) []byte {
	b := make([]byte, 0, min(len(v), max)+6*quoteChunk+2)
	b = append(b, '"')
	for len(v) > 0 && len(b) < max {
		n := min(len(v), quoteChunk)
		for k := 0; k < utf8.UTFMax-1 && n < len(v) && !utf8.RuneStart(v[n]); k++ {
			n++ // do not split a character
		}
		b = jsontext.AppendEscaped(b, v[:n])
		v = v[n:]
	}
	return append(b, '"')
}

func isString(raw []byte) bool { return len(raw) > 0 && raw[0] == '"' }

func index(ms []member, key string) int {
	return slices.IndexFunc(ms, func(m member) bool { return m.key == key })
}

// parseObject splits a JSON object into its members, in order, as slices of
// v. ok is false when v is not one valid JSON object.
func parseObject(v []byte) (ms []member, ok bool) {
	if !json.Valid(v) {
		return nil, false
	}
	return parseMembers(v)
}

// parseMembers is parseObject for v known to be valid JSON. It counts the
// members first, so that their slice is allocated once, at its size.
func parseMembers(v []byte) (ms []member, ok bool) {
	n := 0
	if !eachMember(v, func(_, _ []byte) { n++ }) {
		return nil, false
	}
	ms = make([]member, 0, n)
	eachMember(v, func(rawKey, raw []byte) {
		key := string(rawKey[1 : len(rawKey)-1])
		if slices.Contains(rawKey, '\\') {
			key = ""
			_ = json.Unmarshal(rawKey, &key) // valid: it was checked
		}
		ms = append(ms, member{key, rawKey, raw})
	})
	return ms, true
}

// eachMember calls yield with the quoted name and the raw value of each
// member of the object v, valid JSON, in order. It reports false when v is
// not an object.
func eachMember(v []byte, yield func(rawKey, raw []byte)) bool {
	i := skipSpace(v, 0)
	if i >= len(v) || v[i] != '{' {
		return false
	}
	i = skipSpace(v, i+1)
	for i < len(v) && v[i] != '}' {
		ks, kend := i, valueEnd(v, i)
		i = skipSpace(v, kend)
		i = skipSpace(v, i+1) // the colon
		vend := valueEnd(v, i)
		yield(v[ks:kend], v[i:vend])
		i = skipSpace(v, vend)
		if i < len(v) && v[i] == ',' {
			i = skipSpace(v, i+1)
		}
	}
	return true
}

// valueEnd returns the end of the JSON value starting at v[i], in valid
// JSON.
func valueEnd(v []byte, i int) int {
	switch v[i] {
	case '"':
		return stringEnd(v, i)
	case '{', '[':
		depth := 0
		for ; i < len(v); i++ {
			switch v[i] {
			case '"':
				i = stringEnd(v, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	for i < len(v) {
		switch v[i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return i
		}
		i++
	}
	return i
}

// stringEnd returns the index after the closing quote of the JSON string
// starting at v[i].
func stringEnd(v []byte, i int) int {
	for i++; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

func skipSpace(v []byte, i int) int {
	for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n') {
		i++
	}
	return i
}

func memberLen(m member) int { return len(m.rawKey) + 1 + len(m.raw) }

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
		b = append(b, m.rawKey...)
		b = append(b, ':')
		b = append(b, m.raw...)
	}
	return append(b, '}')
}
