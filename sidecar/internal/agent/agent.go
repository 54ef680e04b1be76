// Package agent wires the loglet sidecar together: the pod identity, the
// output chosen by LOGLET_SINK, the pipeline and the HTTP endpoints. It
// owns the output's lifecycle: the output runs before the pipeline starts
// and stops only after the pipeline has shut down (see runPipeline).
package agent

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/loglet/loglet/sidecar/internal/buildinfo"
	"github.com/loglet/loglet/sidecar/internal/config"
	"github.com/loglet/loglet/sidecar/internal/pipeline"
	"github.com/loglet/loglet/sidecar/internal/podinfo"
	"github.com/loglet/loglet/sidecar/internal/server"
	"github.com/loglet/loglet/sidecar/internal/shape"
	"github.com/loglet/loglet/sidecar/internal/sink"
	"github.com/loglet/loglet/sidecar/internal/sink/kafka"
)

// Run runs the sidecar until ctx ends and it has shut down. Records go to
// stdout when cfg.Sink is "stdout"; logs go to logger. cfg comes from
// config.Load, which checked everything that can be checked at start and
// bound cfg.HTTPListener; Run serves on that listener and closes it. build
// is reported in the start log line and as loglet_build_info.
func Run(ctx context.Context, cfg *config.Config, build buildinfo.Info, logger *slog.Logger, stdout io.Writer) error {
	if cfg.HTTPListener != nil {
		defer cfg.HTTPListener.Close() // when Run fails before serving; a second Close is harmless
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), build.Collector())
	// The buffer's size, so that a dashboard shows how full it is
	// (loglet_buffered_bytes / loglet_max_buffer_bytes).
	maxBuffer := prometheus.NewGauge(prometheus.GaugeOpts{Name: "loglet_max_buffer_bytes",
		Help: "LOGLET_MAX_BUFFER_BYTES: unacknowledged record bytes at which reading pauses."})
	maxBuffer.Set(float64(cfg.MaxBufferBytes))
	reg.MustRegister(maxBuffer)

	pods := &podinfo.Source{Env: cfg.Pod, Dir: cfg.PodinfoDir, Logger: logger}
	if err := pods.Load(); err != nil {
		logger.Warn("read pod metadata", "dir", cfg.PodinfoDir, "err", err)
	}

	// Readiness (/readyz) is only what the node's operator must fix; Kafka's
	// health is a report on /status/kafka, never readiness: a native
	// sidecar's readiness is part of the Pod's Ready condition.
	checks, reports := map[string]server.Checker{}, map[string]server.Checker{}
	var out output
	var rb pipeline.ReadBacker
	switch cfg.Sink {
	case "stdout":
		out = sink.NewWriter(stdout)
	case "kafka":
		ks, err := kafka.New(cfg.Kafka, pods.Pod, logger, reg)
		if err != nil {
			return err
		}
		reports["kafka"] = ks
		out = ks
		if cfg.Kafka.ReadBack {
			rb = kafkaReadBack{ks}
		}
	default:
		return fmt.Errorf("LOGLET_SINK: unknown sink %q", cfg.Sink)
	}

	pc := cfg.Pipeline(pods.Pod())
	pc.ReadBack = rb
	spec := cfg.Shape()
	shaper, err := shape.New(spec, reg)
	if err != nil {
		return fmt.Errorf("LOGLET_METRICS: %w", err)
	}
	if shaper != nil {
		pc.Parse.Shape = shaper
		logger.Info("shaping records", "drop_levels", cfg.DropLevels, "drop_if", cfg.DropIf, "sample", cfg.Sample,
			"redact", cfg.Redact, "remove_fields", cfg.RemoveFields, "keep_fields", cfg.KeepFields, "metrics", cfg.Metrics,
			"dry_run", spec.DryRun)
		if spec.DryRun {
			logger.Info("dry run: records a rule would drop are printed with loglet_dropped naming the rule; nothing is dropped")
		}
	}
	p, err := pipeline.New(pc, out, pods, logger, reg)
	if err != nil {
		return err
	}
	checks["checkpoints"] = p

	var wg sync.WaitGroup
	bgCtx, stopBg := context.WithCancel(context.WithoutCancel(ctx))
	defer func() { stopBg(); wg.Wait() }()
	wg.Go(func() { pods.Run(bgCtx) })
	if ln := cfg.HTTPListener; ln != nil {
		srv := &server.Server{Gatherer: reg, Checks: checks, Reports: reports, Logger: logger, Pprof: cfg.Pprof}
		wg.Go(func() {
			if err := srv.Serve(bgCtx, ln); err != nil {
				logger.Error("http server", "err", err)
			}
		})
	}
	logger.Info("loglet started", "version", build.Version, "log_dir", cfg.LogDir, "sink", cfg.Sink, "pod", pods.Pod().Name, "namespace", pods.Pod().Namespace)
	return runPipeline(ctx, p, out, logger)
}

// output is a sink with background work of its own (the Kafka output's
// delivery loop; the stdout output has none), which the agent owns.
type output interface {
	pipeline.Sink
	// Run does the output's background work until ctx ends.
	Run(ctx context.Context) error
}

// runPipeline runs p until ctx ends and p has shut down, with out running
// around it. The order at shutdown is the drain: p reads its files to the
// end, hands the records to out and waits for out's acknowledgements (up to
// LOGLET_SHUTDOWN_TIMEOUT), saves the checkpoints and returns; only then is
// out stopped. out is started before p, and runs on a context that ctx's
// end does not cancel.
func runPipeline(ctx context.Context, p *pipeline.Pipeline, out output, logger *slog.Logger) error {
	outCtx, stopOut := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := out.Run(outCtx); err != nil {
			logger.Error("sink stopped", "err", err)
		}
	}()
	err := p.Run(ctx)
	stopOut()
	<-done
	return err
}
