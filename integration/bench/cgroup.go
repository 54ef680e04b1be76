package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// memCgroup is a memory cgroup of its own for one process, so that the
// benchmark can read what the kubelet reads for a container: its working
// set, the cgroup's memory usage less its inactive file pages
// (container_memory_working_set_bytes, what `kubectl top` shows and what
// evictions weigh). Unlike RSS, it leaves out the binary's pages that sit
// in the page cache, shared by every container of the same image, which
// the kernel charges to the first cgroup that read them and can reclaim.
//
// It needs a writable cgroup file system: cgroup v1's memory controller,
// or cgroup v2 with the memory controller enabled below the benchmark's
// own cgroup. newMemCgroup says why when it cannot have one, and the rows
// then print no working set.
type memCgroup struct {
	dir string
	v2  bool
}

// cgroupRoot is where the cgroup file systems are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// newMemCgroup makes a memory cgroup named name below the benchmark's own.
func newMemCgroup(name string) (*memCgroup, error) {
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	v1Path, v2Path, err := ownCgroups(self)
	if err != nil {
		return nil, err
	}
	var cg memCgroup
	switch {
	case v1Path != "" && exists(filepath.Join(cgroupRoot, "memory", "memory.stat")):
		cg.dir = filepath.Join(cgroupRoot, "memory", v1Path, name)
	case v2Path != "" && exists(filepath.Join(cgroupRoot, "cgroup.controllers")):
		parent := filepath.Join(cgroupRoot, v2Path)
		ctl, err := os.ReadFile(filepath.Join(parent, "cgroup.subtree_control"))
		if err != nil {
			return nil, err
		}
		if !bytes.Contains(ctl, []byte("memory")) {
			return nil, fmt.Errorf("cgroup v2: the memory controller is not enabled below %s", parent)
		}
		cg.dir, cg.v2 = filepath.Join(parent, name), true
	default:
		return nil, errors.New("no memory cgroup: neither cgroup v1's memory controller nor cgroup v2 is mounted at " + cgroupRoot)
	}
	if err := os.Mkdir(cg.dir, 0o755); err != nil {
		return nil, fmt.Errorf("make a memory cgroup: %w", err)
	}
	return &cg, nil
}

// ownCgroups returns the process's memory cgroup (v1) and its unified
// cgroup (v2) from /proc/self/cgroup.
func ownCgroups(b []byte) (v1, v2 string, err error) {
	for line := range strings.Lines(string(b)) {
		id, rest, ok := strings.Cut(strings.TrimSuffix(line, "\n"), ":")
		if !ok {
			continue
		}
		ctls, path, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		switch {
		case id == "0" && ctls == "":
			v2 = path
		case slices.Contains(strings.Split(ctls, ","), "memory"):
			v1 = path
		}
	}
	if v1 == "" && v2 == "" {
		return "", "", errors.New("/proc/self/cgroup names no cgroup")
	}
	return v1, v2, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// wrap returns how to run bin with args inside the cgroup: a shell that
// moves itself into it, then execs bin, so that every page bin touches,
// from its first, is charged there. The process keeps the shell's PID.
func (cg *memCgroup) wrap(bin string, args []string) (string, []string) {
	return "/bin/sh", append([]string{"-c", `f=$1; shift; echo $$ > "$f" && exec "$@"`, "sh", filepath.Join(cg.dir, "cgroup.procs"), bin}, args...)
}

// workingSet returns the cgroup's memory usage less its inactive file
// pages, in bytes, as cAdvisor computes a container's working set.
func (cg *memCgroup) workingSet() (int64, error) {
	usageFile, inactiveKey := "memory.usage_in_bytes", "total_inactive_file"
	if cg.v2 {
		usageFile, inactiveKey = "memory.current", "inactive_file"
	}
	b, err := os.ReadFile(filepath.Join(cg.dir, usageFile))
	if err != nil {
		return 0, err
	}
	usage, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", usageFile, err)
	}
	stat, err := os.ReadFile(filepath.Join(cg.dir, "memory.stat"))
	if err != nil {
		return 0, err
	}
	inactive, err := statValue(stat, inactiveKey)
	if err != nil {
		return 0, err
	}
	return max(usage-inactive, 0), nil
}

// statValue returns the value of the "key N" line of a memory.stat file,
// as statusBytes does for /proc/<pid>/status.
func statValue(stat []byte, key string) (int64, error) {
	for line := range strings.Lines(string(stat)) {
		rest, ok := strings.CutPrefix(line, key+" ")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("memory.stat %s %q: %w", key, strings.TrimSpace(rest), err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("memory.stat has no %s line", key)
}

// remove removes the cgroup once its processes have ended; the kernel
// moves what is still charged to it (page cache) to the parent.
func (cg *memCgroup) remove() error {
	if err := os.Remove(cg.dir); err != nil {
		return fmt.Errorf("remove the memory cgroup: %w", err)
	}
	return nil
}
