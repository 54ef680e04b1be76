package applib

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeClock is a clock the test moves; Output reads it under its lock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 11, 21, 19, 45, 0, 0, time.UTC)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Microsecond) // rotated names stay distinct
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// ack is one checkpoint the sidecar would save: the file acknowledged up
// to unacked bytes before its end (0: fully shipped).
type ack struct {
	name    string
	unacked int64
}

// writeState writes loglet's checkpoint state in stateDir as the sidecar
// saves it (format version 1: device, inode, the FNV-1a hash of the first
// up to 1024 bytes, the acknowledged offset and the file's name), for the
// files of dir listed in acks.
func writeState(t *testing.T, dir, stateDir string, acks ...ack) {
	t.Helper()
	type entry struct {
		ID     string `json:"id"`
		Dev    uint64 `json:"dev"`
		Ino    uint64 `json:"ino"`
		FPLen  int    `json:"fp_len"`
		FP     string `json:"fp"`
		Offset int64  `json:"offset"`
		Path   string `json:"path"`
	}
	files := []entry{}
	for _, a := range acks {
		data, err := os.ReadFile(filepath.Join(dir, a.name))
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(filepath.Join(dir, a.name))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		head := data[:min(len(data), 1024)]
		h := fnv.New64a()
		h.Write(head)
		fp := fmt.Sprintf("%016x", h.Sum64())
		off := int64(len(data)) - a.unacked
		files = append(files, entry{
			ID: fmt.Sprintf("%d:%d:%s", st.Dev, st.Ino, fp), Dev: uint64(st.Dev), Ino: st.Ino,
			FPLen: len(head), FP: fp, Offset: off, Path: a.name,
		})
	}
	data, err := json.Marshal(map[string]any{"version": 1, "files": files})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(stateDir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stateDir, "checkpoints.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// rotatedNames lists pod's rotated files in dir, oldest first.
func rotatedNames(t *testing.T, dir, pod string) []string {
	t.Helper()
	var names []string
	for _, name := range listDir(t, dir) {
		if isRotated(pod, name) {
			names = append(names, name)
		}
	}
	return names
}

// readSeqs returns the seq field of every record of pod's files, oldest
// file first, and the records that have no seq (applib's own).
func readSeqs(t *testing.T, dir, pod string) (seqs []int, other []map[string]any) {
	t.Helper()
	for _, name := range append(rotatedNames(t, dir, pod), pod+".log") {
		for _, l := range readLines(t, filepath.Join(dir, name)) {
			var r map[string]any
			if err := json.Unmarshal([]byte(l), &r); err != nil {
				t.Fatalf("%s: %q: %v", name, l, err)
			}
			if s, ok := r["seq"].(float64); ok {
				seqs = append(seqs, int(s))
			} else {
				other = append(other, r)
			}
		}
	}
	return seqs, other
}

// counterPad makes a record about the size of examples/counter's.
var counterPad = strings.Repeat("o", 60)

// TestMaxFilesNeverDeletesUnshipped: the sidecar runs (its state directory exists) but acknowledges nothing, as
// when Kafka is down, and the app writes 20,000 records with
// LOGLET_MAX_FILE_BYTES=1048576 and LOGLET_MAX_FILES=1. applib used to
// delete the oldest rotated files regardless (11,921 records gone, no log
// line, no metric); now every rotated file is kept, so the records on disk
// are the oldest ones without a gap, beginning with the first.
func TestMaxFilesNeverDeletesUnshipped(t *testing.T) {
	dir := t.TempDir()
	writeState(t, dir, filepath.Join(dir, ".loglet")) // running, nothing acknowledged
	out := openTemp(t, Config{Dir: dir, Pod: "web-1", MaxFileBytes: 1048576, MaxFiles: 1, Stderr: io.Discard})
	log := New(out)
	const n = 20000
	for i := range n {
		log.WithField("seq", i).WithField("text_sample", counterPad).Info("sample log")
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	seqs, _ := readSeqs(t, dir, "web-1")
	if len(seqs) == 0 || seqs[0] != 0 {
		first := -1
		if len(seqs) > 0 {
			first = seqs[0]
		}
		t.Fatalf("the oldest records were deleted unshipped: %d of %d records on disk, the first is seq %d", len(seqs), n, first)
	}
	for i, s := range seqs {
		if s != i {
			t.Fatalf("record %d on disk is seq %d: a gap, so a file was deleted", i, s)
		}
	}
	if got := rotatedNames(t, dir, "web-1"); len(got) != 1 {
		t.Errorf("rotated files %q, want 1 (LOGLET_MAX_FILES)", got)
	}
}

// TestDroppedRecordsAreCounted continues the finding: the records that
// did not fit are counted and reported on Stderr at a limited rate, and
// once loglet has shipped the rotated file, the next rotation deletes it
// and the log gets one record saying how many were dropped, and when.
func TestDroppedRecordsAreCounted(t *testing.T) {
	dir := t.TempDir()
	stateDir := filepath.Join(dir, ".loglet")
	writeState(t, dir, stateDir)
	var stderr bytes.Buffer
	clock := newClock()
	out := openTemp(t, Config{Dir: dir, Pod: "web-1", MaxFileBytes: 1048576, MaxFiles: 1, Stderr: &stderr})
	out.now = clock.now
	log := New(out)
	const n = 20000
	for i := range n {
		log.WithField("seq", i).WithField("text_sample", counterPad).Info("sample log")
		if i%1000 == 0 {
			clock.advance(time.Second)
		}
	}
	seqs, _ := readSeqs(t, dir, "web-1")
	st := out.Stats()
	if st.DroppedRecords == 0 || int(st.DroppedRecords)+len(seqs) != n {
		t.Fatalf("%d records on disk and %d dropped, want %d in all, some dropped", len(seqs), st.DroppedRecords, n)
	}
	if st.DeletedUnshippedFiles != 0 {
		t.Errorf("Stats() = %+v: files deleted unshipped", st)
	}
	// The drops span about 12 s of the clock: one report at once, then at
	// most one every 10 s.
	if reports := strings.Count(stderr.String(), "applib: dropped "); reports < 1 || reports > 3 {
		t.Errorf("%d drop reports on stderr, want 1 to 3:\n%s", reports, stderr.String())
	}
	if !strings.Contains(stderr.String(), "bytes 0-") || !strings.Contains(stderr.String(), "not acknowledged") {
		t.Errorf("stderr does not name the file and range waiting for loglet:\n%s", stderr.String())
	}

	// loglet ships the rotated file.
	rotated := rotatedNames(t, dir, "web-1")
	writeState(t, dir, stateDir, ack{rotated[0], 0})
	clock.advance(2 * time.Second)
	log.WithField("seq", n).WithField("text_sample", counterPad).Info("sample log")
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if got := rotatedNames(t, dir, "web-1"); len(got) != 1 || got[0] == rotated[0] {
		t.Errorf("rotated files %q: the shipped %s should have made room", got, rotated[0])
	}
	active := readLines(t, filepath.Join(dir, "web-1.log"))
	if len(active) != 2 {
		t.Fatalf("active file holds %d records, want the report and seq %d: %q", len(active), n, active)
	}
	var rep struct {
		Level, Msg     string
		DroppedRecords int64     `json:"dropped_records"`
		DroppedBytes   int64     `json:"dropped_bytes"`
		DroppedFrom    time.Time `json:"dropped_from"`
		DroppedUntil   time.Time `json:"dropped_until"`
		Reason         string
		Seq            *int
	}
	if err := json.Unmarshal([]byte(active[0]), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Level != "error" || rep.DroppedRecords != st.DroppedRecords || rep.DroppedBytes != st.DroppedBytes ||
		rep.Seq != nil || !strings.Contains(rep.Reason, "LOGLET_MAX_FILES") || !rep.DroppedFrom.Before(rep.DroppedUntil) {
		t.Errorf("report record %s; want level error, %d records, %d bytes, a time range and the reason", active[0], st.DroppedRecords, st.DroppedBytes)
	}
	if !strings.Contains(active[1], fmt.Sprintf(`"seq":%d`, n)) {
		t.Errorf("second record %s, want seq %d", active[1], n)
	}
	if !strings.Contains(stderr.String(), "applib: writing to ") {
		t.Errorf("stderr does not say writing resumed:\n%s", stderr.String())
	}
}

// TestMaxFilesDeletesOnlyShipped fills MaxFiles (3) rotated files with
// nothing acknowledged, then lets the state acknowledge the first and the
// third fully and the second all but its last byte: the next rotations
// delete exactly the first and the third, and the one after finds no
// shipped file and drops.
func TestMaxFilesDeletesOnlyShipped(t *testing.T) {
	dir := t.TempDir()
	stateDir := filepath.Join(dir, ".loglet")
	writeState(t, dir, stateDir)
	var stderr bytes.Buffer
	clock := newClock()
	out := openTemp(t, Config{Dir: dir, Pod: "web", MaxFileBytes: 1000, MaxFiles: 3, Stderr: &stderr})
	out.now = clock.now
	log := New(out)
	seq := 0
	// writeUntilDrop logs until a record is dropped and returns how many
	// were written.
	writeUntilDrop := func() int {
		t.Helper()
		before := out.Stats().DroppedRecords
		for i := 0; ; i++ {
			if i > 1000 {
				t.Fatal("no record dropped")
			}
			log.WithField("seq", seq).Info("r")
			seq++
			if out.Stats().DroppedRecords > before {
				return i
			}
		}
	}
	writeUntilDrop()
	first := rotatedNames(t, dir, "web")
	if len(first) != 3 {
		t.Fatalf("rotated files %q, want 3", first)
	}
	kept, err := os.ReadFile(filepath.Join(dir, first[1]))
	if err != nil {
		t.Fatal(err)
	}
	writeState(t, dir, stateDir, ack{first[0], 0}, ack{first[1], 1}, ack{first[2], 0})
	clock.advance(2 * time.Second)
	if written := writeUntilDrop(); written == 0 {
		t.Fatal("nothing written after two rotated files were shipped")
	}
	got := rotatedNames(t, dir, "web")
	if len(got) != 3 || got[0] != first[1] || slices.Contains(first, got[1]) || slices.Contains(first, got[2]) {
		t.Errorf("rotated files %q; want %s kept and two new ones: exactly %s and %s deleted", got, first[1], first[0], first[2])
	}
	if b, err := os.ReadFile(filepath.Join(dir, first[1])); err != nil || !bytes.Equal(b, kept) {
		t.Errorf("%s changed: %v", first[1], err)
	}
	_, reports := readSeqs(t, dir, "web")
	if len(reports) != 1 || reports[0]["dropped_records"] != float64(1) {
		t.Errorf("applib's own records %v, want one reporting one dropped record", reports)
	}
	if st := out.Stats(); st.DroppedRecords != 2 || st.DeletedUnshippedFiles != 0 {
		t.Errorf("Stats() = %+v, want 2 dropped, nothing deleted unshipped", st)
	}
}

// TestOpenDeletesOnlyShipped: the files a previous run of the container
// rotated are pruned at Open by the same rule.
func TestOpenDeletesOnlyShipped(t *testing.T) {
	dir := t.TempDir()
	names := []string{
		"web-1-20260101T000000.000000000Z.log", "web-1-20260102T000000.000000000Z.log",
		"web-1-20260103T000000.000000000Z.log", "web-1-20260104T000000.000000000Z.log",
	}
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(`{"msg":"`+name+`"}`+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeState(t, dir, filepath.Join(dir, ".loglet"), ack{names[1], 0}, ack{names[2], 0}, ack{names[0], 1})
	openTemp(t, Config{Dir: dir, Pod: "web-1", MaxFiles: 1})
	want := []string{names[0], names[3]} // the first waits for loglet; the newest is kept
	if diff := cmp.Diff(want, rotatedNames(t, dir, "web-1")); diff != "" {
		t.Errorf("rotated files mismatch (-want +got):\n%s", diff)
	}
}

// TestUnusableStateKeepsFiles: a state file that cannot be used (a future
// version here) means nothing is known to be shipped, so nothing is deleted.
func TestUnusableStateKeepsFiles(t *testing.T) {
	dir := t.TempDir()
	names := []string{"web-1-20260101T000000.000000000Z.log", "web-1-20260102T000000.000000000Z.log"}
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stateDir := filepath.Join(t.TempDir(), "state")
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stateDir, "checkpoints.json"), []byte(`{"version":9,"files":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	out := openTemp(t, Config{Dir: dir, Pod: "web-1", MaxFiles: 1, MaxFileBytes: 10, StateDir: stateDir, Stderr: &stderr})
	if diff := cmp.Diff(names, rotatedNames(t, dir, "web-1")); diff != "" {
		t.Errorf("rotated files mismatch (-want +got):\n%s", diff)
	}
	out.Write([]byte(`{"msg":"fits"}` + "\n"))
	out.Write([]byte(`{"msg":"needs a rotation"}` + "\n"))
	if st := out.Stats(); st.DroppedRecords != 1 {
		t.Errorf("Stats() = %+v, want the record needing a rotation dropped", st)
	}
	if !strings.Contains(stderr.String(), "version 9") {
		t.Errorf("stderr does not say why:\n%s", stderr.String())
	}
}

// fsizeEnv makes the test binary run TestWriteFailureDrops itself, in a
// process of its own whose file size limit (RLIMIT_FSIZE) it may lower.
const fsizeEnv = "APPLIB_TEST_FSIZE"

// TestWriteFailureDrops makes the kernel refuse writes, as a full volume
// does (here with EFBIG from a file size limit, in a child process: the
// same path as ENOSPC, part-written records included): Write neither fails
// nor blocks, each record is counted as dropped, the part written is taken
// back, and once writes work again one record reports the loss before the
// next record.
func TestWriteFailureDrops(t *testing.T) {
	if os.Getenv(fsizeEnv) == "" {
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(t.Context(), exe, "-test.run=^TestWriteFailureDrops$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), fsizeEnv+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("--- PASS: TestWriteFailureDrops")) {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}

	dir := t.TempDir()
	var stderr bytes.Buffer
	clock := newClock()
	out := openTemp(t, Config{Dir: dir, Pod: "web-1", Stderr: &stderr})
	out.now = clock.now
	rec := func(i int) []byte { return fmt.Appendf(nil, `{"msg":"r","seq":%d,"pad":%q}`+"\n", i, counterPad) }
	if _, err := out.Write(rec(0)); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(out.Path())
	if err != nil {
		t.Fatal(err)
	}
	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &orig); err != nil {
		t.Fatal(err)
	}
	low := orig
	low.Cur = uint64(fi.Size()) + 10 // the next record gets 10 bytes in
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &low); err != nil {
		t.Fatal(err)
	}
	const dropped = 5
	var wantBytes int64
	for i := 1; i <= dropped; i++ {
		r := rec(i)
		wantBytes += int64(len(r))
		if n, err := out.Write(r); n != len(r) || err != nil {
			t.Errorf("Write() = %d, %v; want %d, nil: a dropped record is not the caller's error", n, err, len(r))
		}
	}
	if fi2, err := os.Stat(out.Path()); err != nil || fi2.Size() != fi.Size() {
		t.Errorf("file is %d bytes after the failed writes, want %d: the part-written record stays (%v)", fi2.Size(), fi.Size(), err)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &orig); err != nil {
		t.Fatal(err)
	}
	if st := out.Stats(); st.DroppedRecords != dropped || st.DroppedBytes != wantBytes {
		t.Errorf("Stats() = %+v, want %d records, %d bytes dropped", st, dropped, wantBytes)
	}
	clock.advance(time.Minute)
	if _, err := out.Write(rec(6)); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, out.Path())
	if len(lines) != 3 || !strings.Contains(lines[0], `"seq":0,`) || !strings.Contains(lines[2], `"seq":6,`) {
		t.Fatalf("file holds %q; want seq 0, the report, seq 6", lines)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &rep); err != nil {
		t.Fatal(err)
	}
	if rep["dropped_records"] != float64(dropped) || rep["dropped_bytes"] != float64(wantBytes) ||
		!strings.Contains(rep["reason"].(string), syscall.EFBIG.Error()) {
		t.Errorf("report %s; want %d records, %d bytes, reason %q", lines[1], dropped, wantBytes, syscall.EFBIG.Error())
	}
	if got := strings.Count(stderr.String(), "applib: dropped "); got != 1 {
		t.Errorf("%d drop reports on stderr within 10 s, want 1:\n%s", got, stderr.String())
	}
	if !strings.Contains(stderr.String(), "applib: writing to ") {
		t.Errorf("stderr does not say writing resumed:\n%s", stderr.String())
	}
}
