package applib

import (
	"log/slog"
	"time"
	"unsafe"

	"github.com/sirupsen/logrus"
)

// Int is a metric written as a JSON integer; v may be of any integer type.
func Int[T ~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uintptr](key string, v T) slog.Attr {
	if v < 0 || uint64(v) <= 1<<63-1 {
		return slog.Int64(key, int64(v))
	}
	return slog.Uint64(key, uint64(v))
}

// Float is a metric written as a JSON number that always has a fraction or
// an exponent (2.0, not 2), so that it never reads back as an integer.
// NaN and infinities are written as null.
func Float[T ~float32 | ~float64](key string, v T) slog.Attr {
	if unsafe.Sizeof(v) == 4 {
		// slog widens a float32 to float64 (0.1 becomes
		// 0.10000000149011612); a named type keeps its precision.
		return slog.Any(key, float32Value(v))
	}
	return slog.Float64(key, float64(v))
}

// float32Value carries a float32 through slog, which would widen it.
type float32Value float32

// Duration is a metric written as float milliseconds: 1.5 for 1500µs, 2.0
// for 2ms. Name the key for the unit, as in "latency_ms". (Any
// time.Duration field or attribute is written this way.)
func Duration(key string, d time.Duration) slog.Attr {
	return slog.Float64(key, float64(d)/float64(time.Millisecond))
}

// String is a text field.
func String(key, v string) slog.Attr {
	return slog.String(key, v)
}

// Fields turns attributes into logrus fields, so that the same typed
// helpers serve both APIs:
//
//	log.WithFields(applib.Fields(applib.Int("count", n), applib.Duration("latency_ms", d))).Info("tick")
//	slogger.Info("tick", applib.Int("count", n), applib.Duration("latency_ms", d))
//
// write the same fields. Groups become dotted keys, as in Handler; of
// attributes with the same key the last wins.
func Fields(attrs ...slog.Attr) logrus.Fields {
	f := make(logrus.Fields, len(attrs))
	for _, a := range attrs {
		addField(f, "", a)
	}
	return f
}

func addField(f logrus.Fields, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	if a.Key == "" && v.Kind() == slog.KindAny && v.Any() == nil {
		return
	}
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p = prefix + a.Key + "."
		}
		for _, ga := range v.Group() {
			addField(f, p, ga)
		}
		return
	}
	f[prefix+a.Key] = v.Any() // int64, float64, time.Duration...: written as Handler writes them
}
