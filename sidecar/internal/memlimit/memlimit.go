package memlimit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// Fraction is the share of the container's memory limit that Apply gives
// the Go runtime (heap, stacks and runtime metadata); the rest is left to
// what the runtime does not count, such as the binary's own pages.
const Fraction = 0.9

// unlimited is where cgroup v1 limits mean "no limit" (v1 writes the
// largest page-aligned value, about 2^63).
const unlimited = 1 << 62

// CgroupLimit returns the memory limit, in bytes, of the cgroup whose
// hierarchy is mounted at root (normally /sys/fs/cgroup, which in a
// container is the container's own cgroup): cgroup v2's memory.max, or
// cgroup v1's memory/memory.limit_in_bytes. ok is false when neither file
// exists or the limit is "max" (none).
func CgroupLimit(root string) (limit int64, ok bool, err error) {
	for _, name := range []string{"memory.max", filepath.Join("memory", "memory.limit_in_bytes")} {
		path := filepath.Join(root, name)
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, false, fmt.Errorf("read %s: %w", path, err)
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			return 0, false, nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return 0, false, fmt.Errorf("%s: %q is not a memory limit", path, s)
		}
		if n >= unlimited {
			return 0, false, nil
		}
		return n, true, nil
	}
	return 0, false, nil
}

// Apply sets the runtime's soft memory limit to Fraction of the cgroup
// limit found under root, unless GOMEMLIMIT is set in the environment
// (getenv), which the runtime has applied already. It returns the limit it
// set, or 0 when it set none.
func Apply(getenv func(string) string, root string) (int64, error) {
	if getenv("GOMEMLIMIT") != "" {
		return 0, nil
	}
	limit, ok, err := CgroupLimit(root)
	if err != nil || !ok {
		return 0, err
	}
	soft := int64(float64(limit) * Fraction)
	debug.SetMemoryLimit(soft)
	return soft, nil
}
