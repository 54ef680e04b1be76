package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/loglet/loglet/integration/internal/harness"
)

// nodeName is the node scenario's row: the per-pod cost multiplied by the
// pods of a node, beside one agent doing the DaemonSet's job on the same data.
const nodeName = "node: 30 pods at 100 lines/s each (a line every 10 ms), one loglet per pod, defaults"

// nodePod is one simulated pod of the node scenario.
type nodePod struct {
	name, logDir, infoDir, active string
}

// runNode runs s.Procs loglet processes, each with its own files, state and
// Downward API environment, writing s.Rate lines a second to each pod's file
// for o.Steady, all to one broker; it measures their summed CPU time and
// PSS. Then, where rsyslog is installed, one rsyslogd reads the same 30
// files (written the same way) to a fresh broker, and is measured the same
// way.
func runNode(ctx context.Context, o *options, s scenario, dir string) (result, error) {
	pods := make([]nodePod, s.Procs)
	for i := range pods {
		p := nodePod{name: fmt.Sprintf("%s-%d", podName, i)}
		base := filepath.Join(dir, p.name)
		p.logDir, p.infoDir = filepath.Join(base, "logs"), filepath.Join(base, "podinfo")
		p.active = filepath.Join(p.logDir, p.name+".log")
		for _, d := range []string{p.logDir, p.infoDir} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return result{}, err
			}
		}
		if err := os.WriteFile(filepath.Join(p.infoDir, "labels"), []byte(podLabels), 0o644); err != nil {
			return result{}, err
		}
		pods[i] = p
	}
	ctx, cancel := context.WithTimeout(ctx, scenarioTimeout)
	defer cancel()

	r := result{scenario: s}
	if err := nodeRun(ctx, o, s, dir, pods, &r, false); err != nil {
		return r, err
	}
	if _, err := rsyslogBinary(); err == nil {
		peer := result{scenario: s}
		peer.Name = fmt.Sprintf("node: the same %d files through one rsyslog 8 (imfile, mmjsonparse, omkafka)", s.Procs)
		for _, p := range pods {
			os.Remove(p.active)
		}
		if err := nodeRun(ctx, o, s, dir, pods, &peer, true); err != nil {
			fmt.Fprintf(os.Stderr, "bench: node scenario's rsyslog peer: %v\n", err)
		} else {
			r.Agent = &peer
		}
	}
	return r, nil
}

// nodeRun is one half of the node scenario: loglet processes, or one
// rsyslogd when rsyslog is set.
func nodeRun(ctx context.Context, o *options, s scenario, dir string, pods []nodePod, r *result, rsyslog bool) error {
	b, err := startBroker(o.Broker, topic, false)
	if err != nil {
		return err
	}
	defer b.Stop()
	var procs []*harness.Process
	defer func() {
		for _, p := range procs {
			if !p.Exited() {
				p.Kill()
			}
		}
	}()
	alive := func() bool {
		for _, p := range procs {
			if p.Exited() {
				return false
			}
		}
		return true
	}
	run := filepath.Join(dir, fmt.Sprintf("run-%v", rsyslog))
	if err := os.MkdirAll(run, 0o755); err != nil {
		return err
	}
	if rsyslog {
		files := make([]string, len(pods))
		for i, p := range pods {
			files[i] = p.active
			if err := os.WriteFile(p.active, nil, 0o644); err != nil {
				return err
			}
		}
		bin, args, env, err := rsyslogFiles(run, files, b.Addr, s)
		if err != nil {
			return err
		}
		p, err := harness.Start(bin, args, env, filepath.Join(run, "stdout"), filepath.Join(run, "stderr"))
		if err != nil {
			return err
		}
		procs = append(procs, p)
		time.Sleep(2 * time.Second) // imfile finds its files
	} else {
		var addrs []string
		for _, pod := range pods {
			httpAddr, err := freeAddr()
			if err != nil {
				return err
			}
			env := []string{
				"POD_NAME=" + pod.name, "POD_NAMESPACE=" + namespace, "POD_UID=6f0c3b1e-2a4d-4c8e-9b7f-" + fmt.Sprintf("%012d", len(addrs)),
				"POD_IP=10.244.1.17", "NODE_NAME=kind-worker", "CONTAINER_NAME=app", "KUBERNETES_SERVICE_HOST=10.96.0.1",
				"LOGLET_LOG_DIR=" + pod.logDir, "LOGLET_PODINFO_DIR=" + pod.infoDir,
				"LOGLET_KAFKA_BROKERS=" + b.Addr, "LOGLET_KAFKA_ACKS=" + s.Acks, "LOGLET_KAFKA_COMPRESSION=" + s.Codec,
				"LOGLET_HTTP_ADDR=" + httpAddr,
			}
			env = append(env, o.Env...)
			p, err := harness.Start(o.Loglet, nil, env, filepath.Join(run, pod.name+".stdout"), filepath.Join(run, pod.name+".stderr"))
			if err != nil {
				return err
			}
			procs = append(procs, p)
			addrs = append(addrs, httpAddr)
		}
		for _, a := range addrs {
			if err := waitReady(ctx, a, alive); err != nil {
				return err
			}
		}
	}

	files := make([]*os.File, len(pods))
	for i, p := range pods {
		f, err := os.OpenFile(p.active, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		files[i] = f
	}
	before := make([]usage, len(procs))
	for i, p := range procs {
		if before[i], err = readUsage(p.Cmd.Process.Pid); err != nil {
			return err
		}
	}
	g := newGenerator(s.Format, s.Size, 1)
	interval := time.Second / time.Duration(s.Rate)
	ticks := int(o.Steady / interval)
	start := time.Now()
	var line []byte
	for i := range ticks {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		now := time.Now()
		for _, f := range files {
			line = g.appendLine(line[:0], i, now)
			if _, err := f.Write(line); err != nil {
				return err
			}
			r.Bytes += int64(len(line))
			r.Lines++
		}
		if i%100 == 0 && !alive() {
			return errors.New("a process exited while the lines were written")
		}
	}
	r.Window = time.Since(start)
	for i, p := range procs {
		u, err := readUsage(p.Cmd.Process.Pid)
		if err != nil {
			return err
		}
		r.CPU += u.CPU - before[i].CPU
		r.PSS += u.PSS
	}
	end, err := b.WaitCount(ctx, topic, int64(r.Lines), alive)
	if err != nil {
		return err
	}
	r.Elapsed = end.Sub(start)
	for _, p := range procs {
		if _, err := p.Stop(30 * time.Second); err != nil {
			return err
		}
	}
	return nil
}

// printNode prints the ratio of the node scenario's loglet processes to the
// single agent.
func printNode(w io.Writer, results []result) {
	for _, r := range results {
		if r.Kind != node || r.Agent == nil || r.Agent.CPU <= 0 {
			continue
		}
		fmt.Fprintf(w, "\nNode scenario: %d loglet processes take %.2f%% of a core and %s PSS in all; one rsyslog on the same %d files takes %.2f%% and %s: loglet's total is %.1f× the CPU and %.1f× the memory of the one agent.\n",
			r.Procs, r.idleShare()*100, mib(r.PSS), r.Procs, r.Agent.idleShare()*100, mib(r.Agent.PSS),
			r.CPU.Seconds()/r.Agent.CPU.Seconds(), float64(r.PSS)/float64(max(r.Agent.PSS, 1)))
	}
}

// rsyslogBinary finds rsyslogd.
func rsyslogBinary() (string, error) { return exec.LookPath("rsyslogd") }
