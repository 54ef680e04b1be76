package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	// The first signal stops the demo in order; a second one kills what
	// still runs.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	ctx, stop := context.WithCancel(context.Background())
	force, kill := context.WithCancel(context.Background())
	go func() { // ends with the process
		<-sigs
		stop()
		<-sigs
		kill()
	}()
	o, err := parseOptions(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(2)
	}
	out := newPrinter(os.Stdout, useColor(os.Stdout, os.Getenv))
	if err := run(ctx, force, o, os.Environ(), out, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// options are the command line settings.
type options struct {
	loglet     string        // the loglet binary
	counter    string        // the example app's binary
	interval   time.Duration // the app's interval between records
	errorEvery int           // the app logs every Nth request as an error
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.loglet, "loglet", "bin/loglet", "the loglet binary (make demo builds it)")
	fs.StringVar(&o.counter, "counter", "bin/counter", "the example app, examples/counter (make demo builds it)")
	fs.DurationVar(&o.interval, "interval", time.Second, "how often the app logs a record")
	fs.IntVar(&o.errorEvery, "error-every", 5, "the app logs every Nth request as an error; 0 never")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	switch {
	case fs.NArg() > 0:
		return options{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.interval <= 0:
		return options{}, fmt.Errorf("-interval %s: want a positive duration", o.interval)
	case o.errorEvery < 0:
		return options{}, fmt.Errorf("-error-every %d: cannot be negative", o.errorEvery)
	}
	return o, nil
}
