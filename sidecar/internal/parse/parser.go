package parse

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/loglet/loglet/sidecar/jsontext"
)

// Format is the detected format of a record.
type Format uint8

// The formats a record can have.
const (
	FormatJSON Format = iota + 1
	FormatLogfmt
	FormatPlain
)

// String returns the name used in the record's log.format.
func (f Format) String() string {
	switch f {
	case FormatJSON:
		return "json"
	case FormatLogfmt:
		return "logfmt"
	default:
		return "plain"
	}
}

// Options configure a Parser. The zero value is valid.
type Options struct {
	// FieldTypes pins fields to types (LOGLET_FIELD_TYPES). Nil pins nothing.
	FieldTypes map[string]Type
	// Location is the zone of times written without one (LOGLET_DEFAULT_TZ).
	// Nil means UTC.
	Location *time.Location
	// RawLevels turns level normalisation off (LOGLET_NORMALIZE_LEVELS=false):
	// the level is shipped lower-cased, as written. By default it is mapped
	// to trace, debug, info, warn, error or fatal ([NormalizeLevel]), and
	// the name as written goes to "level_original" when the mapping changed
	// the word (warning becomes warn; WARN becomes warn without it).
	RawLevels bool
	// Multiline are the joining rules of the Joiners that feed the parser
	// (LOGLET_MULTILINE*); nil means DefaultMultiline.
	Multiline *Multiline
	// Shape, when set, shapes every record before it is encoded (drop,
	// sample, redact, remove, metrics).
	Shape Shaper
}

// Input is one record's text and where it came from.
type Input struct {
	// Text is the record without its trailing newline; the lines of a
	// multi-line record are joined by '\n'.
	Text []byte
	// Lines is how many lines Text holds; more than one means plain text.
	Lines int
	// File is the source file's name, for log.file.
	File string
	// Offset is the byte offset of the record's first byte in the file.
	Offset int64
	// ReadTime is used as the record's time when it carries none.
	ReadTime time.Time
	// Truncated reports that the record was cut to the line size limit.
	Truncated bool
}

// Result describes the record Append produced.
type Result struct {
	// Time is the record's @timestamp.
	Time time.Time
	// Format is the format the record was parsed as.
	Format Format
	// ParseError reports that the input was invalid and sent as plain text.
	ParseError bool
	// Detected is the format the input looked like; it differs from Format
	// when invalid JSON was sent as plain text.
	Detected Format
	// TypeErrors counts the fields moved to type_errors.
	TypeErrors int
	// Dropped reports that Options.Shape dropped the record on purpose:
	// nothing was appended, and the record counts as delivered.
	Dropped bool
}

// Parser turns records into loglet's JSON records.
//
// Concurrency: a Parser keeps scratch buffers between calls and is not safe
// for concurrent use; give each reading goroutine its own.
type Parser struct {
	opts Options
	sc   scanner

	// Per-record state, reset by Append.
	ts       time.Time
	hasTime  bool
	level    []byte // lower-cased level text, normalised unless RawLevels
	levelRaw []byte // the level as written, when normalising changed it
	hasLevel bool
	msg      value
	hasMsg   bool
	fields   []byte // the fields object's members, comma-separated
	typeErrs []byte // the type_errors object's members
	nTypeErr int
	strbuf   []byte // decoded logfmt strings
	pairs    []pair
	rec      Record // the Shaper's view, when Options.Shape is set
	shaped   []byte // the fields after the Shaper's changes
}

type pair struct {
	key        []byte
	start, end int  // the value: in strbuf when quoted, else in the line
	quoted     bool // a quoted (string) value, decoded into strbuf
}

// NewParser returns a Parser with the given options.
func NewParser(opts Options) *Parser {
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	return &Parser{opts: opts}
}

// Append parses in and appends the encoded record to dst, with pod (the
// pre-encoded `kubernetes` object) inside. It never fails: invalid input
// becomes a plain record with parse_error set.
func (p *Parser) Append(dst []byte, in *Input, pod []byte) ([]byte, Result) {
	p.reset()
	text := in.Text
	if n := len(text); n > 0 && text[n-1] == '\r' {
		text = text[:n-1]
	}
	var res Result
	var parseErr string
	switch {
	case in.Lines <= 1 && firstNonSpace(text) == '{':
		res.Detected = FormatJSON
		if err := p.parseJSON(text); err != nil {
			p.reset()
			parseErr = err.Error()
			res.Format = FormatPlain
			p.setPlainMessage(text)
		} else {
			res.Format = FormatJSON
		}
	case in.Lines <= 1 && p.parseLogfmt(text):
		res.Format, res.Detected = FormatLogfmt, FormatLogfmt
	default:
		p.reset()
		res.Format, res.Detected = FormatPlain, FormatPlain
		parseErr = p.parsePlain(text, in.ReadTime)
	}
	if p.hasLevel && !p.opts.RawLevels {
		p.normalizeLevel()
	}
	res.ParseError = parseErr != ""
	res.TypeErrors = p.nTypeErr
	timeSource := ""
	if p.hasTime {
		res.Time = p.ts
	} else {
		res.Time = in.ReadTime.UTC()
		timeSource = "read"
	}

	fields := p.fields
	if sh := p.opts.Shape; sh != nil {
		p.rec.p = p
		p.rec.pod = pod
		sh.Shape(&p.rec)
		if p.rec.dropped {
			res.Dropped = true
			return dst, res
		}
		pod = p.rec.pod
		if p.rec.changed {
			p.shaped = p.rec.appendFields(p.shaped[:0])
			fields = p.shaped
		}
	}

	dst = append(dst, `{"@timestamp":"`...)
	dst = appendTimestamp(dst, res.Time)
	dst = append(dst, '"')
	if p.hasLevel {
		dst = append(dst, `,"level":`...)
		dst = appendJSONString(dst, p.level)
		if len(p.levelRaw) > 0 {
			dst = append(dst, `,"level_original":`...)
			dst = appendJSONString(dst, p.levelRaw)
		}
	}
	if p.hasMsg {
		dst = append(dst, `,"msg":`...)
		if p.opts.Shape != nil && len(p.rec.msgRepl) > 0 {
			dst = append(dst, p.rec.msgRepl...)
		} else {
			dst = appendValue(dst, p.msg)
		}
	}
	if len(fields) > 0 {
		dst = append(dst, `,"fields":{`...)
		dst = append(dst, fields...)
		dst = append(dst, '}')
	}
	if len(p.typeErrs) > 0 {
		dst = append(dst, `,"type_errors":{`...)
		dst = append(dst, p.typeErrs...)
		dst = append(dst, '}')
	}
	if in.Truncated {
		dst = append(dst, `,"truncated":true`...)
	}
	if parseErr != "" {
		dst = append(dst, `,"parse_error":`...)
		dst = jsontext.AppendString(dst, parseErr)
	}
	if timeSource != "" {
		dst = append(dst, `,"time_source":"read"`...)
	}
	if p.opts.Shape != nil {
		dst = append(dst, p.rec.extra...)
	}
	dst = append(dst, `,"kubernetes":`...)
	if len(pod) == 0 {
		dst = append(dst, "{}"...)
	} else {
		dst = append(dst, pod...)
	}
	dst = append(dst, `,"log":{"file":`...)
	dst = jsontext.AppendString(dst, in.File)
	dst = append(dst, `,"offset":`...)
	dst = strconv.AppendInt(dst, in.Offset, 10)
	dst = append(dst, `,"format":"`...)
	dst = append(dst, res.Format.String()...)
	dst = append(dst, `"}}`...)
	return dst, res
}

func (p *Parser) reset() {
	p.hasTime, p.hasLevel, p.hasMsg = false, false, false
	p.level = p.level[:0]
	p.levelRaw = p.levelRaw[:0]
	p.msg = value{}
	p.fields = p.fields[:0]
	p.typeErrs = p.typeErrs[:0]
	p.nTypeErr = 0
	p.sc.big = false
	p.strbuf = p.strbuf[:0]
	p.pairs = p.pairs[:0]
	if p.opts.Shape != nil {
		p.rec.reset(p, nil)
	}
}

// normalizeLevel maps the lower-cased level to its normalised name, keeping
// the name as written in levelRaw when the word changed.
func (p *Parser) normalizeLevel() {
	n, ok := NormalizeLevel(p.level)
	if !ok || n == string(p.level) {
		p.levelRaw = p.levelRaw[:0]
		return
	}
	if len(p.levelRaw) == 0 {
		p.levelRaw = append(p.levelRaw, p.level...)
	}
	p.level = append(p.level[:0], n...)
}

// addSpan notes, for the Shaper, the member of p.fields that starts at n
// (before its comma) and whose value starts at vstart.
func (p *Parser) addSpan(n, vstart int, key []byte, v value) {
	if p.opts.Shape == nil {
		return
	}
	if n > 0 {
		n++ // the comma
	}
	p.rec.spans = append(p.rec.spans, span{start: n, vstart: vstart, end: len(p.fields), key: key, v: v})
}

func firstNonSpace(b []byte) byte {
	for _, c := range b {
		if c != ' ' && c != '\t' {
			return c
		}
	}
	return 0
}

func appendJSONString(dst, s []byte) []byte { return jsontext.AppendStringBytes(dst, s) }

// Well-known keys.
func isTimeKey(k []byte) bool {
	switch string(k) {
	case "time", "ts", "timestamp", "@timestamp":
		return true
	}
	return false
}

func isLevelKey(k []byte) bool {
	switch string(k) {
	case "level", "lvl", "severity":
		return true
	}
	return false
}

func isMsgKey(k []byte) bool {
	switch string(k) {
	case "msg", "message":
		return true
	}
	return false
}

// field handles one key/value pair of a JSON or logfmt record. key is the
// key's characters (JSON-escaped when keyJSON).
func (p *Parser) field(key []byte, keyJSON bool, v value) {
	switch {
	case !p.hasTime && isTimeKey(key):
		if c, ok := v.content(); ok && v.kind == kindString {
			if t, n := parseTimestamp(c, p.opts.Location); n > 0 && n == len(c) {
				p.ts, p.hasTime = t, true
				return
			}
		} else if v.kind == kindNumber {
			if t, ok := parseEpoch(v.text); ok {
				p.ts, p.hasTime = t, true
				return
			}
		}
	case !p.hasLevel && isLevelKey(key) && v.kind == kindString:
		if c, ok := v.content(); ok {
			p.level = appendLower(p.level[:0], c)
			if !p.opts.RawLevels && string(p.level) != string(c) {
				p.levelRaw = append(p.levelRaw[:0], c...) // kept in case normalising changes the word
			}
			p.hasLevel = true
			return
		}
	case !p.hasMsg && isMsgKey(key) && v.kind == kindString:
		p.msg, p.hasMsg = v, true
		return
	}
	if t, pinned := p.opts.FieldTypes[string(key)]; pinned {
		n := len(p.fields)
		p.fields = appendKey(p.fields, key, keyJSON)
		vstart := len(p.fields)
		var ok bool
		if p.fields, ok = convert(p.fields, t, v); ok {
			p.addSpan(n, vstart, key, v)
			return
		}
		p.fields = p.fields[:n]
		p.typeError(key, keyJSON, v)
		return
	}
	if v.big {
		p.typeError(key, keyJSON, v)
		return
	}
	n := len(p.fields)
	p.fields = appendKey(p.fields, key, keyJSON)
	vstart := len(p.fields)
	p.fields = appendValue(p.fields, v)
	p.addSpan(n, vstart, key, v)
}

// typeError puts a field in type_errors, as a string, and counts it: one
// whose value cannot take its pinned type, or that holds a number outside
// float64's range.
func (p *Parser) typeError(key []byte, keyJSON bool, v value) {
	p.typeErrs = appendKey(p.typeErrs, key, keyJSON)
	p.typeErrs = appendAsString(p.typeErrs, v)
	p.nTypeErr++
}

func appendKey(dst, key []byte, keyJSON bool) []byte {
	if len(dst) > 0 {
		dst = append(dst, ',')
	}
	if keyJSON {
		dst = append(dst, '"')
		dst = append(dst, key...)
		dst = append(dst, '"')
	} else {
		dst = appendJSONString(dst, key)
	}
	return append(dst, ':')
}

func appendLower(dst, s []byte) []byte {
	for _, c := range s {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// parseJSON scans a JSON object line once, validating it and collecting its
// members.
func (p *Parser) parseJSON(b []byte) error {
	s := &p.sc
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return s.fail("expected '{'", i)
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			if i >= len(b) || b[i] != '"' {
				return s.fail("expected string key", i)
			}
			kend, kesc, err := s.str(b, i)
			if err != nil {
				return err
			}
			key := b[i+1 : kend-1]
			i = skipSpace(b, kend)
			if i >= len(b) || b[i] != ':' {
				return s.fail("expected ':' after key", i)
			}
			i = skipSpace(b, i+1)
			vstart := i
			var v value
			if i < len(b) && b[i] == '"' { // the common case, whose escapes str reports
				vend, esc, err := s.str(b, i)
				if err != nil {
					return err
				}
				v = value{kind: kindString, text: b[vstart:vend], isJSON: true, escaped: esc}
			} else {
				vend, kind, err := s.value(b, i, 1)
				if err != nil {
					return err
				}
				v = value{kind: kind, text: b[vstart:vend], isJSON: true, big: s.big}
				s.big = false
			}
			vend := vstart + len(v.text)
			if kesc {
				// A key with escapes never matches a well-known name; copy it as it is.
				if v.big {
					p.typeError(key, true, v)
				} else {
					n := len(p.fields)
					p.fields = appendKey(p.fields, key, true)
					vstart := len(p.fields)
					p.fields = appendValue(p.fields, v)
					p.addSpan(n, vstart, key, v)
				}
			} else {
				p.field(key, true, v)
			}
			i = skipSpace(b, vend)
			if i >= len(b) {
				return s.fail("unexpected end of object", i)
			}
			if b[i] == '}' {
				i++
				break
			}
			if b[i] != ',' {
				return s.fail("expected ',' or '}'", i)
			}
			i = skipSpace(b, i+1)
		}
	}
	if i = skipSpace(b, i); i != len(b) {
		return s.fail("data after the object", i)
	}
	return nil
}

// parseLogfmt parses key=value pairs; it reports false, leaving the record
// to the plain parser, when the line is not made only of such pairs.
func (p *Parser) parseLogfmt(b []byte) bool {
	i := 0
	for {
		for i < len(b) && b[i] == ' ' {
			i++
		}
		if i >= len(b) {
			break
		}
		ks := i
		for i < len(b) && b[i] != '=' && b[i] != ' ' && b[i] != '"' && b[i] >= 0x21 && b[i] < 0x7f {
			i++
		}
		if i == ks || i >= len(b) || b[i] != '=' {
			return false
		}
		pr := pair{key: b[ks:i]}
		i++
		if i < len(b) && b[i] == '"' {
			start := len(p.strbuf)
			end, ok := p.unquote(b, i)
			if !ok {
				return false
			}
			i = end
			pr.start, pr.end, pr.quoted = start, len(p.strbuf), true
			if i < len(b) && b[i] != ' ' {
				return false
			}
		} else {
			vs := i
			for i < len(b) && b[i] != ' ' {
				if b[i] == '"' || b[i] < 0x20 || b[i] == 0x7f {
					return false
				}
				i++
			}
			pr.start, pr.end = vs, i
		}
		p.pairs = append(p.pairs, pr)
	}
	if len(p.pairs) == 0 {
		return false
	}
	for _, pr := range p.pairs {
		var v value
		if pr.quoted {
			v = value{kind: kindString, text: p.strbuf[pr.start:pr.end]}
		} else {
			v = inferValue(b[pr.start:pr.end])
		}
		p.field(pr.key, false, v)
	}
	return true
}

// inferValue types a bare logfmt value: integer, float, boolean, otherwise
// string.
func inferValue(t []byte) value {
	switch string(t) {
	case "true":
		return value{kind: kindTrue, text: t, isJSON: true}
	case "false":
		return value{kind: kindFalse, text: t, isJSON: true}
	}
	if len(t) > 0 && (t[0] == '-' || isDigit(t[0])) {
		if ok, big := isNumberText(t); ok {
			return value{kind: kindNumber, text: t, isJSON: !big, big: big}
		}
	}
	return value{kind: kindString, text: t}
}

// unquote decodes the Go-quoted string starting at b[i] (the quote) into
// p.strbuf, as logrus' TextFormatter writes it (%q), with strconv's
// UnquoteChar. \' is accepted too; octal escapes, which %q never writes, are
// not. It returns the index after the closing quote.
func (p *Parser) unquote(b []byte, i int) (int, bool) {
	i++
	for i < len(b) {
		switch c := b[i]; {
		case c == '"':
			return i + 1, true
		case c != '\\':
			p.strbuf = append(p.strbuf, c)
			i++
		case i+1 < len(b) && b[i+1] == '\'':
			p.strbuf = append(p.strbuf, '\'')
			i += 2
		case i+1 < len(b) && b[i+1] >= '0' && b[i+1] <= '7':
			return i, false
		default:
			// The longest escape is \UXXXXXXXX: ten bytes.
			esc := string(b[i:min(i+10, len(b))])
			r, multibyte, tail, err := strconv.UnquoteChar(esc, '"')
			if err != nil {
				return i, false
			}
			if multibyte {
				p.strbuf = utf8.AppendRune(p.strbuf, r)
			} else {
				p.strbuf = append(p.strbuf, byte(r))
			}
			i += len(esc) - len(tail)
		}
	}
	return i, false
}

// parsePlain takes a leading timestamp as the record's time and the rest as
// its message, and the level from the first line where it is unambiguous
// (see plainLevel). A leading time of day without a date (logback's and
// log4j2's default layouts) is placed on the day the record was read. It
// returns a parse error text when the line holds invalid UTF-8 or control
// characters.
func (p *Parser) parsePlain(b []byte, read time.Time) string {
	timed := false
	if t, n := parseTimestamp(b, p.opts.Location); n > 0 && (n == len(b) || b[n] == ' ') {
		p.ts, p.hasTime = t, true
		b = b[n:]
		timed = true
	} else if d, n := parseClock(b); n > 0 && !read.IsZero() {
		p.ts, p.hasTime = onReadDay(d, read, p.opts.Location), true
		b = b[n:]
		timed = true
	}
	if timed && len(b) > 0 {
		b = b[1:]
	}
	if lv := plainLevel(b, timed); lv != nil {
		p.level = appendLower(p.level[:0], lv)
		if !p.opts.RawLevels && string(p.level) != string(lv) {
			p.levelRaw = append(p.levelRaw[:0], lv...)
		}
		p.hasLevel = true
	}
	p.setPlainMessage(b)
	return plainProblem(b)
}

func (p *Parser) setPlainMessage(b []byte) {
	p.msg = value{kind: kindString, text: b}
	p.hasMsg = true
}

// plainProblem names what is invalid in plain text, or returns "".
func plainProblem(b []byte) string {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f {
				if c == 0 {
					return "plain: NUL byte at offset " + strconv.Itoa(i)
				}
				return "plain: control character " + strconv.QuoteRune(rune(c)) + " at offset " + strconv.Itoa(i)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return "plain: invalid UTF-8 at offset " + strconv.Itoa(i)
		}
		i += size
	}
	return ""
}
