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

// readUsage reads pid's CPU time from /proc/<pid>/stat and its resident set
// sizes from /proc/<pid>/status.
func readUsage(pid int) (usage, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return usage{}, err
	}
	cpu, err := parseStatCPU(stat)
	if err != nil {
		return usage{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
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
