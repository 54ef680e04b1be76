// Command counter is a small example service, written with applib: every
// interval it handles a simulated request and logs its number (count), how
// long it took (latency_ms) and a text field, as typed fields the loglet
// sidecar ships to Kafka.
//
// In a pod it writes to <LOGLET_LOG_DIR>/<POD_NAME>.log in the volume it
// shares with the sidecar; without LOGLET_LOG_DIR it writes to stdout.
//
// Usage:
//
//	counter [-interval 5s] [-n 0] [-error-every 0]
//
// The flags' defaults can also be set with COUNTER_INTERVAL,
// COUNTER_RECORDS and COUNTER_ERROR_EVERY. SIGINT or SIGTERM stops it
// cleanly: it logs "stopping" and closes the file.
//
// Build it with go build; it needs nothing else.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/loglet/loglet/applib"
	"github.com/sirupsen/logrus"
)

// version is loglet's version, set with -ldflags "-X main.version=..." by the
// Makefile and the Dockerfile.
var version = "0.2.0"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := realMain(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "counter:", err)
		}
		os.Exit(2)
	}
}

// options are the command line settings.
type options struct {
	interval   time.Duration // between records
	records    int           // stop after this many; 0: run until stopped
	errorEvery int           // log every Nth request as failed; 0: never
	version    bool          // print the version and exit
}

func parseOptions(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	def := options{interval: 5 * time.Second}
	if s := getenv("COUNTER_INTERVAL"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return options{}, fmt.Errorf("COUNTER_INTERVAL=%q: %w", s, err)
		}
		def.interval = d
	}
	for name, p := range map[string]*int{"COUNTER_RECORDS": &def.records, "COUNTER_ERROR_EVERY": &def.errorEvery} {
		if s := getenv(name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				return options{}, fmt.Errorf("%s=%q: %w", name, s, err)
			}
			*p = n
		}
	}
	fs := flag.NewFlagSet("counter", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.DurationVar(&o.interval, "interval", def.interval, "time between records (COUNTER_INTERVAL)")
	fs.IntVar(&o.records, "n", def.records, "stop after this many records; 0 runs until SIGINT or SIGTERM (COUNTER_RECORDS)")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.IntVar(&o.errorEvery, "error-every", def.errorEvery, "log every Nth request as an error, for trying alerts; 0 never (COUNTER_ERROR_EVERY)")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	switch {
	case fs.NArg() > 0:
		return options{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.interval <= 0:
		return options{}, fmt.Errorf("-interval %s: want a positive duration", o.interval)
	case o.records < 0 || o.errorEvery < 0:
		return options{}, errors.New("-n and -error-every cannot be negative")
	}
	return o, nil
}

func realMain(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	o, err := parseOptions(args, getenv, stderr)
	if err != nil {
		return err
	}
	if o.version {
		fmt.Fprintln(stderr, "counter", version)
		return nil
	}
	out, err := applib.OpenEnv()
	if err != nil {
		return err
	}
	log := applib.New(out)
	run(ctx, log, o)
	return out.Close()
}

// run logs one record per interval until ctx ends or o.records are written.
func run(ctx context.Context, log *logrus.Logger, o options) {
	tick := time.NewTicker(o.interval)
	defer tick.Stop()
	for count := 0; ; count++ {
		latency := handle(ctx)
		fields := applib.Fields(
			applib.Int("count", count),
			applib.Duration("latency_ms", latency),
			applib.String("text_sample", "fooooo"),
		)
		if o.errorEvery > 0 && (count+1)%o.errorEvery == 0 {
			log.WithFields(fields).Error("request failed: simulated exception")
		} else {
			log.WithFields(fields).Info("sample log")
		}
		if o.records > 0 && count+1 == o.records {
			return
		}
		select {
		case <-ctx.Done():
			log.WithField("count", count+1).Info("stopping")
			return
		case <-tick.C:
		}
	}
}

// handle stands in for the service's work: up to 20ms. It returns how long it took.
func handle(ctx context.Context) time.Duration {
	start := time.Now()
	t := time.NewTimer(rand.N(20 * time.Millisecond))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return time.Since(start)
}
