package pipeline

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/loglet/loglet/sidecar/internal/sink"
	"github.com/loglet/loglet/sidecar/internal/tail"
)

// The file layer against a hostile or unusual volume: links, special
// files, inode reuse, copytruncate, fairness and pod ownership. The same
// findings are held by the real binary in integration/filelayer_test.go.

func TestLinksAndSpecialFilesAreNeverRead(t *testing.T) {
	e := newEnv(t, "", nil)
	outside := t.TempDir()
	os.WriteFile(outside+"/secret", []byte(`{"msg":"the secret"}`+"\n"), 0o600)
	os.Symlink(outside+"/secret", e.path("evil.log"))
	os.Symlink(outside, e.path("d"))
	os.Symlink("d/secret", e.path("evil2.log"))
	if err := syscall.Mkfifo(e.path("fifo.log"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.write("app.log", jsonLines(0, 3))
	os.Symlink("app.log", e.path("inside.log"))
	e.start()
	e.waitRecords(3)
	time.Sleep(5 * e.cfg.PollInterval) // several scans: each entry is logged and counted once
	e.stop()
	if diff := cmp.Diff(lineMsgs(0, 3), msgs(t, e.out.String())); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if n := testutil.ToFloat64(e.p.m.skipped.WithLabelValues("symlink")); n != 3 {
		t.Errorf("symlinks skipped = %v, want 3 (evil, evil2, inside)", n)
	}
	if n := testutil.ToFloat64(e.p.m.skipped.WithLabelValues("not_regular")); n != 1 {
		t.Errorf("special files skipped = %v, want 1", n)
	}
}

// reuseInode deletes name and creates it again, with content, until the new
// file has the old inode, as ext4 does at once when nothing holds it.
func reuseInode(t *testing.T, e *env, name, content string) {
	t.Helper()
	fi, err := os.Stat(e.path(name))
	if err != nil {
		t.Fatal(err)
	}
	old := fi.Sys().(*syscall.Stat_t).Ino
	for i := 0; i < 1000; i++ {
		os.Remove(e.path(name))
		tmp := e.path(".tmp")
		os.WriteFile(tmp, []byte(content), 0o644)
		fi, _ := os.Stat(tmp)
		if fi.Sys().(*syscall.Stat_t).Ino == old {
			os.Rename(tmp, e.path(name))
			return
		}
		// Keep the other inode busy so the next try gets a different one.
		defer os.Remove(tmp + fmt.Sprint(i))
		os.Rename(tmp, tmp+fmt.Sprint(i))
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("inode %d was not reused", old)
}

// A file deleted and re-created with the same first line (a banner) on a
// reused inode, while the sidecar is stopped, is read from 0: the
// fingerprint grew past the banner as the old file grew.
func TestReusedInodeWithSameBannerIsReadAgain(t *testing.T) {
	e := newEnv(t, "", nil)
	banner := `{"msg":"banner"}` + "\n"
	e.write("app.log", banner)
	e.start()
	e.waitRecords(1)
	e.write("app.log", jsonLines(1, 49))
	e.waitRecords(50)
	e.stop()
	reuseInode(t, e, "app.log", banner+jsonLines(1000, 150))
	e.out = &syncBuffer{}
	e.sink = sink.NewWriter(e.out)
	e.start()
	e.waitRecords(151)
	e.stop()
	if diff := cmp.Diff(append([]string{"banner"}, lineMsgs(1000, 150)...), msgs(t, e.out.String())); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

// A same-size replacement with the same head, while stopped, is told apart
// by the tail fingerprint before the checkpoint.
func TestSameSizeRewriteWhileStoppedIsReadAgain(t *testing.T) {
	e := newEnv(t, "", nil)
	head := strings.Repeat(`{"msg":"a banner longer than the fingerprint"}`+"\n", 30)
	e.write("app.log", head+jsonLines(100, 10))
	e.start()
	e.waitRecords(40)
	e.stop()
	if err := os.WriteFile(e.path("app.log"), []byte(head+jsonLines(200, 10)), 0o644); err != nil {
		t.Fatal(err)
	}
	e.out = &syncBuffer{}
	e.sink = sink.NewWriter(e.out)
	e.start()
	e.waitRecords(40)
	e.stop()
	got := msgs(t, e.out.String())
	if diff := cmp.Diff(lineMsgs(200, 10), got[30:]); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

// A truncation refilled past the old offset between two reads is caught:
// every new line arrives and no fragment becomes a record.
func TestTruncatedAndRefilledPastOffset(t *testing.T) {
	e := newEnv(t, "", func(c *Config) { c.PollInterval = 500 * time.Millisecond; c.RotateWait = time.Hour })
	e.write("app.log", jsonLines(0, 100))
	e.start()
	e.waitRecords(100)
	time.Sleep(time.Second) // the reader is in its longest wait
	long := strings.ReplaceAll(jsonLines(1000, 200), `"level"`, `"padding":"xxxxxxxx","level"`)
	if err := os.WriteFile(e.path("app.log"), []byte(long), 0o644); err != nil {
		t.Fatal(err)
	}
	e.waitRecords(300)
	time.Sleep(100 * time.Millisecond)
	e.stop()
	recs := records(t, e.out.String())
	got := msgs(t, e.out.String())
	if diff := cmp.Diff(append(lineMsgs(0, 100), lineMsgs(1000, 200)...), got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	for _, r := range recs {
		if r.ParseError != "" {
			t.Errorf("fragment shipped: %+v", r)
		}
	}
	if n := testutil.ToFloat64(e.p.m.truncations); n != 1 {
		t.Errorf("truncations = %v, want 1", n)
	}
}

// copytruncate with logrotate's names: the copy holds what was read from
// the original, and is not read again; every line arrives once.
func TestCopyTruncateCopiesAreNotReadAgain(t *testing.T) {
	e := newEnv(t, "", nil)
	e.start()
	seq := 0
	for rot := 1; rot <= 5; rot++ {
		e.write("app.log", jsonLines(seq, 200))
		seq += 200
		if rot%2 == 0 {
			e.waitRecords(seq) // sometimes the copy is made after everything was read
		}
		data, err := os.ReadFile(e.path("app.log"))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(e.path(fmt.Sprintf("app.log.%d", rot)), data, 0o644)
		os.Truncate(e.path("app.log"), 0)
	}
	e.write("app.log", jsonLines(seq, 10))
	seq += 10
	e.waitRecords(seq)
	time.Sleep(3 * e.cfg.RotateWait)
	e.stop()
	if diff := cmp.Diff(lineMsgs(0, seq), sorted(msgs(t, e.out.String())), cmp.Transformer("sort", sorted)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

// With fewer read slots than busy files, every file is read.
func TestNoFileStarvesBehindMaxOpenFiles(t *testing.T) {
	e := newEnv(t, "", func(c *Config) { c.MaxOpenFiles = 2; c.RotateWait = time.Hour })
	for i := 0; i < 5; i++ {
		e.write(fmt.Sprintf("f%d.log", i), jsonLines(i*1000, 1))
	}
	e.start()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for n := 1; ; n++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			for i := 0; i < 5; i++ {
				e.write(fmt.Sprintf("f%d.log", i), jsonLines(i*1000+n, 1))
			}
		}
	}()
	eventually(t, "records of every file", func() bool {
		out := e.out.String()
		for i := 0; i < 5; i++ {
			if !strings.Contains(out, fmt.Sprintf(`"f%d.log"`, i)) {
				return false
			}
		}
		return true
	})
	close(stop)
	<-done
	e.stop()
}

// {pod}*.log on a shared directory ships only the pod's files, and
// LOGLET_DELETE_SHIPPED removes logrotate's .N rotations.
func TestPodOwnedNamesAndDeletingDotNRotations(t *testing.T) {
	e := newEnv(t, "", func(c *Config) {
		c.Include, c.ActiveFile, c.PodOwned, c.DeleteShipped = "web-1*.log", "web-1.log", true, true
	})
	e.write("web-1.log", jsonLines(0, 1))
	e.write("web-1-20261121T000000.000000000Z.log", jsonLines(1, 1))
	e.write("web-1.log.1", jsonLines(2, 1))
	e.write("web-12.log", jsonLines(100, 1))
	e.write("web-12-20261121T000000.000000000Z.log", jsonLines(101, 1))
	e.start()
	e.waitRecords(3)
	eventually(t, "web-1.log.1 removed", func() bool {
		_, err := os.Stat(e.path("web-1.log.1"))
		return os.IsNotExist(err)
	})
	e.stop()
	if diff := cmp.Diff(lineMsgs(0, 3), sorted(msgs(t, e.out.String()))); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	for _, keep := range []string{"web-1.log", "web-12.log", "web-12-20261121T000000.000000000Z.log"} {
		if _, err := os.Stat(e.path(keep)); err != nil {
			t.Errorf("%s: %v", keep, err)
		}
	}
}

// A short-lived file, created and deleted between two polls, is read:
// inotify finds it at once, and the descriptor held keeps its data.
func TestShortLivedFilesAreRead(t *testing.T) {
	e := newEnv(t, "", func(c *Config) { c.PollInterval = time.Second })
	e.start()
	time.Sleep(100 * time.Millisecond) // the inotify watch is in place
	for i := 0; i < 50; i++ {
		name := fmt.Sprintf("short-%d.log", i)
		e.write(name, jsonLines(i*5, 5))
		time.Sleep(100 * time.Millisecond) // far below the poll interval
		os.Remove(e.path(name))
	}
	e.waitRecords(250)
	e.stop()
	if diff := cmp.Diff(lineMsgs(0, 250), sorted(msgs(t, e.out.String())), cmp.Transformer("sort", sorted)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

// Ready reports failing checkpoint saves.
func TestReadyReportsFailingSaves(t *testing.T) {
	e := newEnv(t, "", nil)
	if err := os.MkdirAll(e.cfg.StateDir+"/checkpoints.json", 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(e.cfg.StateDir+"/checkpoints.json/x", nil, 0o644) // a non-empty directory: rename fails
	e.write("app.log", jsonLines(0, 3))
	e.start()
	e.waitRecords(3)
	eventually(t, "Ready failing", func() bool { return e.p.Ready() != nil })
	e.stop()
	if !strings.Contains(e.p.Ready().Error(), "checkpoint") {
		t.Errorf("Ready = %v", e.p.Ready())
	}
}

// A file that keeps being truncated is left alone for a while, and
// reported, instead of being re-read in a tight loop.
func TestFileThatKeepsTruncatingIsBackedOff(t *testing.T) {
	e := newEnv(t, "", func(c *Config) { c.RotateWait = time.Hour })
	e.start()
	want := 0
	for i := 0; i < truncBurst+2; i++ {
		os.WriteFile(e.path("app.log"), []byte(jsonLines(i*100, 20-i)), 0o644) // shorter each time: a truncation
		want += 20 - i
		e.waitRecords(want)
	}
	eventually(t, "a backoff", func() bool { return testutil.ToFloat64(e.p.m.truncBackoffs) >= 1 })
	e.stop()
}

// A writer that cuts back a fragment it could not complete (applib after a
// failed write) does not make the file be read again from 0.
func TestFragmentCutBackIsNotATruncation(t *testing.T) {
	e := newEnv(t, "", nil)
	e.write("app.log", jsonLines(0, 10))
	e.start()
	e.waitRecords(10)
	fi, _ := os.Stat(e.path("app.log"))
	e.write("app.log", `{"msg":"a fragm`)
	time.Sleep(100 * time.Millisecond) // read and held as a partial line
	if err := os.Truncate(e.path("app.log"), fi.Size()); err != nil {
		t.Fatal(err)
	}
	e.write("app.log", jsonLines(10, 5))
	e.waitRecords(15)
	time.Sleep(100 * time.Millisecond)
	e.stop()
	if diff := cmp.Diff(lineMsgs(0, 15), msgs(t, e.out.String())); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if n := testutil.ToFloat64(e.p.m.truncations); n != 0 {
		t.Errorf("truncations = %v, want 0", n)
	}
}

// Rename and copy-truncate rotation are followed both ways files are
// watched: with inotify's events, and by polling (where inotify reports
// nothing: some network and FUSE file systems).
func TestRotationWithInotifyAndByPolling(t *testing.T) {
	for _, polling := range []bool{false, true} {
		t.Run(fmt.Sprint("polling=", polling), func(t *testing.T) {
			e := newEnv(t, "", nil)
			e.prepare = func(p *Pipeline) {
				if polling {
					p.polling.Store(true)
				}
			}
			e.start()
			e.write("app.log", jsonLines(0, 50))
			e.waitRecords(50)
			rotateBothWays(t, e)
			if got := e.p.polling.Load(); got != polling {
				t.Errorf("polling = %v at the end, want %v", got, polling)
			}
		})
	}
}

// On a file system whose inotify reports no writes (some network and FUSE
// file systems), the safety checks find the unreported data, the pipeline
// switches to polling, and rename and copy-truncate rotation are followed
// from then on. The write watch here is a real inotify watch on an empty
// directory: it reports nothing, as such a file system does.
func TestSwitchToPollingWhenInotifyIsSilent(t *testing.T) {
	deaf := t.TempDir()
	e := newEnv(t, "", nil)
	e.prepare = func(p *Pipeline) {
		p.safetyBase = 100 * time.Millisecond
		p.watchWrites = func(string) (*tail.Notifier, error) { return tail.NewNotifier(deaf, tail.WritesOnly) }
	}
	e.start()
	for i := range 5 {
		e.write("app.log", jsonLines(10*i, 10))
		e.waitRecords(10 * (i + 1))
	}
	if !e.p.polling.Load() {
		t.Fatal("still waiting for inotify after five writes it did not report")
	}
	rotateBothWays(t, e)
}

// rotateBothWays, after lines 0 to 49 of app.log are shipped, rotates it by
// rename (to app.log.1) and then by copy and truncation (to app.log.2),
// writing 50 lines after each, stops the pipeline and checks that lines 0
// to 149 each arrived once.
func rotateBothWays(t *testing.T, e *env) {
	t.Helper()
	if err := os.Rename(e.path("app.log"), e.path("app.log.1")); err != nil {
		t.Fatal(err)
	}
	e.write("app.log", jsonLines(50, 50))
	e.waitRecords(100)
	data, _ := os.ReadFile(e.path("app.log"))
	os.WriteFile(e.path("app.log.2"), data, 0o644)
	os.Truncate(e.path("app.log"), 0)
	e.write("app.log", jsonLines(100, 50))
	e.waitRecords(150)
	time.Sleep(3 * e.cfg.RotateWait)
	e.stop()
	if diff := cmp.Diff(lineMsgs(0, 150), sorted(msgs(t, e.out.String())), cmp.Transformer("sort", sorted)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}
