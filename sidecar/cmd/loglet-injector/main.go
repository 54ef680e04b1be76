// Command loglet-injector is the mutating admission webhook that adds the
// loglet sidecar to pods (see package inject for what it changes). It serves
// HTTPS on LOGLET_INJECTOR_ADDR:
//
//	/mutate   admission.k8s.io/v1 AdmissionReview
//	/healthz  200 while the process serves
//	/readyz   200 while it has a certificate and is not shutting down
//	/metrics  Prometheus metrics
//
// The certificate and key are read from files and reloaded when they
// change, so a rotated Secret needs no restart. Every setting comes from the
// environment; `loglet-injector -h` lists the variables.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"reflect"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/caarlos0/env/v10"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/loglet/loglet/sidecar/internal/inject"
)

// version is loglet's semantic version, kept equal to the repository's
// VERSION file; builds from a tagged commit set it with -ldflags
// "-X main.version=...".
var version = "0.2.0"

const envPrefix = "LOGLET_INJECTOR_"

// config is the injector's configuration, read from the environment with
// envPrefix.
type config struct {
	Addr            string        `env:"ADDR" envDefault:":8443" help:"HTTPS listen address"`
	TLSCertFile     string        `env:"TLS_CERT_FILE" envDefault:"/etc/loglet-injector/tls/tls.crt" help:"serving certificate (PEM), reloaded when it changes"`
	TLSKeyFile      string        `env:"TLS_KEY_FILE" envDefault:"/etc/loglet-injector/tls/tls.key" help:"serving key (PEM), reloaded when it changes"`
	LogLevel        string        `env:"LOG_LEVEL" envDefault:"info" help:"debug | info | warn | error"`
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"10s" help:"how long to finish open requests on SIGTERM"`
	ShutdownDelay   time.Duration `env:"SHUTDOWN_DELAY" envDefault:"2s" help:"how long to keep serving, unready, after SIGTERM, while endpoints are updated"`

	Settings inject.Settings
}

func main() {
	flags := flag.NewFlagSet("loglet-injector", flag.ContinueOnError)
	showVersion := flags.Bool("version", false, "print the version and exit")
	flags.Usage = func() { usage(flags.Output()) }
	if err := flags.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		os.Exit(2)
	}
	if *showVersion {
		fmt.Println("loglet-injector", version)
		return
	}
	cfg, err := loadConfig(environ())
	if err != nil {
		fmt.Fprintln(os.Stderr, "loglet-injector:", err)
		os.Exit(2)
	}
	logger := newLogger(os.Stderr, cfg.LogLevel)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		logger.Error("listen", "addr", cfg.Addr, "err", err)
		os.Exit(1)
	}
	if err := run(ctx, cfg, ln, prometheus.NewRegistry(), logger); err != nil {
		logger.Error("exiting", "err", err)
		os.Exit(1)
	}
}

func environ() map[string]string {
	m := make(map[string]string)
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// loadConfig reads the configuration from environ and validates it.
func loadConfig(environ map[string]string) (config, error) {
	var cfg config
	if err := env.ParseWithOptions(&cfg, env.Options{Prefix: envPrefix, Environment: environ}); err != nil {
		return cfg, fmt.Errorf("environment: %w", err)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return cfg, fmt.Errorf("%sLOG_LEVEL %q: %w", envPrefix, cfg.LogLevel, err)
	}
	if err := cfg.Settings.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level)) // loadConfig checked it
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// run serves on ln until ctx ends, then shuts down gracefully: /readyz
// fails for ShutdownDelay, then open requests get ShutdownTimeout.
func run(ctx context.Context, cfg config, ln net.Listener, reg *prometheus.Registry, logger *slog.Logger) error {
	certs := &certFiles{certPath: cfg.TLSCertFile, keyPath: cfg.TLSKeyFile, logger: logger}
	if err := certs.load(); err != nil {
		ln.Close()
		return err
	}
	metrics, err := inject.NewMetrics(reg)
	if err != nil {
		ln.Close()
		return err
	}
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		ln.Close()
		return fmt.Errorf("register metrics: %w", err)
	}

	var stopping atomic.Bool
	mux := http.NewServeMux()
	mux.Handle("/mutate", &inject.Handler{Settings: cfg.Settings, Logger: logger, Metrics: metrics})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if stopping.Load() {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       90 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug), // TLS handshake noise from probes and scanners
		TLSConfig: &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: certs.getCertificate,
		},
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	logger.Info("serving", "addr", ln.Addr().String(), "version", version)

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	stopping.Store(true)
	logger.Info("shutting down")
	select {
	case <-time.After(cfg.ShutdownDelay):
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	<-errc // http.ErrServerClosed
	return nil
}

// usage prints the flags and every environment variable with its help.
func usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: loglet-injector [-version]\n\nThe mutating admission webhook that injects the loglet sidecar.\nEnvironment:\n")
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for f := range t.Fields() {
			if f.Type.Kind() == reflect.Struct && f.Tag.Get("env") == "" && f.Type != reflect.TypeFor[time.Duration]() {
				walk(f.Type)
				continue
			}
			name := f.Tag.Get("env")
			if name == "" {
				continue
			}
			help := f.Tag.Get("help")
			if d := f.Tag.Get("envDefault"); d != "" {
				help += " (default " + d + ")"
			}
			fmt.Fprintf(w, "  %s%s\n    \t%s\n", envPrefix, name, help)
		}
	}
	walk(reflect.TypeFor[config]())
}
