package applib

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/loglet/loglet/sidecar/jsontext"
)

// timeLayout is the layout of the "time" key and of time values in fields:
// RFC 3339 in UTC with all nine fractional digits, so that every timestamp
// has the same width and lines sort as text.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// The keys every record starts with, in this order, named as logrus names them.
const (
	keyTime  = "time"
	keyLevel = "level"
	keyMsg   = "msg"
	keyFile  = "file"
	keyFunc  = "func"
	// clashPrefix is put before a field whose key is one of the keys above,
	// as logrus' JSONFormatter does, so a field never hides a built-in key.
	clashPrefix = "fields."
)

// field locates one field in encoder.scratch: the key is scratch[k:v] and
// its encoded JSON value is scratch[v:end].
type field struct{ k, v, end int }

// encoder turns one record into one JSON line. The logrus formatter and the
// slog handler share it, so the same fields produce the same bytes through
// either API. An encoder is used by one goroutine at a time (see encoders).
type encoder struct {
	scratch []byte
	fields  []field
}

// encoders recycles encoders between records; buffers that grew past
// maxPooledBytes are dropped rather than pinned in memory.
var encoders = sync.Pool{New: func() any { return new(encoder) }}

const maxPooledBytes = 64 << 10

func getEncoder() *encoder {
	e := encoders.Get().(*encoder)
	e.scratch = e.scratch[:0]
	e.fields = e.fields[:0]
	return e
}

func putEncoder(e *encoder) {
	if cap(e.scratch) > maxPooledBytes || cap(e.fields) > maxPooledBytes/16 {
		return
	}
	encoders.Put(e)
}

// beginField appends the key prefix+key and returns where it starts; the
// caller appends the value and then calls endField.
func (e *encoder) beginField(prefix, key string) int {
	k := len(e.scratch)
	if prefix == "" && isReserved(key) {
		e.scratch = append(e.scratch, clashPrefix...)
	}
	e.scratch = append(e.scratch, prefix...)
	e.scratch = append(e.scratch, key...)
	return k
}

func (e *encoder) endField(k, v int) {
	e.fields = append(e.fields, field{k: k, v: v, end: len(e.scratch)})
}

// addAny adds a logrus field.
func (e *encoder) addAny(key string, val any) {
	k := e.beginField("", key)
	v := len(e.scratch)
	e.scratch = appendAny(e.scratch, val)
	e.endField(k, v)
}

// addAttr adds a slog attribute under the group prefix ("" or "g1.g2."),
// following the slog.Handler rules: values are resolved, empty attributes
// and empty groups are dropped, a group with an empty key is inlined, and
// a group's attributes become dotted keys.
func (e *encoder) addAttr(prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Key == "" && a.Value.Kind() == slog.KindAny && a.Value.Any() == nil {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		attrs := a.Value.Group()
		if len(attrs) == 0 {
			return
		}
		p := prefix
		if a.Key != "" {
			p = prefix + a.Key + "."
		}
		for _, ga := range attrs {
			e.addAttr(p, ga)
		}
		return
	}
	k := e.beginField(prefix, a.Key)
	v := len(e.scratch)
	e.scratch = appendSlogValue(e.scratch, a.Value)
	e.endField(k, v)
}

// appendRecord appends the whole record as one JSON object and a newline:
// time, level, msg, file, func, then the fields sorted by key, where of
// fields with the same key the last one added wins. A zero t omits "time"
// and an empty file omits "file" and "func".
func (e *encoder) appendRecord(dst []byte, t time.Time, level, msg, file string, line int, fn string) []byte {
	dst = append(dst, '{')
	if !t.IsZero() {
		dst = append(dst, `"time":"`...)
		dst = t.UTC().AppendFormat(dst, timeLayout)
		dst = append(dst, `",`...)
	}
	dst = append(dst, `"level":`...)
	dst = jsontext.AppendString(dst, level)
	dst = append(dst, `,"msg":`...)
	dst = jsontext.AppendString(dst, msg)
	if file != "" {
		dst = append(dst, `,"file":`...)
		dst = append(dst, '"')
		dst = jsontext.AppendEscaped(dst, file)
		dst = append(dst, ':')
		dst = strconv.AppendInt(dst, int64(line), 10)
		dst = append(dst, `","func":`...)
		dst = jsontext.AppendString(dst, fn)
	}
	s := e.scratch
	slices.SortStableFunc(e.fields, func(a, b field) int {
		return bytes.Compare(s[a.k:a.v], s[b.k:b.v])
	})
	for i, f := range e.fields {
		if i+1 < len(e.fields) {
			if n := e.fields[i+1]; bytes.Equal(s[f.k:f.v], s[n.k:n.v]) {
				continue // a later field with the same key replaces this one
			}
		}
		dst = append(dst, ',')
		dst = jsontext.AppendString(dst, s[f.k:f.v])
		dst = append(dst, ':')
		dst = append(dst, s[f.v:f.end]...)
	}
	return append(dst, '}', '\n')
}

func isReserved(key string) bool {
	switch key {
	case keyTime, keyLevel, keyMsg, keyFile, keyFunc:
		return true
	}
	return false
}

// appendSlogValue appends a resolved, non-group slog value.
func appendSlogValue(dst []byte, v slog.Value) []byte {
	switch v.Kind() {
	case slog.KindString:
		return jsontext.AppendString(dst, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(dst, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(dst, v.Uint64(), 10)
	case slog.KindFloat64:
		return appendFloat(dst, v.Float64(), 64)
	case slog.KindBool:
		return strconv.AppendBool(dst, v.Bool())
	case slog.KindDuration:
		return appendDuration(dst, v.Duration())
	case slog.KindTime:
		return appendTime(dst, v.Time())
	default:
		return appendAny(dst, v.Any())
	}
}

// appendAny appends a field value so that its JSON type depends only on its
// Go type: integers as integers, floats always with a fraction or exponent,
// durations as float milliseconds, times as UTC strings, errors as their
// message, and anything else as encoding/json writes it.
func appendAny(dst []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...)
	case string:
		return jsontext.AppendString(dst, v)
	case bool:
		return strconv.AppendBool(dst, v)
	case int:
		return strconv.AppendInt(dst, int64(v), 10)
	case int64:
		return strconv.AppendInt(dst, v, 10)
	case int32:
		return strconv.AppendInt(dst, int64(v), 10)
	case uint64:
		return strconv.AppendUint(dst, v, 10)
	case uint:
		return strconv.AppendUint(dst, uint64(v), 10)
	case float64:
		return appendFloat(dst, v, 64)
	case float32:
		return appendFloat(dst, float64(v), 32)
	case time.Duration:
		return appendDuration(dst, v)
	case time.Time:
		return appendTime(dst, v)
	case slog.Value:
		return appendSlogValue(dst, v.Resolve())
	case error:
		return appendGuarded(dst, v, func(dst []byte) []byte { return jsontext.AppendString(dst, v.Error()) })
	case json.Marshaler, encoding.TextMarshaler:
		return appendJSON(dst, v)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(dst, rv.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.AppendUint(dst, rv.Uint(), 10)
	case reflect.Float32:
		return appendFloat(dst, rv.Float(), 32)
	case reflect.Float64:
		return appendFloat(dst, rv.Float(), 64)
	case reflect.Bool:
		return strconv.AppendBool(dst, rv.Bool())
	case reflect.String:
		return jsontext.AppendString(dst, rv.String())
	}
	return appendJSON(dst, v)
}

// appendJSON appends v as encoding/json writes it, or, when v cannot be
// encoded, a string saying why: the record is still written.
func appendJSON(dst []byte, v any) []byte {
	return appendGuarded(dst, v, func(dst []byte) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			return jsontext.AppendString(dst, "!ERROR: "+err.Error())
		}
		return append(dst, b...)
	})
}

// appendGuarded runs the user's methods (Error, MarshalJSON) that app calls,
// turning a panic in them, such as Error on a nil pointer, into a string
// value instead of losing the record or crashing the service.
func appendGuarded(dst []byte, v any, app func([]byte) []byte) (out []byte) {
	n := len(dst)
	defer func() {
		if r := recover(); r != nil {
			out = jsontext.AppendString(dst[:n], fmt.Sprintf("!PANIC: %T: %v", v, r))
		}
	}()
	return app(dst)
}

// appendFloat writes f as encoding/json does, but always with a fraction or
// an exponent (2.0, not 2), so a float field never reads back as an
// integer. NaN and infinities, which JSON cannot represent, become null.
func appendFloat(dst []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) ||
			bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// Clean up e-09 to e-9, as encoding/json does.
		if n := len(dst); n-start >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
		return dst
	}
	if bytes.IndexByte(dst[start:], '.') < 0 {
		dst = append(dst, '.', '0')
	}
	return dst
}

// appendDuration writes d as float milliseconds: 1.5 for 1500µs, 2.0 for 2ms.
func appendDuration(dst []byte, d time.Duration) []byte {
	return appendFloat(dst, float64(d)/float64(time.Millisecond), 64)
}

func appendTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, timeLayout)
	return append(dst, '"')
}
