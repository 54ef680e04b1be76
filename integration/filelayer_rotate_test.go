package integration_test

// The rest of the file layer, end to end: copytruncate by logrotate,
// truncation and refill, deleting shipped rotations, fairness between
// files, the exact {pod} match, a partial line across a restart, an
// unusable state directory with LOGLET_START_AT_END, and failed checkpoint
// saves on /readyz. The helpers are in filelayer_test.go.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestFileLayerCopyTruncateLogrotate: logrotate's copytruncate
// (cp p.log p.log.N; truncate p.log, with no write in between) ships every
// line exactly once.
func TestFileLayerCopyTruncateLogrotate(t *testing.T) {
	t.Parallel()
	d := newFLDirs(t)
	p := filepath.Join(d.logDir, "p.log")
	sc := d.start(t, "p", nil)

	const total, every = 20000, 2000
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for seq := range total {
		if _, err := fmt.Fprintf(f, `{"seq":%d,"msg":"copytruncate"}`+"\n", seq); err != nil {
			t.Fatal(err)
		}
		if seq%100 == 99 {
			time.Sleep(2 * time.Millisecond) // let the sidecar read along
		}
		if (seq+1)%every == 0 {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(fmt.Sprintf("%s.%d", p, (seq+1)/every), data, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(0); err != nil {
				t.Fatal(err)
			}
		}
	}
	if msg := flWaitSeqs(t, 0, total-1, nil, sc); msg != "" {
		t.Errorf("copytruncate every %d lines: %s", every, msg)
	}
	time.Sleep(3 * time.Second) // for late duplicates: several polls and LOGLET_ROTATE_WAIT
	seen := flSeqs(flRecords(t, sc))
	dups, dupFirst := 0, []int(nil)
	for seq := range total {
		if seen[seq] > 1 {
			dups += seen[seq] - 1
			if len(dupFirst) < 10 {
				dupFirst = append(dupFirst, seq)
			}
		}
	}
	if dups > 0 {
		t.Errorf("%d duplicate records for %d lines and %d copytruncates (first duplicated seqs: %v)", dups, total, total/every, dupFirst)
	}
}

// TestFileLayerTruncateAndRefill: a truncation followed by a
// refill past the old offset while the reader waits is still a truncation:
// the new content is read from 0, and no fragment becomes a record.
func TestFileLayerTruncateAndRefill(t *testing.T) {
	t.Parallel()
	d := newFLDirs(t)
	r := filepath.Join(d.logDir, "r.log")
	flAppend(t, r, flLines(0, 99, "old"))
	sc := d.start(t, "r", map[string]string{"LOGLET_POLL_INTERVAL": "2s"})
	if msg := flWaitSeqs(t, 0, 99, []string{"r.log"}, sc); msg != "" {
		t.Fatalf("r.log before the truncation: %s", msg)
	}
	time.Sleep(2500 * time.Millisecond) // the reader is in its longest idle wait
	const newMsg = "a new line, longer than any line of the old content"
	refill := flLines(1000, 1199, newMsg)
	if old := len(flLines(0, 99, "old")); len(refill) <= old {
		t.Fatalf("test data: the refill (%d bytes) must end past the old end (%d)", len(refill), old)
	}
	if err := os.WriteFile(r, []byte(refill), 0o644); err != nil { // O_TRUNC, then one write
		t.Fatal(err)
	}
	if msg := flWaitSeqs(t, 1000, 1199, []string{"r.log"}, sc); msg != "" {
		t.Errorf("r.log truncated and refilled: %s", msg)
	}
	for _, rec := range flRecords(t, sc) {
		if _, ok := rec.seq(); !ok || rec.ParseError != "" || (rec.Msg != "old" && rec.Msg != newMsg) {
			t.Errorf("a fragment shipped as a record: %s", rec.raw)
		}
	}
	if n := sc.Metric("loglet_truncations_total"); n < 1 {
		t.Errorf("loglet_truncations_total = %v, want >= 1", n)
	}
}

// TestFileLayerDeleteShippedDotN: LOGLET_DELETE_SHIPPED removes
// logrotate's web-1.log.N once shipped, and keeps the active file.
func TestFileLayerDeleteShippedDotN(t *testing.T) {
	t.Parallel()
	d := newFLDirs(t)
	sc := d.start(t, "web-1", map[string]string{"LOGLET_DELETE_SHIPPED": "true"})
	active := filepath.Join(d.logDir, "web-1.log")
	const rotations, per = 6, 100
	for n := 1; n <= rotations; n++ {
		flAppend(t, active, flLines((n-1)*per, n*per-1, "rotated by rename"))
		time.Sleep(200 * time.Millisecond)
		if err := os.Rename(active, fmt.Sprintf("%s.%d", active, n)); err != nil {
			t.Fatal(err)
		}
	}
	flAppend(t, active, flLines(rotations*per, (rotations+1)*per-1, "active"))
	if msg := flWaitSeqs(t, 0, (rotations+1)*per-1, nil, sc); msg != "" {
		t.Errorf("%d rotations by rename: %s", rotations, msg)
	}
	rotated := regexp.MustCompile(`^web-1\.log\.\d+$`)
	msg := flPoll(flWait, func() string {
		entries, err := os.ReadDir(d.logDir)
		if err != nil {
			return err.Error()
		}
		var left []string
		for _, e := range entries {
			if rotated.MatchString(e.Name()) {
				left = append(left, e.Name())
			}
		}
		if len(left) == 0 {
			return ""
		}
		return fmt.Sprintf("%d of %d shipped rotations still on the volume: %v", len(left), rotations, left)
	}, sc)
	if msg != "" {
		t.Error(msg)
	}
	if _, err := os.Stat(active); err != nil {
		t.Errorf("the active file: %v", err)
	}
	if n := sc.Metric("loglet_files_deleted_total"); n < rotations {
		t.Errorf("loglet_files_deleted_total = %v, want >= %d", n, rotations)
	}
}

// TestFileLayerFairGrowingFiles: with LOGLET_MAX_OPEN_FILES=4
// and five files that never stop growing, every one of them is shipped.
func TestFileLayerFairGrowingFiles(t *testing.T) {
	t.Parallel()
	d := newFLDirs(t)
	sc := d.start(t, "web-1", map[string]string{"LOGLET_MAX_OPEN_FILES": "4"})
	names := []string{"f1.log", "f2.log", "f3.log", "f4.log", "f5.log"}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for seq := 0; ; seq++ {
			for _, name := range names {
				f, err := os.OpenFile(filepath.Join(d.logDir, name), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
				if err != nil {
					return
				}
				fmt.Fprintf(f, `{"seq":%d,"msg":"growing"}`+"\n", seq)
				f.Close()
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			}
		}
	})
	msg := flPoll(20*time.Second, func() string {
		per := map[string]int{}
		for _, r := range flRecords(t, sc) {
			per[r.Log.File]++
		}
		var starved []string
		for _, name := range names {
			if per[name] == 0 {
				starved = append(starved, name)
			}
		}
		if len(starved) == 0 {
			return ""
		}
		return fmt.Sprintf("records by file %v: %v got none", per, starved)
	}, sc)
	if msg != "" {
		t.Errorf("LOGLET_MAX_OPEN_FILES=4, 5 growing files: %s", msg)
	}
}

// TestFileLayerFairManySmallFiles: 500 small files with
// LOGLET_MAX_OPEN_FILES=4 and LOGLET_ROTATE_WAIT=5s do not each keep a slot
// for the rotate wait after their end.
func TestFileLayerFairManySmallFiles(t *testing.T) {
	t.Parallel()
	d := newFLDirs(t)
	const files = 500
	for n := range files {
		flAppend(t, filepath.Join(d.logDir, fmt.Sprintf("s-%03d.log", n)), flLines(3*n, 3*n+2, "small"))
	}
	sc := d.start(t, "web-1", map[string]string{"LOGLET_MAX_OPEN_FILES": "4", "LOGLET_ROTATE_WAIT": "5s"})
	if msg := flWaitSeqs(t, 0, 3*files-1, nil, sc); msg != "" {
		t.Errorf("%d files of 3 lines, 4 open at a time: %s", files, msg)
	}
}

// TestFileLayerPodMatchIsExact: on a shared hostPath with
// LOGLET_INCLUDE={pod}*.log, pod web-1 ships its own file and rotations and
// nothing of pod web-12.
func TestFileLayerPodMatchIsExact(t *testing.T) {
	t.Parallel()
	d := newFLDirs(t)
	ours := []string{"web-1.log", "web-1-20261121T000000.000000000Z.log", "web-1.log.1"}
	theirs := []string{"web-12.log", "web-12-20261121T000000.000000000Z.log"}
	for i, name := range append(append([]string{}, ours...), theirs...) {
		flAppend(t, filepath.Join(d.logDir, name), flLines(100*i, 100*i+9, name))
	}
	sc := d.start(t, "web-1", map[string]string{"LOGLET_INCLUDE": "{pod}*.log", "LOGLET_ACTIVE_FILE": "{pod}.log"})
	for i, name := range ours {
		if msg := flWaitSeqs(t, 100*i, 100*i+9, []string{name}, sc); msg != "" {
			t.Errorf("web-1's own %s: %s", name, msg)
		}
	}
	time.Sleep(2 * time.Second) // several polls and rescans
	for _, r := range flRecords(t, sc) {
		if strings.HasPrefix(r.Log.File, "web-12") || strings.HasPrefix(r.Msg, "web-12") {
			t.Errorf("pod web-1 shipped a record of pod web-12: %s", r.raw)
		}
	}
}

// TestFileLayerPartialLineAcrossRestart: a line the app is
// still writing when only the sidecar restarts is shipped once, whole.
func TestFileLayerPartialLineAcrossRestart(t *testing.T) {
	t.Parallel()
	d := newFLDirs(t)
	active := filepath.Join(d.logDir, "web-1.log")
	flAppend(t, active, `{"seq":0,"msg":"before"}`+"\n"+`{"seq":1,"msg":"hel`)
	sc := d.start(t, "web-1", nil)
	if msg := flWaitSeqs(t, 0, 0, nil, sc); msg != "" {
		t.Fatalf("the first line: %s", msg)
	}
	time.Sleep(time.Second) // the partial line has been read and is held
	if code, err := sc.Stop(30 * time.Second); err != nil || code != 0 {
		t.Fatalf("SIGTERM: exit %d, %v", code, err)
	}
	flAppend(t, active, `lo"}`+"\n"+`{"seq":2,"msg":"after"}`+"\n")
	sc2 := d.start(t, "web-1", nil)
	if msg := flWaitSeqs(t, 2, 2, nil, sc, sc2); msg != "" {
		t.Fatalf("the line after the restart: %s", msg)
	}
	time.Sleep(time.Second)
	hello := 0
	for _, r := range flRecords(t, sc, sc2) {
		s, ok := r.seq()
		switch {
		case !ok || r.ParseError != "":
			t.Errorf("a fragment shipped as a record: %s", r.raw)
		case s == 1 && r.Msg == "hello":
			hello++
		case s == 1:
			t.Errorf("seq 1 with msg %q: %s", r.Msg, r.raw)
		}
	}
	if hello != 1 {
		t.Errorf(`%d records {"seq":1,"msg":"hello"}, want exactly 1`, hello)
	}
}

// TestFileLayerStartAtEndUnusableState: with
// LOGLET_START_AT=end, an unusable state file (damaged, or of a future
// version) means "read from the beginning", and that is logged.
func TestFileLayerStartAtEndUnusableState(t *testing.T) {
	t.Parallel()
	for name, state := range map[string]string{
		"garbage":        "\x00{not json at all",
		"future version": `{"version":99,"files":[]}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := newFLDirs(t)
			flAppend(t, filepath.Join(d.logDir, "x.log"), flLines(0, 4999, "written while the sidecar was down"))
			stateDir := filepath.Join(d.logDir, ".loglet")
			if err := os.MkdirAll(stateDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(stateDir, "checkpoints.json"), []byte(state), 0o644); err != nil {
				t.Fatal(err)
			}
			sc := d.start(t, "web-1", map[string]string{"LOGLET_START_AT": "end"})
			if msg := flWaitSeqs(t, 0, 4999, []string{"x.log"}, sc); msg != "" {
				t.Errorf("START_AT=end with an unusable state file: %s", msg)
			}
			logged := false
			for line := range strings.Lines(sc.Output()) {
				var e struct{ Msg string }
				if json.Unmarshal([]byte(line), &e) != nil {
					continue
				}
				m := strings.ToLower(e.Msg)
				if strings.Contains(m, "checkpoint") && (strings.Contains(m, "beginning") || strings.Contains(m, "from the start")) {
					logged = true
				}
			}
			if !logged {
				t.Errorf(`no log message says the unusable checkpoint state means reading from the beginning (want a "msg" naming "checkpoint" and "beginning" or "from the start")`)
			}
		})
	}
}

// TestFileLayerReadyzReportsFailedSaves: when checkpoints
// cannot be saved (here the state file's path is a directory), /readyz says
// so and the failures are counted.
func TestFileLayerReadyzReportsFailedSaves(t *testing.T) {
	t.Parallel()
	d := newFLDirs(t)
	stateDir := filepath.Join(d.root, "state")
	if err := os.MkdirAll(filepath.Join(stateDir, "checkpoints.json", "in-the-way"), 0o755); err != nil {
		t.Fatal(err)
	}
	active := filepath.Join(d.logDir, "web-1.log")
	flAppend(t, active, flLines(0, 9, "before"))
	sc := d.start(t, "web-1", map[string]string{"LOGLET_STATE_DIR": stateDir})
	flAppend(t, active, flLines(10, 19, "after"))
	if msg := flWaitSeqs(t, 0, 19, nil, sc); msg != "" {
		t.Errorf("lines: %s", msg)
	}
	msg := flPoll(flWait, func() string {
		code, body := sc.Get("/readyz")
		if code != 200 && code != 0 && strings.Contains(strings.ToLower(body), "checkpoint") {
			return ""
		}
		return fmt.Sprintf("/readyz answers %d %q while no checkpoint can be saved; want a non-200 status naming the checkpoints", code, strings.TrimSpace(body))
	}, sc)
	if msg != "" {
		t.Error(msg)
	}
	if n := sc.Metric("loglet_checkpoint_errors_total"); n <= 0 {
		t.Errorf("loglet_checkpoint_errors_total = %v, want > 0", n)
	}
}
