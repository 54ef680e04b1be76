package kafka

import (
	"bytes"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/loglet/loglet/sidecar/internal/podinfo"
	"github.com/loglet/loglet/sidecar/internal/sink"
	"github.com/loglet/loglet/sidecar/jsontext"
)

// encoding is what a message's value holds (LOGLET_KAFKA_ENCODING).
type encoding uint8

// The encodings; the OTLP names are the OpenTelemetry Collector
// kafkareceiver's.
const (
	encodingJSON      encoding = iota // loglet's JSON record, as it is
	encodingOTLPJSON                  // an ExportLogsServiceRequest in OTLP/JSON
	encodingOTLPProto                 // an ExportLogsServiceRequest in protobuf
)

// Content types of the content-type header.
var (
	contentTypeJSON  = []byte("application/json")
	contentTypeProto = []byte("application/x-protobuf")
)

func (e encoding) contentType() []byte {
	if e == encodingOTLPProto {
		return contentTypeProto
	}
	return contentTypeJSON
}

// scopeName is the InstrumentationScope name of every OTLP log record.
const scopeName = "loglet"

// maxOTLPDepth is how deep the encoder follows nested objects and arrays;
// a value nested deeper is sent as its JSON text. loglet's parser refuses
// JSON nested deeper than 128 levels, so it is a guard only.
const maxOTLPDepth = 160

// otlpEncoder turns loglet's JSON records into OTLP log records, one
// ExportLogsServiceRequest per record, in protobuf or in OTLP/JSON. It
// re-reads the JSON record, which holds every typed field, and writes the
// wire format directly (protobuf with protowire), with no intermediate
// objects: see the README's "OTLP output" for the mapping.
//
// The resource is the pod identity the record is sent with (the one that
// also chooses the topic and the key), not the record's `kubernetes`
// object, so shortening a record never drops its resource attributes.
//
// Concurrency: not safe for concurrent use; the Sink's Run owns it.
type otlpEncoder struct {
	proto bool
	pod   *podinfo.Pod // the pod resource was built for
	// resource and scope are the encoded ResourceLogs.resource and
	// ScopeLogs.scope fields (in OTLP/JSON, their members).
	resource []byte
	scope    []byte
	arena    []byte // the values of the request being built
	rec      []byte // scratch: one LogRecord
	attrs    []byte // scratch: a record's loglet.* attributes
	str      []byte // scratch: the unescaped level
}

func newOTLPEncoder(enc encoding) *otlpEncoder {
	return &otlpEncoder{proto: enc == encodingOTLPProto}
}

// reset lets the values of the previous request go: call it when a
// request starts.
func (e *otlpEncoder) reset() {
	if cap(e.arena) > 8<<20 {
		e.arena = nil // let an outsized arena go
	}
	e.arena = e.arena[:0]
}

// encode appends one ExportLogsServiceRequest holding the record r, whose
// JSON is value (r.Value or a shortened copy), for pod, to the arena, and
// returns it. The result stays valid until reset.
func (e *otlpEncoder) encode(pod *podinfo.Pod, r *sink.Record, value []byte) []byte {
	if pod != e.pod || e.resource == nil {
		e.pod = pod
		e.buildResource(pod)
	}
	if e.proto {
		e.rec = e.protoRecord(e.rec[:0], r, value)
		start := len(e.arena)
		// ExportLogsServiceRequest.resource_logs (1) = ResourceLogs{
		//   resource (1), scope_logs (2) = ScopeLogs{scope (1), log_records (2)}}
		sl := len(e.scope) + protowire.SizeTag(2) + protowire.SizeBytes(len(e.rec))
		rl := len(e.resource) + protowire.SizeTag(2) + protowire.SizeBytes(sl)
		b := protowire.AppendTag(e.arena, 1, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(rl))
		b = append(b, e.resource...)
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(sl))
		b = append(b, e.scope...)
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, e.rec)
		e.arena = b
		return b[start:len(b):len(b)]
	}
	start := len(e.arena)
	b := append(e.arena, `{"resourceLogs":[{`...)
	b = append(b, e.resource...)
	b = append(b, `,"scopeLogs":[{`...)
	b = append(b, e.scope...)
	b = append(b, `,"logRecords":[`...)
	b = e.jsonRecord(b, r, value)
	b = append(b, "]}]}]}"...)
	e.arena = b
	return b[start:len(b):len(b)]
}

// resourceAttrs returns the pod's resource attributes, in order, without
// the empty ones (labels and annotations are kept even when empty, as the
// semantic conventions ask).
func resourceAttrs(pod *podinfo.Pod) [][2]string {
	var kv [][2]string
	add := func(k, v string) {
		if v != "" {
			kv = append(kv, [2]string{k, v})
		}
	}
	add("k8s.pod.name", pod.Name)
	add("k8s.namespace.name", pod.Namespace)
	add("k8s.pod.uid", pod.UID)
	add("k8s.pod.ip", pod.IP)
	add("k8s.node.name", pod.Node)
	add("k8s.container.name", pod.Container)
	for _, k := range slices.Sorted(maps.Keys(pod.Labels)) {
		kv = append(kv, [2]string{"k8s.pod.label." + k, pod.Labels[k]})
	}
	for _, k := range slices.Sorted(maps.Keys(pod.Annotations)) {
		kv = append(kv, [2]string{"k8s.pod.annotation." + k, pod.Annotations[k]})
	}
	return kv
}

func (e *otlpEncoder) buildResource(pod *podinfo.Pod) {
	kv := resourceAttrs(pod)
	if e.proto {
		var res []byte
		for _, a := range kv {
			res = protoStringKV(res, 1, a[0], a[1])
		}
		e.resource = protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), res)
		scope := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), scopeName)
		e.scope = protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), scope)
		return
	}
	b := []byte(`"resource":{"attributes":[`)
	for i, a := range kv {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"key":`...)
		b = jsontext.AppendString(b, a[0])
		b = append(b, `,"value":{"stringValue":`...)
		b = jsontext.AppendString(b, a[1])
		b = append(b, "}}"...)
	}
	e.resource = append(b, "]}"...)
	e.scope = []byte(`"scope":{"name":"` + scopeName + `"}`)
}

// protoStringKV appends a KeyValue with a string value as field num.
func protoStringKV(b []byte, num protowire.Number, k, v string) []byte {
	b, kv := beginMsg(b, num)
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, k)
	b, av := beginMsg(b, 2)
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, v)
	b = endMsg(b, av)
	return endMsg(b, kv)
}

// beginMsg appends the tag of the length-delimited field num and a
// one-byte length placeholder; endMsg fills it in once the contents are
// appended, moving them when the length needs more than one byte.
func beginMsg(b []byte, num protowire.Number) ([]byte, int) {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = append(b, 0)
	return b, len(b)
}

func endMsg(b []byte, start int) []byte {
	n := len(b) - start
	if sz := protowire.SizeVarint(uint64(n)); sz > 1 {
		b = append(b, make([]byte, sz-1)...)
		copy(b[start+sz-1:], b[start:start+n])
	}
	protowire.AppendVarint(b[:start-1], uint64(n))
	return b
}

// Severity numbers (OpenTelemetry's SeverityNumber).
const (
	sevTrace  = 1
	sevDebug  = 5
	sevInfo   = 9
	sevInfo2  = 10
	sevWarn   = 13
	sevError  = 17
	sevError2 = 18
	sevError3 = 19
	sevFatal  = 21
)

// severity maps a level, in any case, to
// OpenTelemetry's SeverityNumber: the levels of logrus, slog, zap, log4j and
// syslog. An unknown level is 0 (unspecified); its text is kept all the
// same.
func severity(level []byte) int32 {
	var buf [16]byte
	if len(level) > len(buf) {
		return 0
	}
	lower := buf[:len(level)]
	for i, c := range level {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	switch string(lower) {
	case "trace", "trc", "finest":
		return sevTrace
	case "debug", "dbg", "fine", "finer":
		return sevDebug
	case "info", "inf", "information", "informational":
		return sevInfo
	case "notice":
		return sevInfo2
	case "warn", "warning", "wrn":
		return sevWarn
	case "error", "err", "eror", "severe":
		return sevError
	case "crit", "critical", "dpanic":
		return sevError2
	case "alert":
		return sevError3
	case "fatal", "panic", "emerg", "emergency":
		return sevFatal
	}
	return 0
}

// walk reads loglet's record value in one pass, member by member, calling
// the handler for its part: the level (a JSON string), the message, and
// an attribute for each member of fields, for log's file and format
// (log.file.name, loglet.format) and for every other member but
// @timestamp and kubernetes (loglet.<name>). The handlers move s past the value. podJSON is the pod's
// `kubernetes` object, which the record usually holds byte for byte and
// walk then passes over without reading it. It reports false, having
// called handlers for a part of the record, when value is not a JSON
// object.
func walk(s *jscan, podJSON []byte, h *handlers) bool {
	value := s.b
	return s.object(func(rawKey []byte) bool {
		switch string(rawKey) {
		case `"@timestamp"`:
			start := s.i
			if !s.skipValue(0) {
				return false
			}
			if raw := value[start:s.i]; h.time != nil && raw[0] == '"' {
				h.time(raw)
			}
			return true
		case `"kubernetes"`: // the resource: built from the pod, see otlpEncoder
			if len(podJSON) > 0 && bytes.HasPrefix(value[s.i:], podJSON) {
				s.i += len(podJSON)
				return true
			}
			return s.skipValue(0)
		case `"level"`:
			if s.i < len(value) && value[s.i] == '"' {
				start := s.i
				end, ok := s.stringEnd()
				if !ok {
					return false
				}
				s.i = end
				h.level(value[start:end])
				return true
			}
		case `"msg"`:
			h.msg()
			return !s.bad
		case `"fields"`:
			if s.i < len(value) && value[s.i] == '{' {
				return s.object(func(rawKey []byte) bool { h.attr("", rawKey); return !s.bad })
			}
		case `"log"`:
			if s.i < len(value) && value[s.i] == '{' {
				return s.object(func(rawKey []byte) bool {
					switch string(rawKey) {
					case `"file"`:
						h.attr("", []byte(`"log.file.name"`))
					case `"format"`:
						h.attr("", []byte(`"loglet.format"`))
					case `"offset"`: // loglet.offset, from the record's position
						return s.skipValue(0)
					default:
						h.attr("log.", rawKey)
					}
					return !s.bad
				})
			}
		}
		h.attr("loglet.", rawKey)
		return !s.bad
	})
}

// handlers are walk's callbacks.
type handlers struct {
	time  func(raw []byte) // nil: not needed
	level func(raw []byte)
	msg   func()
	// attr is an attribute named prefix and the JSON string rawKey.
	attr func(prefix string, rawKey []byte)
}

// recordTime is the record's @timestamp in Unix nanoseconds: r.Time, or,
// when that is unknown, the time raw (a JSON string) gives; 0 when neither
// is known.
func recordTime(r *sink.Record, raw []byte) int64 {
	if !r.Time.IsZero() {
		return r.Time.UnixNano()
	}
	if len(raw) > 2 {
		if t, err := time.Parse(time.RFC3339Nano, string(raw[1:len(raw)-1])); err == nil {
			return t.UnixNano()
		}
	}
	return 0
}

// protoRecord appends the LogRecord of r to b. Protobuf fields may come in
// any order, so it writes each as walk meets it.
func (e *otlpEncoder) protoRecord(b []byte, r *sink.Record, value []byte) []byte {
	s := jscan{b: value}
	appendTime := func(t int64) {
		if t != 0 {
			b = protowire.AppendTag(b, 1, protowire.Fixed64Type)
			b = protowire.AppendFixed64(b, uint64(t))
		}
	}
	var h handlers
	if r.Time.IsZero() {
		h.time = func(raw []byte) { appendTime(recordTime(r, raw)) }
	} else {
		appendTime(recordTime(r, nil))
	}
	mark := len(b)
	h.level = func(raw []byte) {
		lvl := e.unquote(e.str[:0], raw)
		e.str = lvl
		if n := severity(lvl); n != 0 {
			b = protowire.AppendTag(b, 2, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(n))
		}
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendBytes(b, lvl)
	}
	h.msg = func() {
		var m int
		b, m = beginMsg(b, 5)
		b = e.protoAny(b, &s, 0)
		b = endMsg(b, m)
	}
	attr := func(prefix string, rawKey []byte) {
		var kv, k, v int
		b, kv = beginMsg(b, 6)
		b, k = beginMsg(b, 1)
		b = append(b, prefix...)
		b = e.unquote(b, rawKey)
		b = endMsg(b, k)
		b, v = beginMsg(b, 2)
		b = e.protoAny(b, &s, 0)
		b = endMsg(b, v)
		b = endMsg(b, kv)
	}
	h.attr = attr
	if !walk(&s, e.pod.JSON(), &h) {
		// Not loglet's record (it always is): keep it whole as the body.
		b = b[:mark]
		if r.Time.IsZero() {
			appendTime(recordTime(r, nil))
		}
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protoStringAny(b, bytes.ToValidUTF8(value, []byte("\uFFFD")))
	}
	if r.Pos.File != "" {
		b = protoStringKV(b, 6, "loglet.file", r.Pos.File)
	}
	var kv, av int
	b, kv = beginMsg(b, 6)
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, "loglet.offset")
	b, av = beginMsg(b, 2)
	b = protowire.AppendTag(b, 3, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(r.Pos.Offset))
	b = endMsg(b, av)
	b = endMsg(b, kv)
	if !r.ReadTime.IsZero() {
		b = protowire.AppendTag(b, 11, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, uint64(r.ReadTime.UnixNano()))
	}
	return b
}

// protoStringAny appends an AnyValue holding the string v, length
// prefixed (the tag is the caller's).
func protoStringAny(b, v []byte) []byte {
	b = protowire.AppendVarint(b, uint64(protowire.SizeTag(1)+protowire.SizeBytes(len(v))))
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

// protoAny appends the fields of the AnyValue of the JSON value at s.i
// (without the message's own tag and length) and moves s past it. A value
// it cannot read, or nested beyond maxOTLPDepth, becomes its JSON text as a
// string.
func (e *otlpEncoder) protoAny(b []byte, s *jscan, depth int) []byte {
	s.space()
	start := s.i
	if s.i >= len(s.b) {
		return b
	}
	fallback := func(b []byte) []byte {
		s.i = start
		if !s.skipValue(0) {
			s.i = len(s.b)
		}
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		return protowire.AppendBytes(b, s.b[start:s.i])
	}
	switch c := s.b[s.i]; {
	case c == '"':
		end, ok := s.stringEnd()
		if !ok {
			return fallback(b)
		}
		var m int
		b, m = beginMsg(b, 1)
		b = e.unquote(b, s.b[start:end])
		s.i = end
		return endMsg(b, m)
	case c == 't' || c == 'f':
		if !s.literal() {
			return fallback(b)
		}
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		return protowire.AppendVarint(b, protowire.EncodeBool(c == 't'))
	case c == 'n':
		if !s.literal() {
			return fallback(b)
		}
		return b // an empty AnyValue: OTLP's null
	case c == '-' || c >= '0' && c <= '9':
		num := s.number()
		if num == nil {
			return fallback(b)
		}
		switch kind, i, f := numberKind(num); kind {
		case numInt:
			b = protowire.AppendTag(b, 3, protowire.VarintType)
			return protowire.AppendVarint(b, uint64(i))
		case numDouble:
			b = protowire.AppendTag(b, 4, protowire.Fixed64Type)
			return protowire.AppendFixed64(b, math.Float64bits(f))
		default:
			b = protowire.AppendTag(b, 1, protowire.BytesType)
			return protowire.AppendBytes(b, num)
		}
	case c == '{' && depth < maxOTLPDepth:
		mark := len(b)
		var m int
		b, m = beginMsg(b, 6)
		ok := s.object(func(rawKey []byte) bool {
			var kv, v int
			b, kv = beginMsg(b, 1)
			b, v = beginMsg(b, 1)
			b = e.unquote(b, rawKey)
			b = endMsg(b, v)
			b, v = beginMsg(b, 2)
			b = e.protoAny(b, s, depth+1)
			b = endMsg(b, v)
			b = endMsg(b, kv)
			return !s.bad
		})
		if !ok {
			return fallback(b[:mark])
		}
		return endMsg(b, m)
	case c == '[' && depth < maxOTLPDepth:
		mark := len(b)
		var m int
		b, m = beginMsg(b, 5)
		ok := s.array(func() bool {
			var v int
			b, v = beginMsg(b, 1)
			b = e.protoAny(b, s, depth+1)
			b = endMsg(b, v)
			return !s.bad
		})
		if !ok {
			return fallback(b[:mark])
		}
		return endMsg(b, m)
	}
	return fallback(b)
}

// The kinds of JSON numbers in OTLP.
const (
	numInt    = iota // fits int64: intValue
	numDouble        // has a fraction or an exponent, finite: doubleValue
	numText          // an integer beyond int64, or beyond float64: stringValue, exact
)

func numberKind(num []byte) (kind int, i int64, f float64) {
	if bytes.IndexAny(num, ".eE") < 0 {
		if v, err := strconv.ParseInt(string(num), 10, 64); err == nil {
			return numInt, v, 0
		}
		return numText, 0, 0
	}
	v, err := strconv.ParseFloat(string(num), 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return numText, 0, 0
	}
	return numDouble, 0, v
}

// unquote appends the contents of the JSON string raw (quotes included),
// its escapes decoded, to b. A lone surrogate and invalid UTF-8 become
// U+FFFD, as in encoding/json, so that the protobuf string is valid UTF-8.
func (e *otlpEncoder) unquote(b, raw []byte) []byte {
	if len(raw) < 2 {
		return b
	}
	raw = raw[1 : len(raw)-1]
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return append(b, raw...)
	}
	for i := 0; i < len(raw); {
		c := raw[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRune(raw[i:])
			b = utf8.AppendRune(b, r) // U+FFFD for invalid UTF-8
			i += n
			continue
		}
		if c != '\\' || i+1 >= len(raw) {
			b = append(b, c)
			i++
			continue
		}
		i += 2
		switch raw[i-1] {
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, n := hex4(raw[i:])
			if n == 0 {
				b = append(b, `\u`...)
				continue
			}
			i += n
			if utf16.IsSurrogate(r) {
				r2, n2 := rune(-1), 0
				if i+1 < len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					r2, n2 = hex4(raw[i+2:])
				}
				if d := utf16.DecodeRune(r, r2); n2 > 0 && d != utf8.RuneError {
					r = d
					i += 2 + n2
				} else {
					r = utf8.RuneError
				}
			}
			b = utf8.AppendRune(b, r)
		default: // " \ /
			b = append(b, raw[i-1])
		}
	}
	return b
}

func hex4(b []byte) (rune, int) {
	if len(b) < 4 {
		return 0, 0
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, 0
		}
		r = r<<4 | rune(c)
	}
	return r, 4
}

// jsonRecord appends the LogRecord of r in OTLP/JSON to b. The
// attributes are gathered in e.attrs as walk meets them, the other members
// written to b at once.
func (e *otlpEncoder) jsonRecord(b []byte, r *sink.Record, value []byte) []byte {
	s := jscan{b: value}
	b = append(b, '{')
	appendTime := func(t int64) {
		if t != 0 {
			b = append(b, `"timeUnixNano":"`...)
			b = strconv.AppendUint(b, uint64(t), 10)
			b = append(b, `",`...)
		}
	}
	var h handlers
	if r.Time.IsZero() {
		h.time = func(raw []byte) { appendTime(recordTime(r, raw)) }
	} else {
		appendTime(recordTime(r, nil))
	}
	if !r.ReadTime.IsZero() {
		b = append(b, `"observedTimeUnixNano":"`...)
		b = strconv.AppendUint(b, uint64(r.ReadTime.UnixNano()), 10)
		b = append(b, `",`...)
	}
	mark := len(b)
	attrs := e.attrs[:0]
	h.level = func(raw []byte) {
		e.str = e.unquote(e.str[:0], raw)
		if n := severity(e.str); n != 0 {
			b = append(b, `"severityNumber":`...)
			b = strconv.AppendInt(b, int64(n), 10)
			b = append(b, ',')
		}
		b = append(b, `"severityText":`...)
		b = e.jsonString(b, raw)
		b = append(b, ',')
	}
	h.msg = func() {
		b = append(b, `"body":`...)
		b = e.jsonAny(b, &s, 0)
		b = append(b, ',')
	}
	attr := func(prefix string, rawKey []byte) {
		if len(attrs) > 0 {
			attrs = append(attrs, ',')
		}
		attrs = append(attrs, `{"key":`...)
		attrs = e.jsonKey(attrs, prefix, rawKey)
		attrs = append(attrs, `,"value":`...)
		attrs = e.jsonAny(attrs, &s, 0)
		attrs = append(attrs, '}')
	}
	h.attr = attr
	if !walk(&s, e.pod.JSON(), &h) {
		b, attrs = b[:mark], attrs[:0]
		if r.Time.IsZero() {
			appendTime(recordTime(r, nil))
		}
		b = append(b, `"body":{"stringValue":`...)
		b = jsontext.AppendStringBytes(b, value)
		b = append(b, "},"...)
	}
	b = append(b, `"attributes":[`...)
	b = append(b, attrs...)
	e.attrs = attrs
	if len(attrs) > 0 {
		b = append(b, ',')
	}
	if r.Pos.File != "" {
		b = append(b, `{"key":"loglet.file","value":{"stringValue":`...)
		b = jsontext.AppendString(b, r.Pos.File)
		b = append(b, "}},"...)
	}
	b = append(b, `{"key":"loglet.offset","value":{"intValue":"`...)
	b = strconv.AppendInt(b, r.Pos.Offset, 10)
	return append(b, `"}}]}`...)
}

// jsonKey appends the JSON string of prefix followed by the key rawKey (a
// JSON string).
func (e *otlpEncoder) jsonKey(b []byte, prefix string, rawKey []byte) []byte {
	switch {
	case prefix == "":
		return e.jsonString(b, rawKey)
	case validJSONString(rawKey):
		b = append(b, '"')
		b = append(b, prefix...)
		return append(b, rawKey[1:]...)
	}
	e.str = e.unquote(append(e.str[:0], prefix...), rawKey)
	return jsontext.AppendStringBytes(b, e.str)
}

// jsonAny appends the AnyValue of the JSON value at s.i in OTLP/JSON and
// moves s past it. JSON strings are copied as they are written, escapes
// and all.
func (e *otlpEncoder) jsonAny(b []byte, s *jscan, depth int) []byte {
	s.space()
	start := s.i
	fallback := func(b []byte) []byte {
		s.i = start
		if !s.skipValue(0) {
			s.i = len(s.b)
		}
		b = append(b, `{"stringValue":`...)
		b = jsontext.AppendStringBytes(b, s.b[start:s.i])
		return append(b, '}')
	}
	if s.i >= len(s.b) {
		return append(b, "{}"...)
	}
	switch c := s.b[s.i]; {
	case c == '"':
		end, ok := s.stringEnd()
		if !ok {
			return fallback(b)
		}
		s.i = end
		b = append(b, `{"stringValue":`...)
		b = e.jsonString(b, s.b[start:end])
		return append(b, '}')
	case c == 't' || c == 'f':
		if !s.literal() {
			return fallback(b)
		}
		b = append(b, `{"boolValue":`...)
		b = append(b, s.b[start:s.i]...)
		return append(b, '}')
	case c == 'n':
		if !s.literal() {
			return fallback(b)
		}
		return append(b, "{}"...)
	case c == '-' || c >= '0' && c <= '9':
		num := s.number()
		if num == nil {
			return fallback(b)
		}
		switch kind, _, _ := numberKind(num); kind {
		case numInt:
			b = append(b, `{"intValue":"`...)
			b = append(b, num...)
			return append(b, `"}`...)
		case numDouble:
			b = append(b, `{"doubleValue":`...)
			b = append(b, num...)
			return append(b, '}')
		default:
			b = append(b, `{"stringValue":"`...)
			b = append(b, num...)
			return append(b, `"}`...)
		}
	case c == '{' && depth < maxOTLPDepth:
		mark := len(b)
		b = append(b, `{"kvlistValue":{"values":[`...)
		n := 0
		ok := s.object(func(rawKey []byte) bool {
			if n > 0 {
				b = append(b, ',')
			}
			n++
			b = append(b, `{"key":`...)
			b = e.jsonKey(b, "", rawKey)
			b = append(b, `,"value":`...)
			b = e.jsonAny(b, s, depth+1)
			b = append(b, '}')
			return !s.bad
		})
		if !ok {
			return fallback(b[:mark])
		}
		return append(b, "]}}"...)
	case c == '[' && depth < maxOTLPDepth:
		mark := len(b)
		b = append(b, `{"arrayValue":{"values":[`...)
		n := 0
		ok := s.array(func() bool {
			if n > 0 {
				b = append(b, ',')
			}
			n++
			b = e.jsonAny(b, s, depth+1)
			return !s.bad
		})
		if !ok {
			return fallback(b[:mark])
		}
		return append(b, "]}}"...)
	}
	return fallback(b)
}

// jsonString appends the JSON string raw (quotes included) as it is
// written when it is valid JSON and UTF-8, as loglet's records always are,
// and otherwise decoded and escaped again.
func (e *otlpEncoder) jsonString(b, raw []byte) []byte {
	if validJSONString(raw) {
		return append(b, raw...)
	}
	e.str = e.unquote(e.str[:0], raw)
	return jsontext.AppendStringBytes(b, e.str)
}

// validJSONString reports whether raw is a JSON string literal of valid
// UTF-8.
func validJSONString(raw []byte) bool {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return false
	}
	in := raw[1 : len(raw)-1]
	for i := 0; i < len(in); i++ {
		switch c := in[i]; {
		case c < 0x20 || c == '"':
			return false
		case c == '\\':
			if i+1 >= len(in) {
				return false
			}
			i++
			switch in[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if _, n := hex4(in[i+1:]); n == 0 {
					return false
				}
				i += 4
			default:
				return false
			}
		}
	}
	return utf8.Valid(in)
}

// jscan walks JSON text, checking every index: on input that is not
// valid JSON its methods report false (and set bad) instead of failing.
type jscan struct {
	b   []byte
	i   int
	bad bool
}

func (s *jscan) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

// stringEnd returns the index after the string starting at s.i.
func (s *jscan) stringEnd() (int, bool) {
	for i := s.i + 1; i < len(s.b); i++ {
		switch s.b[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true
		}
	}
	s.bad = true
	return 0, false
}

// literal moves past true, false or null.
func (s *jscan) literal() bool {
	var l string
	switch s.b[s.i] {
	case 't':
		l = "true"
	case 'f':
		l = "false"
	default:
		l = "null"
	}
	if len(s.b)-s.i >= len(l) && string(s.b[s.i:s.i+len(l)]) == l {
		s.i += len(l)
		return true
	}
	s.bad = true
	return false
}

// number returns the number at s.i and moves past it, or nil.
func (s *jscan) number() []byte {
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			s.i++
			continue
		}
		break
	}
	num := s.b[start:s.i]
	if len(num) == 0 || num[len(num)-1] < '0' || num[len(num)-1] > '9' {
		s.bad = true
		return nil
	}
	return num
}

// skipValue moves past the value at s.i.
func (s *jscan) skipValue(depth int) bool {
	s.space()
	if s.i >= len(s.b) || depth > maxOTLPDepth {
		s.bad = true
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		end, ok := s.stringEnd()
		s.i = end
		return ok
	case c == 't' || c == 'f' || c == 'n':
		return s.literal()
	case c == '{':
		return s.object(func([]byte) bool { return s.skipValue(depth + 1) })
	case c == '[':
		return s.array(func() bool { return s.skipValue(depth + 1) })
	default:
		return s.number() != nil
	}
}

// object walks the object at s.i, calling member with each raw key (its
// quotes included) and s at the value, which member must move past. It
// reports false when the text is not a valid object.
func (s *jscan) object(member func(rawKey []byte) bool) bool {
	if empty, ok := s.open('{', '}'); empty || !ok {
		return ok
	}
	for {
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return s.fail()
		}
		kstart := s.i
		kend, ok := s.stringEnd()
		if !ok {
			return false
		}
		s.i = kend
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return s.fail()
		}
		s.i++
		s.space()
		if !member(s.b[kstart:kend]) {
			return s.fail()
		}
		if done, ok := s.next('}'); done || !ok {
			return ok
		}
	}
}

// array walks the array at s.i, calling elem with s at each element,
// which elem must move past.
func (s *jscan) array(elem func() bool) bool {
	if empty, ok := s.open('[', ']'); empty || !ok {
		return ok
	}
	for {
		s.space()
		if !elem() {
			return s.fail()
		}
		if done, ok := s.next(']'); done || !ok {
			return ok
		}
	}
}

// open moves past the opening bracket of an object or array, and past
// its closing one too when it is empty.
func (s *jscan) open(openc, closec byte) (empty, ok bool) {
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != openc {
		return false, s.fail()
	}
	s.i++
	s.space()
	if s.i < len(s.b) && s.b[s.i] == closec {
		s.i++
		return true, true
	}
	return false, true
}

// next moves past the comma after a member or element, or past the
// closing bracket, reporting done.
func (s *jscan) next(closec byte) (done, ok bool) {
	if s.bad {
		return false, false
	}
	s.space()
	switch {
	case s.i >= len(s.b):
		return false, s.fail()
	case s.b[s.i] == ',':
		s.i++
		return false, true
	case s.b[s.i] == closec:
		s.i++
		return true, true
	}
	return false, s.fail()
}

// fail marks the text as not valid JSON and reports false.
func (s *jscan) fail() bool {
	s.bad = true
	return false
}

// value returns the message value of r for rt, made to fit in limit bytes
// (LOGLET_KAFKA_MAX_MESSAGE_BYTES less the record's overhead) when it can
// be, and whether it was shortened to fit. For the json encoding it is
// r.Value, or its shortened copy; for the OTLP encodings, the
// ExportLogsServiceRequest of r, or of a copy shortened until the request
// fits (the JSON is shortened, so the same members are kept or cut as in
// the json encoding; the resource is never cut).
func (s *Sink) value(rt route, r *sink.Record, limit int) ([]byte, bool) {
	if s.otlp == nil {
		if len(r.Value) <= limit {
			return r.Value, false
		}
		return shorten(r.Value, limit), true
	}
	v := s.otlp.encode(rt.pod, r, r.Value)
	shortened := false
	for jsonLimit, tries := len(r.Value), 0; len(v) > limit && tries < 8; tries++ {
		// The request grows with the JSON, less than or about as fast:
		// cut the JSON by what the request is over.
		jsonLimit -= len(v) - limit
		if jsonLimit <= 0 {
			break
		}
		shortened = true
		v = s.otlp.encode(rt.pod, r, shorten(r.Value, jsonLimit))
	}
	return v, shortened
}
