// Command bench measures the loglet forwarder as it runs in a pod: it
// generates logrus-style log files, starts a Kafka-protocol broker (kfake)
// in a separate process, runs the real loglet binary on the files with the
// Downward API environment and labels files set, and reads the forwarder's
// CPU time and peak RSS from /proc while it ships every line. It prints a
// Markdown table with one row per scenario: lines/s, MB/s, CPU-seconds per
// million lines and per GB, peak RSS, and for the steady-rate scenario the
// latency from a line's write until its record is read back from Kafka.
// Two floors put the rows in proportion: the floor row reads the headline's
// lines and checks each with json.Valid (how fast the machine is now), and
// the wake-up floor (wakefloor.go, the benchmark's binary run as a process
// of its own) wakes, reads and produces as loglet does at 100 lines/s and
// at rest, and nothing else.
//
// `make bench` builds loglet and the broker and runs it. Progress goes to
// stderr, the table to stdout.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/loglet/loglet/integration/internal/harness"
)

func main() {
	if os.Getenv(wakeFloorEnv) == "1" {
		os.Exit(wakeFloorMain())
	}
	var o options
	flag.StringVar(&o.Loglet, "loglet", "", "loglet binary (default: $LOGLET_BIN, or built with go build)")
	flag.StringVar(&o.Broker, "broker", "", "broker binary (default: built from ./integration/bench/broker with go build)")
	flag.StringVar(&o.Dir, "dir", "", "directory for the generated files (default: a temporary directory)")
	flag.Float64Var(&o.Scale, "scale", 1, "multiply every scenario's line count by this")
	flag.DurationVar(&o.Steady, "steady", 20*time.Second, "how long the steady-rate scenario writes")
	flag.DurationVar(&o.Idle, "idle", 20*time.Second, "how long the idle scenario is measured")
	flag.DurationVar(&o.Settle, "settle", 7*time.Second, "how long the idle scenario waits, once its lines are shipped, before measuring")
	flag.Func("env", "add NAME=VALUE to loglet's environment (repeatable), e.g. -env GOGC=50", func(v string) error {
		if !strings.Contains(v, "=") {
			return fmt.Errorf("%q is not NAME=VALUE", v)
		}
		o.Env = append(o.Env, v)
		return nil
	})
	flag.IntVar(&o.Count, "count", 0, "run every scenario this many times and report the median run (default: 3 for the 2,000,000-line rows, 1 for the others)")
	flag.StringVar(&o.Logs, "logs", "", "save loglet's stderr of each scenario in this directory")
	flag.BoolVar(&o.Peers, "peers", false, "also ship the headline data with rsyslog (imfile, mmjsonparse, omkafka) and print the ratios")
	run := flag.String("run", "", "run only the scenarios whose name matches this regular expression")
	flag.Parse()
	if *run != "" {
		re, err := regexp.Compile(*run)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: -run: %v\n", err)
			os.Exit(2)
		}
		o.Match = re.MatchString
	}
	if err := o.prepare(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
	defer o.cleanup()
	results, err := runAll(&o, defaultScenarios(o), os.Stderr)
	printReport(os.Stdout, &o, results)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		o.cleanup()
		os.Exit(1)
	}
}

// options are the benchmark's settings.
type options struct {
	Loglet, Broker string        // binaries
	Dir            string        // where scenarios write their files
	Scale          float64       // line count multiplier
	Steady, Idle   time.Duration // durations of the steady and idle scenarios
	Settle         time.Duration // idle: wait before measuring
	Env            []string      // added to loglet's environment
	Logs           string        // where loglet's stderr is saved, if set
	Peers          bool          // also run the peer scenarios
	Count          int           // runs of every scenario, if set (else its Repeat)
	Match          func(string) bool

	tmp []string // directories to remove at the end
}

// prepare finds or builds the binaries and makes the work directory.
func (o *options) prepare() error {
	if o.Dir == "" {
		d, err := os.MkdirTemp("", "loglet-bench-")
		if err != nil {
			return err
		}
		o.Dir = d
		o.tmp = append(o.tmp, d)
	}
	if o.Loglet == "" {
		p, err := harness.Loglet()
		if err != nil {
			return err
		}
		o.Loglet = p
	}
	if o.Broker == "" {
		o.Broker = filepath.Join(o.Dir, "broker")
		cmd := exec.Command("go", "build", "-o", o.Broker, "./integration/bench/broker")
		cmd.Dir = harness.RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build broker: %v\n%s", err, out)
		}
	}
	for _, p := range []*string{&o.Loglet, &o.Broker} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	return nil
}

func (o *options) cleanup() {
	for _, d := range o.tmp {
		os.RemoveAll(d)
	}
	o.tmp = nil
}

// kind is what a scenario measures.
type kind int

const (
	fullSpeed kind = iota // the files are written first; loglet ships them as fast as it can
	steady                // lines are written at Rate while loglet runs; latency is measured
	idle                  // quiet files; CPU and RSS are measured while nothing happens
	floor                 // no forwarder: the benchmark reads the files and checks each line with json.Valid
	node                  // Procs loglet processes (one per pod) at Rate each, and the same data through one rsyslog
)

// scenario is one row of the table.
type scenario struct {
	Name   string
	Kind   kind
	Lines  int    // lines in all (fullSpeed, steady), or per file (idle)
	Files  int    // files the lines are spread over
	Size   int    // mean line length in bytes, without the newline
	Format string // formatJSON or formatLogfmt
	Acks   string // LOGLET_KAFKA_ACKS
	Codec  string // LOGLET_KAFKA_COMPRESSION
	Encode string // LOGLET_KAFKA_ENCODING ("" for its default, json)
	Rate   int    // lines per second (steady, node)
	Burst  int    // lines per write (steady, node; 0 means 1)
	Procs  int    // node: loglet processes, one per simulated pod
	Peer   string // "" for loglet, peerRsyslog, or peerWakeFloor
	Repeat int    // runs, of which the median is reported (0 means 1)
	// Env is added to loglet's environment (shaping rules).
	Env []string
	// DropsDebug tells that Env drops the debug lines
	// (LOGLET_DROP_LEVELS=debug): fewer records reach Kafka.
	DropsDebug bool
}

// typicalRules is the rule set of the "typical rules" row: drop debug
// lines, one redaction over msg (e-mail addresses, which these lines never
// hold: the common case of a pattern that scans every message and rarely
// matches), one histogram.
var typicalRules = []string{
	"LOGLET_DROP_LEVELS=debug",
	`LOGLET_REDACT=msg~[\w.+-]+@[\w-]+\.[\w.]+`,
	"LOGLET_METRICS=app_latency_ms histogram latency_ms buckets=5,10,50,100,500,1000 by=level",
}

func defaultScenarios(o options) []scenario {
	n := func(lines int) int { return max(1000, int(float64(lines)*o.Scale)) }
	var peers []scenario
	if o.Peers {
		peers = []scenario{{Name: "rsyslog 8 (imfile, mmjsonparse, omkafka): 1 file, JSON 180 B", Peer: peerRsyslog,
			Lines: n(2_000_000), Files: 1, Size: 180, Format: formatJSON, Acks: "one", Codec: "none", Repeat: 3}}
	}
	return append([]scenario{
		{Name: floorName, Kind: floor, Lines: n(2_000_000), Files: 1, Size: 180, Format: formatJSON, Repeat: 3},
		{Name: "1 file, JSON 180 B (headline)", Lines: n(2_000_000), Files: 1, Size: 180, Format: formatJSON, Acks: "one", Codec: "none", Repeat: 3},
		{Name: "1 file, JSON 180 B, typical rules (drop debug, redact msg, latency histogram)", Lines: n(2_000_000), Files: 1, Size: 180, Format: formatJSON, Acks: "one", Codec: "none", Repeat: 3,
			Env: typicalRules, DropsDebug: true},
		{Name: "1 file, JSON 180 B, lz4", Lines: n(2_000_000), Files: 1, Size: 180, Format: formatJSON, Acks: "one", Codec: "lz4", Repeat: 3},
		{Name: "1 file, JSON 180 B, snappy", Lines: n(500_000), Files: 1, Size: 180, Format: formatJSON, Acks: "one", Codec: "snappy"},
		{Name: "1 file, JSON 180 B, zstd", Lines: n(500_000), Files: 1, Size: 180, Format: formatJSON, Acks: "one", Codec: "zstd"},
		{Name: "1 file, JSON 180 B, gzip", Lines: n(500_000), Files: 1, Size: 180, Format: formatJSON, Acks: "one", Codec: "gzip"},
		{Name: "1 file, JSON 180 B, otlp_proto", Lines: n(1_000_000), Files: 1, Size: 180, Format: formatJSON, Acks: "one", Codec: "none", Encode: "otlp_proto"},
		{Name: "1 file, JSON 180 B, defaults (acks=all, lz4)", Lines: n(500_000), Files: 1, Size: 180, Format: formatJSON, Acks: "all", Codec: "lz4"},
		{Name: "100 files, JSON 180 B", Lines: n(1_000_000), Files: 100, Size: 180, Format: formatJSON, Acks: "one", Codec: "none"},
		{Name: "1 file, JSON 100 B", Lines: n(1_000_000), Files: 1, Size: 100, Format: formatJSON, Acks: "one", Codec: "none"},
		{Name: "1 file, JSON 1 KiB", Lines: n(250_000), Files: 1, Size: 1024, Format: formatJSON, Acks: "one", Codec: "none"},
		{Name: "1 file, JSON 16 KiB", Lines: n(16_000), Files: 1, Size: 16 << 10, Format: formatJSON, Acks: "one", Codec: "none"},
		{Name: "1 file, logfmt 180 B", Lines: n(1_000_000), Files: 1, Size: 180, Format: formatLogfmt, Acks: "one", Codec: "none"},
		{Name: "steady 100 lines/s in 10-line bursts, defaults", Kind: steady, Lines: max(200, int(100*o.Steady.Seconds())), Rate: 100, Burst: 10, Files: 1, Size: 180, Format: formatJSON, Acks: "all", Codec: "lz4"},
		{Name: "steady 100 lines/s, a line every 10 ms, defaults", Kind: steady, Lines: max(200, int(100*o.Steady.Seconds())), Rate: 100, Files: 1, Size: 180, Format: formatJSON, Acks: "all", Codec: "lz4"},
		{Name: "wake-up floor: 100 lines/s in 10-line bursts (no forwarder)", Kind: steady, Peer: peerWakeFloor, Lines: max(200, int(100*o.Steady.Seconds())), Rate: 100, Burst: 10, Files: 1, Size: 180, Format: formatJSON, Acks: "all", Codec: "lz4"},
		{Name: "wake-up floor: 100 lines/s, a line every 10 ms (no forwarder)", Kind: steady, Peer: peerWakeFloor, Lines: max(200, int(100*o.Steady.Seconds())), Rate: 100, Files: 1, Size: 180, Format: formatJSON, Acks: "all", Codec: "lz4"},
		{Name: "steady 1,000 lines/s, defaults", Kind: steady, Lines: max(1000, int(1000*o.Steady.Seconds())), Rate: 1000, Files: 1, Size: 180, Format: formatJSON, Acks: "all", Codec: "lz4"},
		{Name: "steady 10,000 lines/s, JSON 180 B, defaults", Kind: steady, Lines: max(1000, int(10_000*o.Steady.Seconds())), Rate: 10_000, Files: 1, Size: 180, Format: formatJSON, Acks: "all", Codec: "lz4"},
		{Name: "idle, 1 quiet file", Kind: idle, Lines: 100, Files: 1, Size: 180, Format: formatJSON, Acks: "all", Codec: "lz4"},
		{Name: "wake-up floor: idle, 1 quiet file (no forwarder)", Kind: idle, Peer: peerWakeFloor, Lines: 100, Files: 1, Size: 180, Format: formatJSON, Acks: "all", Codec: "lz4"},
		{Name: "idle, 20 quiet files", Kind: idle, Lines: 100, Files: 20, Size: 180, Format: formatJSON, Acks: "all", Codec: "lz4"},
		{Name: nodeName, Kind: node, Procs: 30, Rate: 100, Files: 1, Size: 180, Format: formatJSON, Acks: "all", Codec: "lz4"},
	}, peers...)
}

// result is a scenario's measurements.
type result struct {
	scenario
	Bytes      int64         // bytes of log lines shipped
	Elapsed    time.Duration // from loglet's start (or the first write) until the last record was in Kafka
	CPU        time.Duration // loglet's CPU time in that window (idle: in the idle window)
	Dropped    int           // lines the scenario's rules drop: they never reach Kafka
	PeakRSS    int64         // loglet's VmHWM
	RSS        int64         // loglet's VmRSS at the end (idle: after the idle window)
	Window     time.Duration // idle: the measured window
	P50, P99   time.Duration // steady: latency percentiles
	Runs       int           // runs the row is the median of
	PSS        int64         // idle, steady: loglet's PSS at the end; node: summed over the processes
	WorkingSet int64         // idle: the working set of loglet's own memory cgroup at the end, as the kubelet computes it (0: no cgroup; see memCgroup)
	Agent      *result       // node: the same data through one rsyslog, if it ran
	Err        error
}

// runAll runs the scenarios that o.Match selects, reporting progress to
// log. It stops at the first failure, returning the results so far.
func runAll(o *options, scenarios []scenario, log io.Writer) ([]result, error) {
	var out []result
	for _, s := range scenarios {
		if o.Match != nil && !o.Match(s.Name) {
			continue
		}
		runs := max(s.Repeat, 1)
		if o.Count > 0 {
			runs = o.Count
		}
		var rs []result
		for i := range runs {
			fmt.Fprintf(log, "bench: %s (run %d of %d) ...\n", s.Name, i+1, runs)
			r, err := runScenario(context.Background(), o, s)
			if err != nil {
				return out, fmt.Errorf("%s: %w", s.Name, err)
			}
			fmt.Fprintf(log, "bench: %s: %s\n", s.Name, r.summary())
			rs = append(rs, r)
		}
		out = append(out, median(rs))
	}
	return out, nil
}

// median returns the run whose CPU time is the median of rs, with Runs set.
// CPU time per line varies from run to run with what else the machine does;
// every figure of the row comes from that one run.
func median(rs []result) result {
	slices.SortFunc(rs, func(a, b result) int { return cmp.Compare(a.CPU, b.CPU) })
	m := rs[len(rs)/2]
	m.Runs = len(rs)
	return m
}

func (r result) summary() string {
	if r.Kind == idle {
		return fmt.Sprintf("%.2f%% of a core, RSS %s", r.idleShare()*100, mib(r.RSS))
	}
	return fmt.Sprintf("%.0f lines/s, %.2f CPU-s per million lines, peak RSS %s", r.linesPerSec(), r.cpuPerMillion(), mib(r.PeakRSS))
}

func (r result) linesPerSec() float64 { return float64(r.Lines) / r.Elapsed.Seconds() }
func (r result) mbPerSec() float64    { return float64(r.Bytes) / 1e6 / r.Elapsed.Seconds() }
func (r result) cpuPerMillion() float64 {
	return r.CPU.Seconds() / (float64(r.Lines) / 1e6)
}
func (r result) cpuPerGB() float64  { return r.CPU.Seconds() / (float64(r.Bytes) / 1e9) }
func (r result) idleShare() float64 { return r.CPU.Seconds() / r.Window.Seconds() }
func (r result) coreShare() float64 { return r.CPU.Seconds() / r.Elapsed.Seconds() }
func mib(n int64) string            { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// printReport writes the machine description and the Markdown table.
func printReport(w io.Writer, o *options, results []result) {
	fmt.Fprintf(w, "Machine: %s, %d CPUs visible to Go, Linux %s, %s. loglet binary: %s.\n\n",
		cpuModel(), runtime.NumCPU(), kernel(), runtime.Version(), fileSize(o.Loglet))
	var fl *result
	for i := range results {
		if results[i].Kind == floor {
			fl = &results[i]
			break
		}
	}
	head, sep := "", ""
	if fl != nil {
		head, sep = " CPU ÷ floor |", "--:|"
	}
	fmt.Fprintln(w, "| scenario | Kafka | lines | bytes/line | lines/s | MB/s | CPU-s per M lines |"+head+" CPU-s per GB | peak RSS | p50 | p99 |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|"+sep+"--:|--:|--:|--:|")
	for _, r := range results {
		kafkaCol := "acks=" + r.Acks + ", " + r.Codec
		if r.Encode != "" {
			kafkaCol += ", " + r.Encode
		}
		if r.Kind == floor {
			kafkaCol = "—"
		}
		if r.Runs > 1 {
			r.Name += fmt.Sprintf(" [median of %d]", r.Runs)
		}
		relative := ""
		if fl != nil {
			relative = " — |"
			if r.Kind != idle && r.Kind != node {
				relative = fmt.Sprintf(" %.1f |", r.cpuPerMillion()/fl.cpuPerMillion())
			}
		}
		switch r.Kind {
		case idle:
			ws := ""
			if r.WorkingSet > 0 {
				ws = fmt.Sprintf(", %s working set", mib(r.WorkingSet))
			}
			fmt.Fprintf(w, "| %s | %s | — | — | — | — | %.3f%% of a core over %s |%s — | %s (now %s RSS, %s PSS%s) | — | — |\n",
				r.Name, kafkaCol, r.idleShare()*100, r.Window.Round(time.Second), relative, mib(r.PeakRSS), mib(r.RSS), mib(r.PSS), ws)
		case node:
			fmt.Fprintf(w, "| %s | %s | %d | %d | %.0f | %.2f | %.2f%% of a core in all (%.3f%% per pod) |%s — | %s PSS summed | — | — |\n",
				r.Name, kafkaCol, r.Lines, r.Bytes/int64(max(r.Lines, 1)), r.linesPerSec(), r.mbPerSec(),
				r.idleShare()*100, r.idleShare()*100/float64(r.Procs), relative, mib(r.PSS))
			if p := r.Agent; p != nil {
				fmt.Fprintf(w, "| %s | %s | %d | %d | %.0f | %.2f | %.2f%% of a core |%s — | %s PSS | — | — |\n",
					p.Name, kafkaCol, p.Lines, p.Bytes/int64(max(p.Lines, 1)), p.linesPerSec(), p.mbPerSec(),
					p.idleShare()*100, relative, mib(p.PSS))
			}
		default:
			lat50, lat99, rss := "—", "—", "—"
			cpu := fmt.Sprintf("%.2f", r.cpuPerMillion())
			if r.Kind == steady {
				lat50, lat99 = ms(r.P50), ms(r.P99)
				cpu += fmt.Sprintf(" (%.3f%% of a core)", 100*r.coreShare())
			}
			if r.PeakRSS > 0 {
				rss = mib(r.PeakRSS)
				if r.PSS > 0 {
					rss += fmt.Sprintf(" (%s PSS at the end)", mib(r.PSS))
				}
			}
			fmt.Fprintf(w, "| %s | %s | %d | %d | %.0f | %.1f | %s |%s %.2f | %s | %s | %s |\n",
				r.Name, kafkaCol, r.Lines, r.Bytes/int64(r.Lines), r.linesPerSec(), r.mbPerSec(),
				cpu, relative, r.cpuPerGB(), rss, lat50, lat99)
		}
	}
	printRatios(w, results)
	printNode(w, results)
	if fl != nil {
		printScaled(w, *fl, results)
	}
}

// printScaled restates the headline row at the speed of the reference
// machine (the one Fluent Bit's 4.7 CPU-s per million lines was measured
// on), through the floor measured in the same run.
func printScaled(w io.Writer, fl result, results []result) {
	for _, r := range results {
		if r.Kind != fullSpeed || r.Peer != "" || r.Lines != fl.Lines || r.Files != fl.Files || r.Size != fl.Size ||
			r.Format != fl.Format || r.Codec != "none" {
			continue
		}
		times := r.cpuPerMillion() / fl.cpuPerMillion()
		fmt.Fprintf(w, "\nThe floor took %.2f CPU-s per million lines in this run, %.2f on the reference machine: "+
			"loglet's %s row is %.1f× the floor, %.2f CPU-s per million lines at that machine's speed "+
			"(target 2.0, %.1f× the floor; Fluent Bit 4.7, %.1f×).\n",
			fl.cpuPerMillion(), referenceFloor, r.Name, times, times*referenceFloor, 2.0/referenceFloor, 4.7/referenceFloor)
		return
	}
}

// printRatios compares each peer's row with loglet's row on the same data.
func printRatios(w io.Writer, results []result) {
	for _, peer := range results {
		if peer.Peer == "" {
			continue
		}
		for _, r := range results {
			if r.Peer != "" || r.Kind != peer.Kind || r.Lines != peer.Lines || r.Files != peer.Files ||
				r.Size != peer.Size || r.Format != peer.Format || r.Acks != peer.Acks || r.Codec != peer.Codec ||
				r.Rate != peer.Rate || r.Burst != peer.Burst {
				continue
			}
			if peer.Peer == peerWakeFloor {
				share := result.coreShare
				if r.Kind == idle {
					share = result.idleShare
				}
				times := "the floor took none"
				if share(peer) > 0 {
					times = fmt.Sprintf("%.1f× the floor", share(r)/share(peer))
				}
				fmt.Fprintf(w, "\nThe wake-up floor (the same wake-ups, reads and produce requests in a plain Go program, nothing else) took %.3f%% of a core at %s, with %s RSS at the end; loglet %.3f%%, %s, with %s.\n",
					share(peer)*100, strings.TrimPrefix(peer.Name, "wake-up floor: "), mib(peer.RSS), share(r)*100, times, mib(r.RSS))
				break
			}
			fmt.Fprintf(w, "\n%s on the same data: %.2f CPU-s per million lines and %s peak RSS; loglet %.2f and %s: %.1f× less CPU and %.1f× less memory.\n",
				peer.Peer, peer.cpuPerMillion(), mib(peer.PeakRSS), r.cpuPerMillion(), mib(r.PeakRSS),
				peer.cpuPerMillion()/r.cpuPerMillion(), float64(peer.PeakRSS)/float64(r.PeakRSS))
			break
		}
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

func fileSize(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "?"
	}
	return fmt.Sprintf("%.1f MB", float64(fi.Size())/1e6)
}
