package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/loglet/loglet/integration/internal/harness"
)

// The pod loglet pretends to run in.
const (
	podName   = "bench-0"
	namespace = "bench"
	topic     = "logs." + namespace // LOGLET_KAFKA_TOPIC's default, logs.{namespace}
)

var (
	podLabels = `app="shop-web"
pod-template-hash="5d8f7c9b4"
team="checkout"
version="1.4.2"
`
	podAnnotations = `kubectl.kubernetes.io/default-container="app"
loglet.io/inject="true"
prometheus.io/port="9110"
prometheus.io/scrape="true"
`
)

// scenarioTimeout bounds one scenario's wait for its records.
const scenarioTimeout = 5 * time.Minute

// runScenario runs s in a fresh directory with a fresh broker and loglet.
func runScenario(ctx context.Context, o *options, s scenario) (result, error) {
	dir, err := os.MkdirTemp(o.Dir, "run-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	if o.Logs != "" {
		defer saveLog(dir, o.Logs, s.Name)
	}
	logDir, infoDir := filepath.Join(dir, "logs"), filepath.Join(dir, "podinfo")
	for _, d := range []string{logDir, infoDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return result{}, err
		}
	}
	if err := os.WriteFile(filepath.Join(infoDir, "labels"), []byte(podLabels), 0o644); err != nil {
		return result{}, err
	}
	if err := os.WriteFile(filepath.Join(infoDir, "annotations"), []byte(podAnnotations), 0o644); err != nil {
		return result{}, err
	}

	r := result{scenario: s}
	if s.Kind == node {
		return runNode(ctx, o, s, dir)
	}
	switch s.Kind {
	case fullSpeed, floor:
		r.Lines = s.Lines / s.Files * s.Files
		r.Bytes, r.Dropped, err = writeFiles(logDir, s, s.Lines/s.Files)
	case idle:
		r.Bytes, r.Dropped, err = writeFiles(logDir, s, s.Lines)
	}
	if err != nil {
		return r, err
	}
	if s.Kind == floor {
		r.CPU, r.Elapsed, err = runFloor(logDir)
		return r, err
	}

	b, err := startBroker(o.Broker, topic, s.Kind == fullSpeed)
	if err != nil {
		return r, err
	}
	defer b.Stop()

	httpAddr, err := freeAddr()
	if err != nil {
		return r, err
	}
	env := []string{
		"POD_NAME=" + podName, "POD_NAMESPACE=" + namespace, "POD_UID=6f0c3b1e-2a4d-4c8e-9b7f-1d2e3f4a5b6c",
		"POD_IP=10.244.1.17", "NODE_NAME=kind-worker", "CONTAINER_NAME=app",
		"KUBERNETES_SERVICE_HOST=10.96.0.1", // as in a pod: NODE_NAME and CONTAINER_NAME are read only there
		"LOGLET_LOG_DIR=" + logDir, "LOGLET_PODINFO_DIR=" + infoDir,
		"LOGLET_KAFKA_BROKERS=" + b.Addr, "LOGLET_KAFKA_ACKS=" + s.Acks, "LOGLET_KAFKA_COMPRESSION=" + s.Codec,
		"LOGLET_HTTP_ADDR=" + httpAddr,
	}
	if s.Encode != "" {
		env = append(env, "LOGLET_KAFKA_ENCODING="+s.Encode)
	}
	env = append(env, s.Env...)
	env = append(env, o.Env...)
	ctx, cancel := context.WithTimeout(ctx, scenarioTimeout)
	defer cancel()
	start := time.Now()
	bin, args := o.Loglet, []string(nil)
	switch s.Peer {
	case peerRsyslog:
		if bin, args, env, err = rsyslog(dir, logDir, b.Addr, s); err != nil {
			return r, err
		}
	case peerWakeFloor:
		var more []string
		if bin, more, err = wakeFloorCommand(); err != nil {
			return r, err
		}
		env = append(env, more...)
	}
	// An idle row also gives the working set the kubelet would see. Only
	// there: the shell that moves loglet into its cgroup adds a millisecond
	// or so of CPU, which the idle window (a difference) leaves out but the
	// other rows would count.
	var cg *memCgroup
	if s.Kind == idle {
		if cg, err = newMemCgroup(filepath.Base(dir)); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s: no working set: %v\n", s.Name, err)
		} else {
			defer func() {
				if err := cg.remove(); err != nil {
					fmt.Fprintf(os.Stderr, "bench: %s: %v\n", s.Name, err)
				}
			}()
			bin, args = cg.wrap(bin, args)
		}
	}
	p, err := harness.Start(bin, args, env, filepath.Join(dir, "stdout"), filepath.Join(dir, "stderr"))
	if err != nil {
		return r, err
	}
	defer func() {
		if !p.Exited() {
			p.Kill()
		}
	}()
	pid := p.Cmd.Process.Pid
	alive := func() bool { return !p.Exited() }

	var u usage
	switch s.Kind {
	case fullSpeed:
		end, err := b.WaitCount(ctx, topic, int64(r.Lines-r.Dropped), alive)
		if err != nil {
			return r, withLog(err, dir)
		}
		if u, err = readUsage(pid); err != nil {
			return r, err
		}
		r.Elapsed, r.CPU = end.Sub(start), u.CPU
	case steady:
		if u, err = runSteady(ctx, &r, b, logDir, httpAddr, pid, alive); err != nil {
			return r, withLog(err, dir)
		}
	case idle:
		if _, err := b.WaitCount(ctx, topic, int64(s.Lines*s.Files), alive); err != nil {
			return r, withLog(err, dir)
		}
		// Let every file but the active one be closed (LOGLET_ROTATE_WAIT,
		// 5s) and the last checkpoint be saved, then measure.
		time.Sleep(o.Settle)
		u0, err := readUsage(pid)
		if err != nil {
			return r, err
		}
		time.Sleep(o.Idle)
		if u, err = readUsage(pid); err != nil {
			return r, err
		}
		r.CPU, r.Window = u.CPU-u0.CPU, o.Idle
		if cg != nil {
			if r.WorkingSet, err = cg.workingSet(); err != nil {
				return r, fmt.Errorf("working set: %w", err)
			}
		}
	}
	r.PeakRSS, r.RSS, r.PSS = u.PeakRSS, u.RSS, u.PSS

	code, err := p.Stop(30 * time.Second)
	if err != nil {
		return r, withLog(fmt.Errorf("stop loglet: %w", err), dir)
	}
	if code != 0 {
		return r, withLog(fmt.Errorf("loglet exited with status %d", code), dir)
	}
	return r, nil
}

// writeFiles writes s.Files files of perFile lines each: the active file
// bench-0.log and others beside it. It returns the bytes written.
func writeFiles(dir string, s scenario, perFile int) (int64, int, error) {
	var total int64
	debug := 0
	for k := range s.Files {
		name := podName + ".log"
		if k > 0 {
			name = fmt.Sprintf("%s-%03d.log", podName, k)
		}
		g := newGenerator(s.Format, s.Size, uint64(k+1))
		n, err := g.writeFile(filepath.Join(dir, name), k*perFile, perFile)
		if err != nil {
			return 0, 0, err
		}
		total += n
		debug += g.Debug
	}
	if !s.DropsDebug {
		debug = 0
	}
	return total, debug, nil
}

// runSteady writes s.Lines lines at s.Rate to the active file once loglet
// is ready, reads them back from Kafka, and fills r's latency, elapsed time
// and CPU time; it returns loglet's usage at the end.
func runSteady(ctx context.Context, r *result, b *broker, logDir, httpAddr string, pid int, alive func() bool) (usage, error) {
	if err := waitReady(ctx, httpAddr, alive); err != nil {
		return usage{}, err
	}
	f, err := os.OpenFile(filepath.Join(logDir, podName+".log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return usage{}, err
	}
	defer f.Close()

	u0, err := readUsage(pid)
	if err != nil {
		return usage{}, err
	}
	type consumed struct {
		lat []time.Duration
		err error
	}
	got := make(chan consumed, 1)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		lat, err := b.Consume(cctx, topic, r.Lines)
		got <- consumed{lat, err}
	}()

	// Write each line (or each burst of Burst lines) with its own
	// write(2), as a logger does, at the moment its rate says, stamped with
	// the time of the write.
	g := newGenerator(r.Format, r.Size, 1)
	g.TimeLayout = time.RFC3339Nano // the latency is measured from it
	start := time.Now()
	burst := max(r.Burst, 1)
	interval := time.Second * time.Duration(burst) / time.Duration(r.Rate)
	var line []byte
	for i := 0; i < r.Lines; i += burst {
		due := start.Add(time.Duration(i/burst) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		line = line[:0]
		now := time.Now()
		for j := i; j < min(i+burst, r.Lines); j++ {
			line = g.appendLine(line, j, now)
		}
		if _, err := f.Write(line); err != nil {
			return usage{}, err
		}
		r.Bytes += int64(len(line))
		if (i/burst)%100 == 0 && !alive() {
			return usage{}, errors.New("loglet exited while the lines were written")
		}
	}
	r.Elapsed = time.Since(start)
	c := <-got
	if c.err != nil {
		return usage{}, c.err
	}
	u, err := readUsage(pid)
	if err != nil {
		return usage{}, err
	}
	r.CPU = u.CPU - u0.CPU
	slices.Sort(c.lat)
	r.P50, r.P99 = percentile(c.lat, 0.50), percentile(c.lat, 0.99)
	return u, nil
}

// percentile returns the p-quantile of sorted (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// waitReady polls loglet's /status until it answers 200 (every check
// passes, Kafka reached). A loglet older than /status is asked /readyz,
// which then meant the same, so that before and after can be measured in
// one run.
func waitReady(ctx context.Context, addr string, alive func() bool) error {
	path := "/status"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
		if err != nil {
			return err
		}
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			if res.StatusCode == http.StatusNotFound {
				path = "/readyz"
			}
		}
		if !alive() {
			return errors.New("loglet exited before it was ready")
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("loglet not ready: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// withLog adds the end of loglet's own log to err.
func withLog(err error, dir string) error {
	b, _ := os.ReadFile(filepath.Join(dir, "stderr"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return fmt.Errorf("%w\nloglet's log ends with:\n%s", err, strings.Join(lines, "\n"))
}

// saveLog copies loglet's stderr to logs/<scenario name>.stderr.
func saveLog(dir, logs, name string) {
	b, err := os.ReadFile(filepath.Join(dir, "stderr"))
	if err != nil {
		return
	}
	clean := strings.Map(func(r rune) rune {
		if r == ' ' || r == '/' || r == ',' || r == '(' || r == ')' {
			return '_'
		}
		return r
	}, name)
	os.MkdirAll(logs, 0o755)
	os.WriteFile(filepath.Join(logs, clean+".stderr"), b, 0o644)
}
