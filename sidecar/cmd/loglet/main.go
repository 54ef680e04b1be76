// Command loglet is the log-shipping sidecar: it tails the pod's shared log
// volume and ships every line, parsed and labelled with the pod's identity,
// to Kafka (or stdout). Configuration comes from the environment; run
// `loglet -h` for the list.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	_ "time/tzdata" // LOGLET_DEFAULT_TZ works in a distroless image without zoneinfo

	"github.com/loglet/loglet/sidecar/internal/agent"
	"github.com/loglet/loglet/sidecar/internal/buildinfo"
	"github.com/loglet/loglet/sidecar/internal/config"
	"github.com/loglet/loglet/sidecar/internal/logging"
	"github.com/loglet/loglet/sidecar/internal/memlimit"
)

// version is loglet's semantic version, kept equal to the repository's
// VERSION file (integration/version_test.go checks it); builds from a tagged
// commit set it with -ldflags "-X main.version=..." (the Makefile's and the
// Dockerfile's VERSION, from git describe).
var version = "0.2.0"

// revision is the source revision, set with -ldflags "-X main.revision=..."
// where Go's own VCS stamp is missing (a Docker build without .git).
var revision = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// run is main without the process: arguments, environment and streams in,
// exit code out.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loglet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: loglet [-version]\n\n%s", config.Usage())
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *showVersion {
		b := buildinfo.Read(version, revision)
		fmt.Fprintf(stdout, "loglet %s (%s, revision %s)\n", b.Version, b.GoVersion, b.Revision)
		return 0
	}
	cfg, err := config.Load(environ)
	if err != nil {
		fmt.Fprintf(stderr, "loglet: %v\n", err)
		return 2
	}
	logger := logging.New(stderr, level(cfg.LogLevel))
	if limit, err := memlimit.Apply(lookup(environ), cgroupRoot); err != nil {
		logger.Warn("the container's memory limit could not be read; no Go memory limit set", "err", err)
	} else if limit > 0 {
		logger.Info("Go memory limit set from the container's", "bytes", limit)
	}
	if err := agent.Run(ctx, cfg, buildinfo.Read(version, revision), logger, stdout); err != nil {
		logger.Error("loglet failed", "err", err)
		return 1
	}
	return 0
}

// cgroupRoot is where a container sees its own cgroup.
const cgroupRoot = "/sys/fs/cgroup"

// lookup returns a getenv over environ (NAME=VALUE entries).
func lookup(environ []string) func(string) string {
	return func(name string) string {
		for _, kv := range environ {
			if k, v, ok := strings.Cut(kv, "="); ok && k == name {
				return v
			}
		}
		return ""
	}
}

func level(s string) slog.Level {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}
