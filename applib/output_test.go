package applib

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/slogtest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sirupsen/logrus"
)

// listDir returns the names in dir, sorted.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// logFiles returns pod's rotated files oldest first, then the active file.
func logFiles(t *testing.T, dir, pod string) []string {
	t.Helper()
	var files []string
	for _, name := range listDir(t, dir) {
		switch {
		case isRotated(pod, name):
			files = append(files, name)
		case name == pod+".log":
		default:
			t.Errorf("unexpected file %s", name)
		}
	}
	return append(files, pod+".log")
}

type seqRecord struct {
	G   int    `json:"g"`
	Seq int    `json:"seq"`
	Pad string `json:"pad"`
}

// TestRotationConcurrent has 8 goroutines, half through logrus and half
// through slog, write to one Output with a small size limit, then reads
// every file back: each record appears exactly once, whole, in order, and
// no file passes the limit.
func TestRotationConcurrent(t *testing.T) {
	const (
		goroutines = 8
		perG       = 400
		maxBytes   = 4096
	)
	dir := t.TempDir()
	out := openTemp(t, Config{Dir: dir, Pod: "web-1", MaxFileBytes: maxBytes, MaxFiles: 1 << 20})
	log := New(out)
	sl := NewSlog(out)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				pad := strings.Repeat("x", (g*perG+i)%97) // vary the record sizes
				if g%2 == 0 {
					log.WithFields(logrus.Fields{"g": g, "seq": i, "pad": pad}).Info("r")
				} else {
					sl.Info("r", "g", g, "seq", i, "pad", pad)
				}
			}
		})
	}
	wg.Wait()
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}

	files := logFiles(t, dir, "web-1")
	if len(files) < 20 {
		t.Fatalf("only %d files: rotation did not happen as often as expected", len(files))
	}
	next := make([]int, goroutines) // the next seq expected from each goroutine
	for _, name := range files {
		path := filepath.Join(dir, name)
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > maxBytes {
			t.Errorf("%s has %d bytes, limit %d", name, st.Size(), maxBytes)
		}
		for _, l := range readLines(t, path) {
			var r seqRecord
			if err := json.Unmarshal([]byte(l), &r); err != nil {
				t.Fatalf("%s: torn or invalid record %q: %v", name, l, err)
			}
			if r.G < 0 || r.G >= goroutines || r.Seq != next[r.G] {
				t.Fatalf("%s: record g=%d seq=%d out of order or duplicated (want seq %d)", name, r.G, r.Seq, next[r.G%goroutines])
			}
			if want := strings.Repeat("x", (r.G*perG+r.Seq)%97); r.Pad != want {
				t.Fatalf("%s: record g=%d seq=%d has pad of %d bytes, want %d", name, r.G, r.Seq, len(r.Pad), len(want))
			}
			next[r.G]++
		}
	}
	for g, n := range next {
		if n != perG {
			t.Errorf("goroutine %d: read %d records, wrote %d", g, n, perG)
		}
	}
}

// TestRotationKeepsMaxFiles writes enough to rotate many times with
// MaxFiles 3 and no loglet state directory (no sidecar ships the files):
// the three newest rotated files remain and hold the newest records
// without a gap, each deletion is reported and counted, and files that are
// not this pod's are untouched.
func TestRotationKeepsMaxFiles(t *testing.T) {
	dir := t.TempDir()
	foreign := []string{"web-1.log", "web-notes.log", "web-20200101T000000.000000000Z.txt", "web20200101T000000.000000000Z.log"}
	for _, name := range foreign {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("keep\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var stderr bytes.Buffer
	out := openTemp(t, Config{Dir: dir, Pod: "web", MaxFileBytes: 300, MaxFiles: 3, Stderr: &stderr})
	log := New(out)
	const n = 100
	for i := range n {
		log.WithField("seq", i).Info("r")
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}

	var rotated []string
	for _, name := range listDir(t, dir) {
		if isRotated("web", name) {
			rotated = append(rotated, name)
		}
	}
	if len(rotated) != 3 {
		t.Fatalf("%d rotated files %q, want 3", len(rotated), rotated)
	}
	var seqs []int
	for _, name := range append(rotated, "web.log") {
		for _, l := range readLines(t, filepath.Join(dir, name)) {
			var r seqRecord
			if err := json.Unmarshal([]byte(l), &r); err != nil {
				t.Fatal(err)
			}
			seqs = append(seqs, r.Seq)
		}
	}
	if len(seqs) == 0 || seqs[len(seqs)-1] != n-1 {
		t.Fatalf("newest records missing: %v", seqs)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Fatalf("gap or disorder in kept records: %v", seqs)
		}
	}
	st := out.Stats()
	reports := strings.Count(stderr.String(), "never shipped: more than 3 rotated files and no loglet state")
	if st.DeletedUnshippedFiles == 0 || int64(reports) != st.DeletedUnshippedFiles || st.DroppedRecords != 0 {
		t.Errorf("Stats() = %+v with %d deletions reported; want every deletion counted and reported, nothing dropped:\n%s", st, reports, stderr.String())
	}
	for _, name := range foreign {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != "keep\n" {
			t.Errorf("foreign file %s changed: %q, %v", name, b, err)
		}
	}
}

// TestRotationNames checks the rotated names against the decided format and
// that they stay unique and increasing when the clock stands still or
// steps back.
func TestRotationNames(t *testing.T) {
	dir := t.TempDir()
	out := openTemp(t, Config{Dir: dir, Pod: "web-1", MaxFileBytes: 10, MaxFiles: 100})
	clock := []time.Time{
		time.Date(2026, 11, 21, 19, 45, 0, 123456789, time.UTC),
		time.Date(2026, 11, 21, 19, 45, 0, 123456789, time.UTC), // stands still
		time.Date(2026, 11, 21, 20, 45, 0, 0, jst),              // steps back an hour (10:45 UTC)
		time.Date(2026, 11, 21, 19, 46, 0, 0, time.UTC),
	}
	calls := 0
	out.now = func() time.Time { c := clock[min(calls, len(clock)-1)]; calls++; return c }
	for i := range 5 {
		if _, err := fmt.Fprintf(out, "record %d\n", i); err != nil {
			t.Fatal(err)
		}
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"web-1-20261121T194500.123456789Z.log", // record 0
		"web-1-20261121T194500.123456790Z.log", // record 1
		"web-1-20261121T194500.123456791Z.log", // record 2
		"web-1-20261121T194600.000000000Z.log", // record 3
		"web-1.log",                            // record 4
	}
	if diff := cmp.Diff(want, listDir(t, dir)); diff != "" {
		t.Fatalf("files mismatch (-want +got):\n%s", diff)
	}
	for i, name := range want {
		if got := readLines(t, filepath.Join(dir, name)); !slices.Equal(got, []string{fmt.Sprintf("record %d\n", i)}) {
			t.Errorf("%s holds %q, want record %d", name, got, i)
		}
	}
}

// TestRotationSkipsTakenName checks that rotation never replaces an existing
// file that has the name it wants.
func TestRotationSkipsTakenName(t *testing.T) {
	dir := t.TempDir()
	taken := filepath.Join(dir, "web-1-20261121T194500.000000000Z.log")
	if err := os.WriteFile(taken, []byte("older\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := openTemp(t, Config{Dir: dir, Pod: "web-1", MaxFileBytes: 10})
	out.now = func() time.Time { return time.Date(2026, 11, 21, 19, 45, 0, 0, time.UTC) }
	for _, s := range []string{"first\n", "second\n"} {
		if _, err := out.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, name := range listDir(t, dir) {
		got[name] = readLines(t, filepath.Join(dir, name))
	}
	want := map[string][]string{
		"web-1-20261121T194500.000000000Z.log": {"older\n"},
		"web-1-20261121T194500.000000001Z.log": {"first\n"},
		"web-1.log":                            {"second\n"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files mismatch (-want +got):\n%s", diff)
	}
}

// TestOpenAppends checks that Open keeps what an earlier container wrote
// and counts it towards the size limit.
func TestOpenAppends(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "web-1.log"), []byte("from before the restart\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := openTemp(t, Config{Dir: dir, Pod: "web-1", MaxFileBytes: 40})
	for _, s := range []string{"a\n", "this one passes the limit\n"} {
		if _, err := out.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	files := logFiles(t, dir, "web-1")
	if len(files) != 2 {
		t.Fatalf("files %q, want one rotated and the active one", files)
	}
	if diff := cmp.Diff([]string{"from before the restart\n", "a\n"}, readLines(t, filepath.Join(dir, files[0]))); diff != "" {
		t.Errorf("rotated file mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"this one passes the limit\n"}, readLines(t, filepath.Join(dir, files[1]))); diff != "" {
		t.Errorf("active file mismatch (-want +got):\n%s", diff)
	}
}

// TestOpenCreatesDirAndPrunes checks that Open creates a missing directory
// and applies MaxFiles to rotated files left by an earlier run.
func TestOpenCreatesDirAndPrunes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, ts := range []string{"20260101T000000.000000000Z", "20260102T000000.000000000Z", "20260103T000000.000000000Z"} {
		if err := os.WriteFile(filepath.Join(dir, "web-1-"+ts+".log"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	openTemp(t, Config{Dir: dir, Pod: "web-1", MaxFiles: 2})
	want := []string{"web-1-20260102T000000.000000000Z.log", "web-1-20260103T000000.000000000Z.log", "web-1.log"}
	if diff := cmp.Diff(want, listDir(t, dir)); diff != "" {
		t.Errorf("files mismatch (-want +got):\n%s", diff)
	}

	fresh := filepath.Join(t.TempDir(), "not", "yet")
	openTemp(t, Config{Dir: fresh, Pod: "web-1"})
	if diff := cmp.Diff([]string{"web-1.log"}, listDir(t, fresh)); diff != "" {
		t.Errorf("files mismatch (-want +got):\n%s", diff)
	}
}

// TestRotationFailure removes the directory under an open Output: rotation
// cannot rename, the record still goes to the open file, and Sync reports
// the failure once.
func TestRotationFailure(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	out := openTemp(t, Config{Dir: dir, Pod: "web-1", MaxFileBytes: 10})
	if _, err := out.Write([]byte("first record\n")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := out.Write([]byte("second record\n")); err != nil {
		t.Fatalf("Write after failed rotation: %v", err)
	}
	if err := out.Sync(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Sync() = %v, want the rotation error (not exist)", err)
	}
	if err := out.Sync(); err != nil {
		t.Errorf("second Sync() = %v, want nil: the error was reported", err)
	}
}

func TestWriteAfterClose(t *testing.T) {
	for _, c := range []Config{{Dir: t.TempDir(), Pod: "web-1"}, {Stdout: new(bytes.Buffer)}} {
		out, err := Open(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := out.Write([]byte("late\n")); !errors.Is(err, os.ErrClosed) {
			t.Errorf("Write after Close = %v, want os.ErrClosed", err)
		}
		if err := out.Close(); err != nil {
			t.Errorf("second Close = %v, want nil", err)
		}
		if err := out.Sync(); err != nil {
			t.Errorf("Sync after Close = %v, want nil", err)
		}
	}
}

// TestStdoutConfig checks that without a directory records go to Stdout and
// no file is created.
func TestStdoutConfig(t *testing.T) {
	var buf bytes.Buffer
	out, err := Open(Config{Stdout: &buf})
	if err != nil {
		t.Fatal(err)
	}
	if out.Path() != "" {
		t.Errorf("Path() = %q, want empty", out.Path())
	}
	New(out).WithField("count", 1).Info("to stdout")
	NewSlog(out).Info("to stdout", "count", 2)
	if err := out.Sync(); err != nil {
		t.Error(err)
	}
	if err := out.Close(); err != nil {
		t.Error(err)
	}
	lines := splitLines(t, buf.Bytes())
	if len(lines) != 2 {
		t.Fatalf("got %q, want 2 lines", lines)
	}
	for i, l := range lines {
		f, _ := rawFields(t, l)
		if f["msg"] != `"to stdout"` || f["count"] != fmt.Sprint(i+1) {
			t.Errorf("line %d = %q", i, l)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		c    Config
		want string // substring of the error; "" for none
	}{
		{"stdout", Config{}, ""},
		{"file", Config{Dir: "/x", Pod: "web-1"}, ""},
		{"no pod", Config{Dir: "/x"}, "no pod name: set POD_NAME"},
		{"slash", Config{Dir: "/x", Pod: "../etc/x"}, `pod name "../etc/x" cannot name a file`},
		{"dotdot", Config{Dir: "/x", Pod: ".."}, `pod name ".." cannot name a file`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("validate() = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{"nothing: stdout", nil, Config{}, ""},
		{"empty dir: stdout", map[string]string{"LOGLET_LOG_DIR": "", "POD_NAME": "web-1"}, Config{Pod: "web-1"}, ""},
		{"pod name", map[string]string{"LOGLET_LOG_DIR": "/var/log/app", "POD_NAME": "web-1", "HOSTNAME": "host"},
			Config{Dir: "/var/log/app", Pod: "web-1"}, ""},
		{"hostname fallback", map[string]string{"LOGLET_LOG_DIR": "/var/log/app", "HOSTNAME": "web-2"},
			Config{Dir: "/var/log/app", Pod: "web-2"}, ""},
		{"state dir", map[string]string{"LOGLET_LOG_DIR": "/var/log/app", "POD_NAME": "web-1", "LOGLET_STATE_DIR": "/var/lib/loglet"},
			Config{Dir: "/var/log/app", Pod: "web-1", StateDir: "/var/lib/loglet"}, ""},
		{"limits", map[string]string{"LOGLET_MAX_FILE_BYTES": "1048576", "LOGLET_MAX_FILES": " 3 "},
			Config{MaxFileBytes: 1 << 20, MaxFiles: 3}, ""},
		{"size units", map[string]string{"LOGLET_MAX_FILE_BYTES": "100MiB"}, Config{MaxFileBytes: 100 << 20}, ""},
		{"size units 1000", map[string]string{"LOGLET_MAX_FILE_BYTES": "2 GB"}, Config{MaxFileBytes: 2e9}, ""},
		{"bad size", map[string]string{"LOGLET_MAX_FILE_BYTES": "100XB"}, Config{}, `LOGLET_MAX_FILE_BYTES: not a size: "100XB"`},
		{"zero size", map[string]string{"LOGLET_MAX_FILE_BYTES": "0"}, Config{}, `LOGLET_MAX_FILE_BYTES="0"`},
		{"negative files", map[string]string{"LOGLET_MAX_FILES": "-1"}, Config{}, `LOGLET_MAX_FILES="-1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := configFromEnv(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(Config{})); diff != "" {
				t.Errorf("config mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// helperEnv makes the test binary act as a small service (runHelper) for
// the tests that need a process of their own: its environment and stdout.
const helperEnv = "APPLIB_TEST_HELPER"

func runHelper() {
	out, err := OpenEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	New(out).WithFields(Fields(Int("count", 1))).Info("from logrus")
	NewSlog(out).Info("from slog", Int("count", 2))
	if err := out.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
}

// runService runs the helper service in dir with env added to a clean
// environment and returns its stdout.
func runService(t *testing.T, dir string, env ...string) []byte {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), exe)
	cmd.Dir = dir
	cmd.Env = append([]string{helperEnv + "=1", "PATH=" + os.Getenv("PATH")}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("service: %v; stderr: %s", err, stderr.Bytes())
	}
	if stderr.Len() > 0 {
		t.Errorf("service stderr: %s", stderr.Bytes())
	}
	return stdout.Bytes()
}

// TestOpenEnvStdout runs a service without LOGLET_LOG_DIR: both records
// arrive on stdout and no file appears.
func TestOpenEnvStdout(t *testing.T) {
	dir := t.TempDir()
	stdout := runService(t, dir, "POD_NAME=web-1")
	lines := splitLines(t, stdout)
	if len(lines) != 2 {
		t.Fatalf("stdout %q, want 2 lines", stdout)
	}
	var got []string
	for _, l := range lines {
		f, _ := rawFields(t, l)
		got = append(got, f["msg"]+" "+f["count"])
	}
	if diff := cmp.Diff([]string{`"from logrus" 1`, `"from slog" 2`}, got); diff != "" {
		t.Errorf("stdout mismatch (-want +got):\n%s", diff)
	}
	if names := listDir(t, dir); len(names) != 0 {
		t.Errorf("files created without LOGLET_LOG_DIR: %q", names)
	}
}

// TestOpenEnvFile runs a service with LOGLET_LOG_DIR: nothing on stdout, the
// records in <dir>/<POD_NAME>.log, or <HOSTNAME>.log without POD_NAME.
func TestOpenEnvFile(t *testing.T) {
	for _, tt := range []struct{ env, file string }{{"POD_NAME=web-1", "web-1.log"}, {"HOSTNAME=web-2", "web-2.log"}} {
		dir := t.TempDir()
		if stdout := runService(t, t.TempDir(), "LOGLET_LOG_DIR="+dir, "HOSTNAME=host", tt.env); len(stdout) != 0 {
			t.Errorf("stdout %q, want nothing", stdout)
		}
		if diff := cmp.Diff([]string{tt.file}, listDir(t, dir)); diff != "" {
			t.Fatalf("%s: files mismatch (-want +got):\n%s", tt.env, diff)
		}
		if n := len(readLines(t, filepath.Join(dir, tt.file))); n != 2 {
			t.Errorf("%s: %d lines, want 2", tt.env, n)
		}
	}
}

// TestSlogHandlerContract runs the standard library's slog handler tests;
// dotted keys are turned back into the nested groups they stand for.
func TestSlogHandlerContract(t *testing.T) {
	var buf bytes.Buffer
	newHandler := func(*testing.T) slog.Handler { buf.Reset(); return NewHandler(&buf, nil) }
	result := func(t *testing.T) map[string]any {
		var flat map[string]any
		if err := json.Unmarshal(buf.Bytes(), &flat); err != nil {
			t.Fatalf("%q: %v", buf.Bytes(), err)
		}
		m := map[string]any{}
		for k, v := range flat {
			parts := strings.Split(k, ".")
			g := m
			for _, p := range parts[:len(parts)-1] {
				sub, ok := g[p].(map[string]any)
				if !ok {
					sub = map[string]any{}
					g[p] = sub
				}
				g = sub
			}
			g[parts[len(parts)-1]] = v
		}
		return m
	}
	slogtest.Run(t, newHandler, result)
}
