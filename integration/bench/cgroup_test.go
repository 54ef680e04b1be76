package main

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestOwnCgroups(t *testing.T) {
	tests := []struct {
		name, in, v1, v2 string
		err              bool
	}{
		{"hybrid", "12:pids:/\n4:memory:/process_api/0a77\n1:cpu,cpuacct:/a\n0::/\n", "/process_api/0a77", "/", false},
		{"v2 only", "0::/kubepods/burstable/pod1/c1\n", "", "/kubepods/burstable/pod1/c1", false},
		{"v1 with memory among others", "3:cpu,memory:/x\n", "/x", "", false},
		{"named hierarchy only", "1:name=systemd:/\n", "", "", true},
		{"empty", "", "", "", true},
	}
	for _, tt := range tests {
		v1, v2, err := ownCgroups([]byte(tt.in))
		if (err != nil) != tt.err {
			t.Errorf("%s: err = %v, want an error: %v", tt.name, err, tt.err)
			continue
		}
		if diff := cmp.Diff([2]string{tt.v1, tt.v2}, [2]string{v1, v2}); diff != "" {
			t.Errorf("%s: (v1, v2) (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestStatValue(t *testing.T) {
	stat := []byte("cache 12722176\nrss 3321856\ninactive_file 4096\ntotal_inactive_file 12718080\n")
	for key, want := range map[string]int64{"rss": 3321856, "inactive_file": 4096, "total_inactive_file": 12718080} {
		got, err := statValue(stat, key)
		if err != nil || got != want {
			t.Errorf("statValue(%q) = %d, %v; want %d", key, got, err, want)
		}
	}
	if _, err := statValue(stat, "active_file"); err == nil {
		t.Error("a missing key gave no error")
	}
}

// TestMemCgroupChargesTheWrappedProcess runs a shell holding 8 MB in a
// variable through wrap, and reads its working set. It needs a writable
// cgroup file system; without one it is skipped, and the bench's idle rows
// print no working set.
func TestMemCgroupChargesTheWrappedProcess(t *testing.T) {
	cg, err := newMemCgroup(fmt.Sprintf("loglet-bench-test-%d", os.Getpid()))
	if err != nil {
		t.Skipf("no memory cgroup here: %v", err)
	}
	defer func() {
		if err := cg.remove(); err != nil {
			t.Error(err)
		}
	}()
	// The shell waits for its input to end, with no child left to outlive
	// it in the cgroup.
	bin, args := cg.wrap("/bin/sh", []string{"-c", `x=$(head -c 8000000 /dev/zero | tr '\0' a); echo ready; read line || :`})
	cmd := exec.Command(bin, args...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		in.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("the wrapped shell: %v", err)
		}
	}()
	buf := make([]byte, 6)
	if _, err := out.Read(buf); err != nil {
		t.Fatalf("the wrapped shell did not start: %v", err)
	}
	var ws int64
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ws, err = cg.workingSet(); err != nil {
			t.Fatal(err)
		}
		if ws >= 8_000_000 {
			return
		}
	}
	t.Errorf("working set %d bytes, want at least the 8,000,000 the shell holds", ws)
}
