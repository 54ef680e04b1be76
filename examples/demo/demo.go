package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// The made-up pod the demo plays.
const (
	podName      = "counter-7d9c5-x2x4z"
	podNamespace = "demo"
	podUID       = "3f8e2c1a-5b7d-4e9f-a1c2-d3e4f5a6b7c8"
	podIP        = "10.244.1.17"
	nodeName     = "demo-node-1"
	container    = "counter"
	topic        = "logs." + podNamespace // loglet's default topic, logs.{namespace}
)

// podLabels and podAnnotations are the Downward API files, in the kubelet's
// format.
const (
	podLabels      = "app=\"counter\"\npod-template-hash=\"7d9c5\"\n"
	podAnnotations = "team=\"storefront\"\nloglet.dev/inject=\"enabled\"\n"
)

// Timeouts of the shutdown steps.
const (
	appStopTimeout    = 5 * time.Second
	logletStopTimeout = 20 * time.Second // above LOGLET_SHUTDOWN_TIMEOUT
	drainTimeout      = 5 * time.Second
	readyTimeout      = 30 * time.Second
)

// run runs the demo until ctx ends, then stops everything in order; when
// force ends as well, it kills what still runs. environ is the environment
// the children inherit. It returns an error when something could not start
// or stopped on its own; the temporary directory is removed in every case.
func run(ctx, force context.Context, o options, environ []string, out *printer, stderr io.Writer) (err error) {
	env := envMap(environ)
	for _, k := range []string{"LOGLET_KAFKA_TLS", "LOGLET_KAFKA_SASL_MECHANISM"} {
		if env[k] != "" {
			return fmt.Errorf("%s is set, but the demo's consumer connects without TLS or SASL: unset it, or point LOGLET_KAFKA_BROKERS at a plaintext listener", k)
		}
	}
	for _, bin := range []string{o.loglet, o.counter} {
		if _, err := os.Stat(bin); err != nil {
			return fmt.Errorf("%w (make demo builds it)", err)
		}
	}
	var mu sync.Mutex // serialises writes to stderr
	warn := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stderr, format+"\n", args...)
	}

	dir, err := os.MkdirTemp("", "loglet-demo-")
	if err != nil {
		return err
	}
	defer func() {
		if rmErr := os.RemoveAll(dir); rmErr != nil {
			err = errors.Join(err, rmErr)
		} else {
			out.notice("Removed %s. Nothing is left running.", dir)
		}
	}()
	volume, podinfo := filepath.Join(dir, "volume"), filepath.Join(dir, "podinfo")
	for _, d := range []string{volume, podinfo} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(podinfo, "labels"), []byte(podLabels), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(podinfo, "annotations"), []byte(podAnnotations), 0o644); err != nil {
		return err
	}

	// Kafka: the cluster named by LOGLET_KAFKA_BROKERS, or kfake.
	brokers, kafkaWhat := splitBrokers(env["LOGLET_KAFKA_BROKERS"]), ""
	if len(brokers) == 0 {
		cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
		if err != nil {
			return fmt.Errorf("start the in-process Kafka broker: %w", err)
		}
		defer cluster.Close()
		brokers = cluster.ListenAddrs()
		kafkaWhat = "in-process broker (kfake) at " + strings.Join(brokers, ",")
	} else {
		kafkaWhat = "the cluster at " + strings.Join(brokers, ",") + " (LOGLET_KAFKA_BROKERS)"
	}

	// The consumer starts first, at the topic's current end, so that it
	// shows every record of this run and none of an earlier one.
	cons := newConsumer(brokers, topic, out, warn)
	defer cons.close()
	startCtx, cancel := context.WithTimeout(ctx, readyTimeout)
	start, err := cons.endOffsets(startCtx)
	cancel()
	if ctx.Err() != nil {
		return nil // Ctrl-C while starting
	}
	if err != nil {
		return fmt.Errorf("Kafka at %s: %w", strings.Join(brokers, ","), err)
	}
	consCtx, stopConsumer := context.WithCancel(context.WithoutCancel(ctx))
	consDone := make(chan error, 1)
	go func() { consDone <- cons.run(consCtx, start) }()
	defer func() {
		stopConsumer()
		if cerr := <-consDone; cerr != nil {
			err = errors.Join(err, fmt.Errorf("consumer: %w", cerr))
		}
	}()

	// The sidecar.
	httpAddr, err := freeAddr()
	if err != nil {
		return err
	}
	logletLog := filepath.Join(dir, "loglet.log")
	logFile, err := os.Create(logletLog)
	if err != nil {
		return err
	}
	defer logFile.Close()
	logletEnv := childEnv(environ, map[string]string{
		"POD_NAME": podName, "POD_NAMESPACE": podNamespace, "POD_UID": podUID, "POD_IP": podIP,
		"NODE_NAME": nodeName, "CONTAINER_NAME": container,
		"KUBERNETES_SERVICE_HOST": "10.96.0.1", // the kubelet's, without which loglet ignores NODE_NAME and CONTAINER_NAME
		"LOGLET_LOG_DIR":          volume, "LOGLET_STATE_DIR": filepath.Join(volume, ".loglet"),
		"LOGLET_PODINFO_DIR": podinfo, "LOGLET_SINK": "kafka", "LOGLET_START_AT": "beginning",
		"LOGLET_KAFKA_BROKERS": strings.Join(brokers, ","), "LOGLET_KAFKA_TOPIC": topic,
		"LOGLET_HTTP_ADDR": httpAddr,
	}, map[string]string{
		"LOGLET_POLL_INTERVAL":       "100ms",
		"LOGLET_KAFKA_LINGER":        "5ms",
		"LOGLET_KAFKA_COMPRESSION":   "lz4",
		"LOGLET_KAFKA_ACKS":          "all",
		"LOGLET_SHUTDOWN_TIMEOUT":    "10s",
		"LOGLET_FIELD_TYPES":         "count=int,latency_ms=float",
		"LOGLET_MULTILINE_TIMEOUT":   "500ms",
		"LOGLET_CHECKPOINT_INTERVAL": "1s",
	})
	loglet, err := startChild("loglet", o.loglet, nil, logletEnv, nil, io.MultiWriter(logFile, logletWarnings(warn)))
	if err != nil {
		return err
	}
	logletStopped := false
	defer func() {
		if !logletStopped {
			loglet.stop(force, logletStopTimeout)
		}
	}()
	if err := waitReady(ctx, httpAddr, loglet); ctx.Err() != nil {
		return nil // Ctrl-C while starting
	} else if err != nil {
		return fmt.Errorf("loglet: %w\n%s", err, tail(logletLog, 20))
	}

	// The app.
	appEnv := childEnv(environ, map[string]string{"LOGLET_LOG_DIR": volume, "POD_NAME": podName}, nil)
	appArgs := []string{"-interval", o.interval.String(), "-error-every", fmt.Sprint(o.errorEvery)}
	app, err := startChild("counter", o.counter, appArgs, appEnv, nil, prefixWriter("counter: ", warn))
	if err != nil {
		return err
	}
	appStopped := false
	defer func() {
		if !appStopped {
			app.stop(force, appStopTimeout)
		}
	}()

	lenv := envMap(logletEnv)
	out.notice(`loglet demo: an app logs through applib into a shared volume, the loglet sidecar
ships every line to Kafka with its pod's identity, and a consumer prints the records.

  app       %s %s (pid %d), the example service, writing through applib to
            %s
  pod       %s/%s on node %s, container %s: made up; its Downward API files are
            %s/{labels,annotations}
  sidecar   %s (pid %d), the real forwarder: LOGLET_SINK=kafka, %s, acks=%s,
            polling every %s; checkpoints in %s/.loglet
            its own logs: %s   metrics: http://%s/metrics
  Kafka     %s, topic %s
  consumer  this program (pid %d), reading %s with kafka-go

Ctrl-C stops the app, then loglet (it ships what is left), then Kafka, and removes %s.`,
		o.counter, strings.Join(appArgs, " "), app.pid(), filepath.Join(volume, podName+".log"),
		podNamespace, podName, nodeName, container, podinfo,
		o.loglet, loglet.pid(), lenv["LOGLET_KAFKA_COMPRESSION"], lenv["LOGLET_KAFKA_ACKS"], lenv["LOGLET_POLL_INTERVAL"], volume,
		logletLog, httpAddr,
		kafkaWhat, topic,
		os.Getpid(), topic, dir)

	select {
	case <-ctx.Done():
	case <-app.done:
		return fmt.Errorf("the app stopped on its own: %v", app.err)
	case <-loglet.done:
		return fmt.Errorf("loglet stopped on its own: %v\n%s", loglet.err, tail(logletLog, 20))
	}

	out.notice("\nStopping: the app first.")
	appStopped = true
	if err := app.stop(force, appStopTimeout); err != nil {
		warn("counter: %v", err)
	}
	out.notice("Stopping loglet: it reads the volume to its end, waits for Kafka's acknowledgements and saves its checkpoint.")
	logletStopped = true
	if err := loglet.stop(force, logletStopTimeout); err != nil {
		return fmt.Errorf("loglet: %w\n%s", err, tail(logletLog, 20))
	}
	drainCtx, cancel := context.WithTimeout(force, drainTimeout)
	defer cancel()
	if err := cons.drain(drainCtx); err != nil {
		warn("consumer: not every record was printed: %v", err)
	}
	out.notice("Stopped the app and loglet; every record in %s was printed. Stopping Kafka.", topic)
	return nil
}

// waitReady waits until loglet's /status answers 200: every check passes,
// its checkpoint directory is writable and it reached Kafka.
func waitReady(ctx context.Context, addr string, loglet *child) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/status", nil)
		if err != nil {
			return err
		}
		if res, err := client.Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-loglet.done:
			return fmt.Errorf("exited before it was ready: %v", loglet.err)
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s: %w", readyTimeout, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// freeAddr returns a local address no one listens on right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func splitBrokers(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// envMap turns NAME=value pairs into a map; a later pair wins.
func envMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// childEnv returns environ without the variables set names, then set's
// variables, then those of defaults that neither environ nor set has.
func childEnv(environ []string, set, defaults map[string]string) []string {
	var out []string
	have := map[string]bool{}
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if _, forced := set[k]; forced {
			continue
		}
		have[k] = true
		out = append(out, kv)
	}
	for _, k := range slices.Sorted(maps.Keys(set)) {
		out = append(out, k+"="+set[k])
	}
	for _, k := range slices.Sorted(maps.Keys(defaults)) {
		if _, forced := set[k]; !forced && !have[k] {
			out = append(out, k+"="+defaults[k])
		}
	}
	return out
}

// tail returns the last n lines of the file at path, indented.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// lineWriter calls line for every complete line written to it. It is safe
// for concurrent use.
type lineWriter struct {
	mu   sync.Mutex
	buf  []byte
	line func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.line(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
}

// prefixWriter writes each line through print, prefixed.
func prefixWriter(prefix string, print func(string, ...any)) io.Writer {
	return &lineWriter{line: func(s string) { print("%s%s", prefix, s) }}
}

// logletWarnings returns a writer of loglet's own logs (slog JSON lines) that
// shows, through print, the lines at level WARN or above and any line that
// is not JSON (a configuration error).
func logletWarnings(print func(string, ...any)) io.Writer {
	return &lineWriter{line: func(s string) {
		var rec struct{ Level string }
		if json.Unmarshal([]byte(s), &rec) == nil && rec.Level != "WARN" && rec.Level != "ERROR" {
			return
		}
		print("loglet: %s", s)
	}}
}
