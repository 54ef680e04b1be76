package memlimit

import (
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// cgroupRoot writes files (path relative to the root → content) into a
// temporary cgroup mount.
func cgroupRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestCgroupLimit(t *testing.T) {
	type result struct {
		Limit int64
		OK    bool
		Err   bool
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  result
	}{
		{"v2 limit", map[string]string{"memory.max": "67108864\n"}, result{64 << 20, true, false}},
		{"v2 no limit", map[string]string{"memory.max": "max\n"}, result{}},
		{"v1 limit", map[string]string{"memory/memory.limit_in_bytes": "33554432\n"}, result{32 << 20, true, false}},
		{"v1 no limit", map[string]string{"memory/memory.limit_in_bytes": "9223372036854771712\n"}, result{}},
		{"v2 before v1", map[string]string{"memory.max": "16777216", "memory/memory.limit_in_bytes": "33554432"}, result{16 << 20, true, false}},
		{"no cgroup files", nil, result{}},
		{"garbage", map[string]string{"memory.max": "lots\n"}, result{Err: true}},
		{"zero", map[string]string{"memory.max": "0\n"}, result{Err: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			limit, ok, err := CgroupLimit(cgroupRoot(t, tc.files))
			if diff := cmp.Diff(tc.want, result{limit, ok, err != nil}); diff != "" {
				t.Errorf("(-want +got):\n%s (err %v)", diff, err)
			}
		})
	}
}

func TestApply(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	limited := cgroupRoot(t, map[string]string{"memory.max": "104857600\n"})

	debug.SetMemoryLimit(math.MaxInt64)
	got, err := Apply(env(nil), limited)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(0.9 * 104857600); got != want || debug.SetMemoryLimit(-1) != want {
		t.Errorf("Apply set %d (runtime has %d), want %d", got, debug.SetMemoryLimit(-1), want)
	}

	// GOMEMLIMIT wins: the runtime applied it already.
	debug.SetMemoryLimit(math.MaxInt64)
	if got, err := Apply(env(map[string]string{"GOMEMLIMIT": "50MiB"}), limited); got != 0 || err != nil {
		t.Errorf("with GOMEMLIMIT: Apply = %d, %v", got, err)
	}
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		t.Errorf("with GOMEMLIMIT the limit became %d", l)
	}

	// No limit, or an unreadable one: nothing is set.
	for _, root := range []string{cgroupRoot(t, map[string]string{"memory.max": "max"}), cgroupRoot(t, map[string]string{"memory.max": "x"})} {
		got, err := Apply(env(nil), root)
		if got != 0 || debug.SetMemoryLimit(-1) != math.MaxInt64 {
			t.Errorf("%s: Apply = %d, %v; runtime limit %d", root, got, err, debug.SetMemoryLimit(-1))
		}
	}
}
