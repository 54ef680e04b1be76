package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat (USER_HZ, 100 on
// every Linux architecture Go supports).
const userHZ = 100

// usage is a process's resource use as /proc shows it.
type usage struct {
	CPU     time.Duration // user + system time of all its threads
	PeakRSS int64         // VmHWM, bytes
	RSS     int64         // VmRSS, bytes
	PSS     int64         // Pss of /proc/<pid>/smaps_rollup, bytes: the binary's pages are shared by every sidecar of one image
}

// readUsage reads pid's CPU time and its resident set sizes from
// /proc/<pid>/status.
//
// The CPU time is the sum of the threads' run time in /proc/<pid>/task/*/
// schedstat, in nanoseconds: /proc/<pid>/stat counts in ticks of 10 ms, one
// tick in 20 s of an idle sidecar being 0.05% of a core, the whole target.
// Where schedstat is missing, or less than the ticks say (a thread that
// exited takes its run time with it), the ticks are used.
func readUsage(pid int) (usage, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return usage{}, err
	}
	cpu, err := parseStatCPU(stat)
	if err != nil {
		return usage{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	if run, err := threadsRunTime(pid); err == nil && run > cpu-2*time.Second/userHZ {
		cpu = run
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return usage{}, err
	}
	u := usage{CPU: cpu}
	if u.PeakRSS, err = statusBytes(status, "VmHWM"); err != nil {
		return usage{}, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	if u.RSS, err = statusBytes(status, "VmRSS"); err != nil {
		return usage{}, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	if rollup, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid)); err == nil {
		u.PSS, _ = statusBytes(rollup, "Pss")
	}
	return u, nil
}

// threadsRunTime sums the run time (the first field of schedstat, in
// nanoseconds) of pid's threads.
func threadsRunTime(pid int) (time.Duration, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0, err
	}
	var sum time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if err != nil {
			continue // the thread exited
		}
		ns, err := parseSchedstat(b)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/task/%s/schedstat: %w", pid, t.Name(), err)
		}
		sum += ns
	}
	return sum, nil
}

// parseSchedstat returns the run time, the first of schedstat's three
// fields.
func parseSchedstat(b []byte) (time.Duration, error) {
	f := strings.Fields(string(b))
	if len(f) != 3 {
		return 0, fmt.Errorf("%d fields in %q, want 3", len(f), b)
	}
	ns, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("run time %q: %w", f[0], err)
	}
	return time.Duration(ns), nil
}

// parseStatCPU returns utime + stime from the text of /proc/<pid>/stat.
// The command name (field 2) may hold spaces and parentheses, so fields are
// counted from the last ')'.
func parseStatCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("no command name in %q", stat)
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields after the command name, want at least 13", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cpu time %q: %w", s, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// statusBytes returns the size in bytes of the "key:   N kB" line of
// /proc/<pid>/status.
func statusBytes(status []byte, key string) (int64, error) {
	for line := range strings.Lines(string(status)) {
		rest, ok := strings.CutPrefix(line, key+":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s %q: %w", key, strings.TrimSpace(rest), err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("no %s line", key)
}
