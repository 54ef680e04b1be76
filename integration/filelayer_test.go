package integration_test

// The file layer, end to end through the real bin/loglet with
// LOGLET_SINK=stdout and real files on the test's file system (ext4, which
// hands a freed inode out again at once): what is read (never through a
// symlink, never a special file), how a file is told from another that got
// its inode, copytruncate, the deletion of shipped rotations, fairness
// between files, the {pod} match, and the checkpoint state. This file has
// the helpers, what is read and how files are told apart;
// filelayer_rotate_test.go has the rest.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/loglet/loglet/integration/internal/harness"
)

// flWait is the deadline of every wait for something the sidecar must do.
const flWait = 60 * time.Second

// flDirs is one test's directories: the log volume and an empty podinfo.
type flDirs struct {
	root, logDir, podinfo string
}

func newFLDirs(t *testing.T) flDirs {
	t.Helper()
	root := t.TempDir()
	d := flDirs{root: root, logDir: filepath.Join(root, "logs"), podinfo: filepath.Join(root, "podinfo")}
	for _, dir := range []string{d.logDir, d.podinfo} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// start runs the sidecar for pod on d.logDir with the fast defaults of these
// tests, overridden by extra, and waits until its HTTP server answers.
func (d flDirs) start(t *testing.T, pod string, extra map[string]string) *harness.Sidecar {
	t.Helper()
	env := map[string]string{
		"LOGLET_SINK": "stdout", "LOGLET_LOG_DIR": d.logDir, "LOGLET_PODINFO_DIR": d.podinfo,
		"POD_NAME": pod, "POD_NAMESPACE": "shop",
		"LOGLET_POLL_INTERVAL": "50ms", "LOGLET_ROTATE_WAIT": "500ms", "LOGLET_SHUTDOWN_TIMEOUT": "10s",
	}
	maps.Copy(env, extra)
	sc := harness.StartSidecar(t, env)
	sc.WaitFor(t, flWait, "/healthz", func() bool { code, _ := sc.Get("/healthz"); return code == 200 })
	return sc
}

// flRecord is a record as the stdout sink prints it.
type flRecord struct {
	Msg        string                     `json:"msg"`
	Fields     map[string]json.RawMessage `json:"fields"`
	ParseError string                     `json:"parse_error"`
	Kubernetes struct {
		PodName string `json:"pod_name"`
	} `json:"kubernetes"`
	Log struct {
		File   string `json:"file"`
		Offset int64  `json:"offset"`
	} `json:"log"`
	raw string
}

// seq returns fields.seq when the record has an integer one.
func (r flRecord) seq() (int, bool) {
	v, ok := r.Fields["seq"]
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(string(v))
	return n, err == nil
}

// flRecords reads the records each sidecar has printed so far; a last line
// still being written is left for the next call.
func flRecords(t *testing.T, scs ...*harness.Sidecar) []flRecord {
	t.Helper()
	var out []flRecord
	for _, sc := range scs {
		data, err := os.ReadFile(sc.Stdout)
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
			data = data[:i+1]
		} else {
			data = nil
		}
		for line := range strings.Lines(string(data)) {
			var r flRecord
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("stdout line is not a JSON record: %v: %q", err, line)
			}
			r.raw = strings.TrimSuffix(line, "\n")
			out = append(out, r)
		}
	}
	return out
}

// flSeqs counts the records of each fields.seq, of the files named in files
// (all files when none is named).
func flSeqs(recs []flRecord, files ...string) map[int]int {
	seen := map[int]int{}
	for _, r := range recs {
		if len(files) > 0 && !slices.Contains(files, r.Log.File) {
			continue
		}
		if s, ok := r.seq(); ok {
			seen[s]++
		}
	}
	return seen
}

// flMissing returns how many of the seqs in [lo, hi] seen lacks, and the
// first few of them.
func flMissing(seen map[int]int, lo, hi int) (int, []int) {
	n, first := 0, []int(nil)
	for s := lo; s <= hi; s++ {
		if seen[s] == 0 {
			n++
			if len(first) < 10 {
				first = append(first, s)
			}
		}
	}
	return n, first
}

// flPoll calls check every 50 ms until it returns "" and returns "", or
// returns check's last answer once timeout has passed or the last of scs
// (the one running; the others are earlier runs) has exited.
func flPoll(timeout time.Duration, check func() string, scs ...*harness.Sidecar) string {
	deadline := time.Now().Add(timeout)
	for {
		msg := check()
		if msg == "" {
			return ""
		}
		if len(scs) > 0 && scs[len(scs)-1].Exited() {
			return msg + " (and loglet exited)"
		}
		if time.Now().After(deadline) {
			return fmt.Sprintf("%s (after %s)", msg, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// flWaitSeqs waits until the sidecars (runs one after another, the last
// one running) have printed every seq in [lo, hi] from files (any file when
// none is named) and returns "" then, or a message saying how many are still
// missing.
func flWaitSeqs(t *testing.T, lo, hi int, files []string, scs ...*harness.Sidecar) string {
	t.Helper()
	return flPoll(flWait, func() string {
		n, first := flMissing(flSeqs(flRecords(t, scs...), files...), lo, hi)
		if n == 0 {
			return ""
		}
		return fmt.Sprintf("%d of the %d lines seq %d..%d never shipped (first missing: %v)", n, hi-lo+1, lo, hi, first)
	}, scs...)
}

// flAppend appends data to path in one write, creating the file.
func flAppend(t *testing.T, path string, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
}

// flLines returns JSON lines {"seq":s,"msg":msg} for s in [lo, hi].
func flLines(lo, hi int, msg string) string {
	var b strings.Builder
	for s := lo; s <= hi; s++ {
		fmt.Fprintf(&b, `{"seq":%d,"msg":%q}`+"\n", s, msg)
	}
	return b.String()
}

func flInode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// flRecreateSameInode deletes path and creates it again until the file
// system hands out the inode it had, then writes content in one write. The
// inode is free again only once the sidecar has closed the deleted file, so
// a wrong inode is kept (under a name the sidecar ignores) and the next
// creation tries again. ext4 reuses the lowest free inode at once, so this
// must succeed; the test fails when it does not.
func flRecreateSameInode(t *testing.T, path, content string) {
	t.Helper()
	old := flInode(t, path)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	var held []string
	defer func() {
		for _, h := range held {
			os.Remove(h)
		}
	}()
	const tries = 1000
	for try := range tries {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Sys().(*syscall.Stat_t).Ino == old {
			_, err := f.WriteString(content)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatal(err)
			}
			if try > 0 {
				t.Logf("%s got inode %d back after %d re-creates", path, old, try+1)
			}
			return
		}
		f.Close()
		hold := filepath.Join(filepath.Dir(path), fmt.Sprintf(".hold-%d", try))
		if err := os.Rename(path, hold); err != nil {
			t.Fatal(err)
		}
		held = append(held, hold)
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("inode %d of %s not handed out again after %d deletes and re-creates; this test needs a file system that reuses inodes (ext4)", old, path, tries)
}

// TestFileLayerNeverFollowsSymlinks: links out of the volume,
// to a file inside it, through a linked directory, and a FIFO: none is read,
// the regular file beside them is, and each skip is counted and logged once.
func TestFileLayerNeverFollowsSymlinks(t *testing.T) {
	t.Parallel()
	d := newFLDirs(t)
	outside := filepath.Join(d.root, "outside")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{ // file -> its unique content
		filepath.Join(outside, "secret"):      fmt.Sprintf("SECRET-OUTSIDE-%x", rand.Uint64()),
		filepath.Join(outside, "secret3"):     fmt.Sprintf("SECRET-VIA-DIR-%x", rand.Uint64()),
		filepath.Join(d.logDir, "inside.txt"): fmt.Sprintf("SECRET-INSIDE-%x", rand.Uint64()),
	}
	for path, content := range secrets {
		if err := os.WriteFile(path, []byte(`{"msg":"`+content+`"}`+"\n"+content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"evil.log":  filepath.Join(outside, "secret"),
		"evil2.log": "inside.txt",
		"d":         outside,
		"evil3.log": "d/secret3",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(d.logDir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(d.logDir, "fifo.log"), 0o644); err != nil {
		t.Fatal(err)
	}
	ok := filepath.Join(d.logDir, "ok.log")
	flAppend(t, ok, flLines(0, 19, "ok"))

	sc := d.start(t, "web-1", nil)
	flAppend(t, ok, flLines(20, 39, "ok"))
	if msg := flWaitSeqs(t, 0, 39, []string{"ok.log"}, sc); msg != "" {
		t.Errorf("ok.log beside the links and the FIFO: %s", msg)
	}
	// Several poll intervals and rescans, for repeated skips to show.
	time.Sleep(2 * time.Second)

	out, _ := os.ReadFile(sc.Stdout)
	logs := sc.Output()
	for path, content := range secrets {
		if strings.Contains(string(out), content) {
			t.Errorf("the content of %s, reached through a symlink, was shipped", path)
		}
		if strings.Contains(logs, content) {
			t.Errorf("the content of %s is in loglet's own log", path)
		}
	}
	for _, r := range flRecords(t, sc) {
		if r.Log.File != "ok.log" {
			t.Errorf("record from %s: %s", r.Log.File, r.raw)
		}
	}
	msg := flPoll(flWait, func() string {
		sym, special := sc.Metric("loglet_files_skipped_total", `reason="symlink"`), sc.Metric("loglet_files_skipped_total", `reason="not_regular"`)
		if sym >= 3 && special >= 1 {
			return ""
		}
		return fmt.Sprintf(`loglet_files_skipped_total{reason="symlink"} = %v (want >= 3), {reason="not_regular"} = %v (want >= 1)`, sym, special)
	}, sc)
	if msg != "" {
		t.Error(msg)
	}
	for _, name := range []string{"evil.log", "evil2.log", "evil3.log", "fifo.log"} {
		n := 0
		for line := range strings.Lines(logs) {
			if strings.Contains(line, name) {
				n++
			}
		}
		if n > 1 {
			t.Errorf("%s named in %d lines of loglet's log, want at most 1 (log a skip once)", name, n)
		}
	}
}

// TestFileLayerProcfsSymlinkDoesNotSpin: a link to a procfs
// file (stat size 0, content on read) is neither shipped nor taken for a
// file truncated on every pass. Not parallel: today it takes the CPU.
func TestFileLayerProcfsSymlinkDoesNotSpin(t *testing.T) {
	d := newFLDirs(t)
	if err := os.Symlink("/proc/self/status", filepath.Join(d.logDir, "st.log")); err != nil {
		t.Fatal(err)
	}
	flAppend(t, filepath.Join(d.logDir, "ok.log"), flLines(0, 9, "ok"))
	sc := d.start(t, "web-1", nil)
	if msg := flWaitSeqs(t, 0, 9, []string{"ok.log"}, sc); msg != "" {
		t.Errorf("ok.log: %s", msg)
	}
	time.Sleep(3 * time.Second)
	truncations := sc.Metric("loglet_truncations_total")
	sc.Kill() // stop the output growing before counting it

	f, err := os.Open(sc.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	total, fromProc := 0, 0
	br := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			total++
			if bytes.Contains(line, []byte(`"file":"st.log"`)) {
				fromProc++
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			break
		}
	}
	if total >= 100 || fromProc > 0 {
		t.Errorf("%d records in 3 s, %d of them from st.log -> /proc/self/status; want 10 from ok.log and none from st.log", total, fromProc)
	}
	if truncations >= 10 {
		t.Errorf("loglet_truncations_total = %v after 3 s, want < 10", truncations)
	}
}

// TestFileLayerInodeReuseBanner: a file deleted and re-created
// on the same inode with the same first line (a banner) is a new file, read
// from 0, whose every line is shipped, also across a clean restart. While
// the sidecar runs it holds the descriptor of every file it tracks, so the
// inode cannot be reused under it; the reuse is forced while it is stopped,
// which is where the fingerprint must tell the files apart (the old
// fingerprint covered only the banner, read before the other lines came).
// Not parallel (nor 3b): another test creating files could take the freed
// inode.
func TestFileLayerInodeReuseBanner(t *testing.T) {
	d := newFLDirs(t)
	a := filepath.Join(d.logDir, "a.log")
	const banner = `{"msg":"banner"}` + "\n"
	flAppend(t, a, banner)
	sc := d.start(t, "web-1", nil)
	msg := flPoll(flWait, func() string {
		for _, r := range flRecords(t, sc) {
			if r.Log.File == "a.log" && r.Msg == "banner" {
				return ""
			}
		}
		return "the banner of a.log was not shipped"
	}, sc)
	if msg != "" {
		t.Fatal(msg)
	}
	flAppend(t, a, flLines(1, 49, "first life"))
	if msg := flWaitSeqs(t, 1, 49, []string{"a.log"}, sc); msg != "" {
		t.Fatalf("a.log before its deletion: %s", msg)
	}
	if code, err := sc.Stop(30 * time.Second); err != nil || code != 0 {
		t.Fatalf("SIGTERM: exit %d, %v", code, err)
	}
	flRecreateSameInode(t, a, banner+flLines(1000, 1149, "second life"))
	sc2 := d.start(t, "web-1", nil)
	if msg := flWaitSeqs(t, 1000, 1149, []string{"a.log"}, sc2); msg != "" {
		t.Errorf("a.log re-created on the same inode with the same banner: %s", msg)
	}

	// And while it runs: deleted and re-created, every line is shipped.
	os.Remove(a)
	flAppend(t, a, banner+flLines(3000, 3149, "third life"))
	if msg := flWaitSeqs(t, 3000, 3149, []string{"a.log"}, sc2); msg != "" {
		t.Errorf("a.log re-created while the sidecar runs: %s", msg)
	}
	if code, err := sc2.Stop(30 * time.Second); err != nil || code != 0 {
		t.Fatalf("SIGTERM: exit %d, %v", code, err)
	}
	sc3 := d.start(t, "web-1", nil)
	if msg := flWaitSeqs(t, 3000, 3149, []string{"a.log"}, sc2, sc3); msg != "" {
		t.Errorf("after a clean restart: %s", msg)
	}
}

// flSameWidth returns 100 lines seq lo..lo+99, each exactly 30 bytes long:
// {"seq":<s>,"pad":"<x...>"} is 18 bytes with the newline, plus s and pad.
func flSameWidth(lo int) string {
	var b strings.Builder
	for s := lo; s < lo+100; s++ {
		n := len(strconv.Itoa(s))
		fmt.Fprintf(&b, `{"seq":%d,"pad":"%s"}`+"\n", s, strings.Repeat("x", 30-18-n))
	}
	return b.String()
}

// TestFileLayerInodeReuseSameSize: a file replaced on the same
// inode by different content of exactly the same size, behind the same first
// kilobyte (a long banner), is read again. The reuse is forced while the
// sidecar is stopped (see 3a); while it runs, a replacement is shipped too.
func TestFileLayerInodeReuseSameSize(t *testing.T) {
	d := newFLDirs(t)
	b := filepath.Join(d.logDir, "b.log")
	head := strings.Repeat(`{"msg":"a long banner line"}`+"\n", 40) // 1.1 KiB: more than the head fingerprint
	first, second := head+flSameWidth(0), head+flSameWidth(500)
	if len(first) != len(second) {
		t.Fatalf("test data: sizes %d and %d differ", len(first), len(second))
	}
	flAppend(t, b, first)
	sc := d.start(t, "web-1", nil)
	if msg := flWaitSeqs(t, 0, 99, []string{"b.log"}, sc); msg != "" {
		t.Fatalf("b.log before its replacement: %s", msg)
	}
	if code, err := sc.Stop(30 * time.Second); err != nil || code != 0 {
		t.Fatalf("SIGTERM: exit %d, %v", code, err)
	}
	flRecreateSameInode(t, b, second)
	sc2 := d.start(t, "web-1", nil)
	if msg := flWaitSeqs(t, 500, 599, []string{"b.log"}, sc2); msg != "" {
		t.Errorf("b.log replaced on the same inode by content of the same size: %s", msg)
	}

	os.Remove(b)
	flAppend(t, b, head+flSameWidth(700))
	if msg := flWaitSeqs(t, 700, 799, []string{"b.log"}, sc2); msg != "" {
		t.Errorf("b.log replaced while the sidecar runs: %s", msg)
	}
}

// TestFileLayerInodeReuseChurn: short-lived files, created
// and deleted while the sidecar runs (ext4 handing each freed inode to the
// next), are all shipped and never taken for renames of each other.
func TestFileLayerInodeReuseChurn(t *testing.T) {
	t.Parallel()
	d := newFLDirs(t)
	sc := d.start(t, "web-1", nil)

	const files, perFile = 300, 5
	var wg sync.WaitGroup
	for n := range files {
		path := filepath.Join(d.logDir, fmt.Sprintf("churn-%d.log", n))
		var b strings.Builder
		for i := range perFile {
			fmt.Fprintf(&b, `{"seq":%d,"msg":"churn","file":%d}`+"\n", n*perFile+i, n)
		}
		text := b.String()
		half := len(text) / 2
		half = strings.IndexByte(text[half:], '\n') + half + 1
		flAppend(t, path, text[:half]) // two writes, each of whole lines
		flAppend(t, path, text[half:])
		life := time.Duration(20+rand.IntN(481)) * time.Millisecond
		wg.Go(func() {
			time.Sleep(life)
			os.Remove(path)
		})
		time.Sleep(10 * time.Millisecond) // about 25 files alive at once
	}
	wg.Wait()

	if msg := flWaitSeqs(t, 0, files*perFile-1, nil, sc); msg != "" {
		t.Errorf("%d short-lived files of %d lines: %s", files, perFile, msg)
	}
	renames := 0
	for line := range strings.Lines(sc.Output()) {
		var e struct{ Msg, From, To string }
		if json.Unmarshal([]byte(line), &e) != nil || e.Msg != "log file renamed" {
			continue
		}
		if strings.HasPrefix(e.From, "churn-") && strings.HasPrefix(e.To, "churn-") && e.From != e.To {
			renames++
		}
	}
	if renames > 0 {
		t.Errorf(`%d "log file renamed" events from one churn file to another; none was renamed`, renames)
	}
}
