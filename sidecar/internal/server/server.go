// Package server serves the sidecar's operational HTTP endpoints: /healthz
// (the process is alive), /readyz (every readiness check passes) and
// /metrics (Prometheus text format from an injected registry).
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Checker reports whether one part of the sidecar is ready.
type Checker interface {
	Ready() error
}

// CheckerFunc adapts a function to Checker.
type CheckerFunc func() error

// Ready calls f.
func (f CheckerFunc) Ready() error { return f() }

// Server is the operational HTTP server. Its zero value serves /healthz
// only, with no checks and no metrics.
//
// Concurrency: Handler may be called from any goroutine; Run is called
// once and returns when its context ends.
type Server struct {
	// Addr is the listen address, e.g. ":9110".
	Addr string
	// Gatherer supplies /metrics; nil serves no metrics.
	Gatherer prometheus.Gatherer
	// Checks are run by /readyz, by name; all must pass.
	Checks map[string]Checker
	// Logger receives serving errors; nil discards them.
	Logger *slog.Logger
}

// Handler returns the endpoints' handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	if s.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.Gatherer, promhttp.HandlerOpts{}))
	}
	return mux
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	names := make([]string, 0, len(s.Checks))
	for name := range s.Checks {
		names = append(names, name)
	}
	sort.Strings(names)
	var failed []string
	var sb strings.Builder
	for _, name := range names {
		if err := s.Checks[name].Ready(); err != nil {
			failed = append(failed, name)
			fmt.Fprintf(&sb, "%s: %v\n", name, err)
		} else {
			fmt.Fprintf(&sb, "%s: ok\n", name)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if len(failed) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	fmt.Fprint(w, sb.String())
}

// Run listens on Addr and serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.Addr, err)
	}
	return s.Serve(ctx, ln)
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
