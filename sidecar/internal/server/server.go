// Package server serves the sidecar's operational HTTP endpoints:
//
//	/healthz          200 while the process serves (for a livenessProbe)
//	/readyz           200 while every readiness check passes
//	/status           every check, readiness and report alike, one line each
//	/status/{name}    one check: 200 "ok", or 503 and why
//	/metrics          Prometheus text format from an injected registry
//	/debug/pprof/     Go's profiles, only with Pprof set (LOGLET_PPROF=true)
//
// Readiness checks are only those whose failure the pod's own containers can
// do nothing about and an operator must fix on the node: in the sidecar, the
// checkpoint saves. A report is a check that /status shows and /readyz never
// runs: Kafka's health is one, so that an unreachable or refusing broker is
// visible on /status/kafka, in the metrics and in the logs, and never makes
// the pod unready (a native sidecar's readiness is part of the Pod's Ready
// condition, so it would take the app out of its Service).
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Checker reports whether one part of the sidecar is healthy: nil, or an
// error saying what is wrong.
type Checker interface {
	Ready() error
}

// CheckerFunc adapts a function to Checker.
type CheckerFunc func() error

// Ready calls f.
func (f CheckerFunc) Ready() error { return f() }

// Server is the operational HTTP server. Its zero value serves /healthz,
// and /readyz and /status with no checks; no metrics.
//
// Concurrency: Handler may be called from any goroutine; Serve is called
// once and returns when its context ends. Do not change the fields after
// Handler or Serve was called.
type Server struct {
	// Gatherer supplies /metrics; nil serves no metrics.
	Gatherer prometheus.Gatherer
	// Checks are run by /readyz, by name; all must pass. /status shows
	// them too.
	Checks map[string]Checker
	// Reports are checks that /status and /status/{name} show but /readyz
	// never runs. A name in both Checks and Reports is a readiness check.
	Reports map[string]Checker
	// Logger receives serving errors; nil discards them.
	Logger *slog.Logger
	// Pprof serves net/http/pprof's profiles under /debug/pprof/. Off by
	// default: profiles show the process's memory and cost CPU to take.
	Pprof bool
}

// Handler returns the endpoints' handler.
func (s *Server) Handler() http.Handler {
	all := maps.Clone(s.Reports)
	if all == nil {
		all = map[string]Checker{}
	}
	maps.Copy(all, s.Checks)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { report(w, s.Checks) })
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) { report(w, all) })
	mux.HandleFunc("GET /status/{name}", func(w http.ResponseWriter, r *http.Request) {
		c, ok := all[r.PathValue("name")]
		if !ok {
			http.Error(w, fmt.Sprintf("no check %q; the checks are %s", r.PathValue("name"), strings.Join(slices.Sorted(maps.Keys(all)), ", ")), http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := c.Ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, err)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	if s.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.Gatherer, promhttp.HandlerOpts{}))
	}
	if s.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// report runs checks in name order and writes one line for each: "name: ok"
// or "name: error". The status is 503 when one fails.
func report(w http.ResponseWriter, checks map[string]Checker) {
	failed := false
	var sb strings.Builder
	for _, name := range slices.Sorted(maps.Keys(checks)) {
		if err := checks[name].Ready(); err != nil {
			failed = true
			fmt.Fprintf(&sb, "%s: %v\n", name, err)
		} else {
			fmt.Fprintf(&sb, "%s: ok\n", name)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if failed {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	fmt.Fprint(w, sb.String())
}

// Serve serves on ln until ctx ends, then closes it.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
	if s.Logger != nil {
		srv.ErrorLog = slog.NewLogLogger(s.Logger.Handler(), slog.LevelWarn)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		srv.Shutdown(shutdownCtx)
		<-errc
		return nil
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}
