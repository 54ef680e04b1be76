package applib

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// The benchmarks log one record with five fields (an integer, a float,
// two strings and a bool) with the caller reported, to a real file in a
// temporary directory and to io.Discard (formatting alone).

func benchFile(b *testing.B) *os.File {
	b.Helper()
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "plain.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	return f
}

func benchOutput(b *testing.B) *Output {
	b.Helper()
	o, err := Open(Config{Dir: b.TempDir(), Pod: "web-1"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { o.Close() })
	return o
}

func runLogrus(b *testing.B, l *logrus.Logger) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		l.WithFields(logrus.Fields{
			"count":      i,
			"latency_ms": 12.5,
			"text":       "fooooo",
			"user":       "alice",
			"ok":         true,
		}).Info("request served")
	}
}

func runSlog(b *testing.B, l *slog.Logger) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		l.Info("request served",
			slog.Int("count", i),
			slog.Float64("latency_ms", 12.5),
			slog.String("text", "fooooo"),
			slog.String("user", "alice"),
			slog.Bool("ok", true),
		)
	}
}

func plainLogrus(w io.Writer, caller bool) *logrus.Logger {
	l := logrus.New()
	l.Out = w
	l.Formatter = &logrus.JSONFormatter{TimestampFormat: time.RFC3339Nano}
	l.ReportCaller = caller
	return l
}

func BenchmarkLogrus(b *testing.B) {
	b.Run("applib/file", func(b *testing.B) { runLogrus(b, New(benchOutput(b))) })
	b.Run("plain-JSONFormatter-caller/file", func(b *testing.B) { runLogrus(b, plainLogrus(benchFile(b), true)) })
	b.Run("plain-JSONFormatter/file", func(b *testing.B) { runLogrus(b, plainLogrus(benchFile(b), false)) })
	b.Run("applib/discard", func(b *testing.B) { runLogrus(b, New(io.Discard)) })
	b.Run("plain-JSONFormatter-caller/discard", func(b *testing.B) { runLogrus(b, plainLogrus(io.Discard, true)) })
}

func BenchmarkSlog(b *testing.B) {
	b.Run("applib/file", func(b *testing.B) { runSlog(b, NewSlog(benchOutput(b))) })
	b.Run("stdlib-JSONHandler-source/file", func(b *testing.B) {
		runSlog(b, slog.New(slog.NewJSONHandler(benchFile(b), &slog.HandlerOptions{AddSource: true})))
	})
	b.Run("applib/discard", func(b *testing.B) { runSlog(b, NewSlog(io.Discard)) })
	b.Run("stdlib-JSONHandler-source/discard", func(b *testing.B) {
		runSlog(b, slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{AddSource: true})))
	})
}

// BenchmarkLogrusParallel has all Ps log at once into one Output.
func BenchmarkLogrusParallel(b *testing.B) {
	l := New(benchOutput(b))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			l.WithFields(logrus.Fields{"count": i, "latency_ms": 12.5, "text": "fooooo", "user": "alice", "ok": true}).Info("request served")
		}
	})
}
