package applib_test

import (
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/loglet/loglet/applib"
	"github.com/sirupsen/logrus"
)

// The three-line setup of a service: in the pod the records go to
// <LOGLET_LOG_DIR>/<pod>.log for the loglet sidecar, on a laptop or in a
// unit test (no LOGLET_LOG_DIR) to stdout.
func Example() {
	out, err := applib.OpenEnv()
	if err != nil {
		log.Fatal(err)
	}
	defer out.Close()
	logger := applib.New(out)

	start := time.Now()
	// ... handle a request ...
	logger.WithFields(applib.Fields(
		applib.Int("count", 1),
		applib.Duration("latency_ms", time.Since(start)),
		applib.String("user", "alice"),
	)).Info("request served")
}

// A slog service shares the setup; logrus and slog loggers may share one Output.
func ExampleNewSlog() {
	out, err := applib.OpenEnv()
	if err != nil {
		log.Fatal(err)
	}
	defer out.Close()
	logger := applib.NewSlog(out)

	logger.Info("request served", applib.Int("count", 1), applib.Duration("latency_ms", 1500*time.Microsecond))
}

// The record New writes: built-in keys first, then the fields by key, each
// with a type that depends only on its Go type.
func ExampleNew() {
	out, err := applib.Open(applib.Config{Stdout: os.Stdout}) // no Dir: stdout
	if err != nil {
		log.Fatal(err)
	}
	defer out.Close()
	logger := applib.New(out)

	jst := time.FixedZone("JST", 9*60*60)
	fields := logrus.Fields{"count": 0, "latency_ms": 12.0, "text_sample": "fooooo"}
	logger.WithTime(time.Date(2020, 3, 2, 18, 22, 24, 0, jst)).WithFields(fields).Info("sample log")
	// Output:
	// {"time":"2020-03-02T09:22:24.000000000Z","level":"info","msg":"sample log","file":"example_test.go:57","func":"github.com/loglet/loglet/applib_test.ExampleNew","count":0,"latency_ms":12.0,"text_sample":"fooooo"}
}

// Open with an explicit Config, for example to rotate smaller files.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "applib-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	out, err := applib.Open(applib.Config{
		Dir:          dir,     // the volume shared with the sidecar
		Pod:          "web-1", // names web-1.log and web-1-<UTC time>.log
		MaxFileBytes: 10 << 20,
		MaxFiles:     3,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer out.Close()
	slog.New(applib.NewHandler(out, slog.LevelDebug)).Debug("written to web-1.log")
}
