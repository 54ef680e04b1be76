package tail

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

// watcherLeak is the one goroutine radovskyb/watcher v1.0.7 leaks per
// closed Watcher: Start's polling goroutine sends on an unbuffered channel
// that nobody reads after Close. Watch runs once per process, so it is one
// goroutine at exit; everything else must end.
var watcherLeak = goleak.IgnoreTopFunction("github.com/radovskyb/watcher.(*Watcher).Start.func1")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, watcherLeak) }

type line struct {
	Text       string
	Start, End int64
	Truncated  bool
}

func collect(out *[]line) LineFunc {
	return func(b []byte, start, end int64, truncated bool) {
		*out = append(*out, line{string(b), start, end, truncated})
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func readAll(t *testing.T, r *Reader, fn LineFunc) {
	t.Helper()
	for {
		if _, err := r.Read(fn); err == io.EOF {
			return
		} else if err != nil {
			t.Fatal(err)
		}
	}
}

// openReader opens path (closed when the test ends) and returns a Reader
// of it from offset 0.
func openReader(t *testing.T, path string) *Reader {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return NewReader(f, 0)
}

func TestReaderPartialLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	appendFile(t, path, "one\ntw")
	r := openReader(t, path)
	r.ReadSize = 4 // force lines across reads
	var got []line
	readAll(t, r, collect(&got))
	if diff := cmp.Diff([]line{{"one", 0, 4, false}}, got); diff != "" {
		t.Fatalf("before completion (-want +got):\n%s", diff)
	}
	if start, ok := r.Partial(); !ok || start != 4 {
		t.Fatalf("Partial = %d, %v", start, ok)
	}
	appendFile(t, path, "o\nthree\nfour")
	readAll(t, r, collect(&got))
	r.FlushPartial(collect(&got))
	want := []line{{"one", 0, 4, false}, {"two", 4, 8, false}, {"three", 8, 14, false}, {"four", 14, 18, false}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if _, ok := r.Partial(); ok {
		t.Fatal("still partial after flush")
	}
}

func TestReaderLongLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	long := strings.Repeat("x", 25)
	appendFile(t, path, "short\n"+long+"\nafter\n"+long)
	for _, size := range []int{3, 7, 64} {
		r := openReader(t, path)
		r.MaxLine, r.ReadSize = 10, size
		var got []line
		readAll(t, r, collect(&got))
		r.FlushPartial(collect(&got))
		want := []line{{"short", 0, 6, false}, {"xxxxxxxxxx", 6, 32, true}, {"after", 32, 38, false}, {"xxxxxxxxxx", 38, 63, true}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("read size %d (-want +got):\n%s", size, diff)
		}
	}
}

func TestReaderReset(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	appendFile(t, path, "aaaa\nbbbb\npart")
	f, _ := os.Open(path)
	defer f.Close()
	r := NewReader(f, 0)
	var got []line
	readAll(t, r, collect(&got))
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "new\n")
	r.Reset(0)
	got = got[:0]
	readAll(t, r, collect(&got))
	if diff := cmp.Diff([]line{{"new", 0, 4, false}}, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func TestFingerprint(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	appendFile(t, a, "first line\n")
	f, _ := os.Open(a)
	defer f.Close()
	fp, err := ReadFingerprint(f, FingerprintSize)
	if err != nil || fp.Len != 11 {
		t.Fatalf("fp = %+v, %v", fp, err)
	}
	appendFile(t, a, "more data\n")
	if ok, _ := fp.Matches(f); !ok {
		t.Error("growing file no longer matches its fingerprint")
	}
	os.WriteFile(a, []byte("other line\n"), 0o644)
	if ok, _ := fp.Matches(f); ok {
		t.Error("rewritten file still matches")
	}
}

func TestMatcher(t *testing.T) {
	tests := []struct {
		m    Matcher
		want []string
	}{
		{Matcher{Include: "web-1*.log", Exclude: "*debug*"},
			[]string{"web-1-20261121T000000.000000000Z.log", "web-1.log", "web-12.log"}},
		// {pod}*.log on a shared directory: only the pod's own files.
		{Matcher{Include: "web-1*.log", Active: "web-1.log", Owned: true},
			[]string{"web-1-20261121T000000.000000000Z.log", "web-1.log"}},
		{Matcher{Include: "*"}, []string{"debug.log", "web-1-20261121T000000.000000000Z.log", "web-1.log", "web-1.log.1", "web-12.log", "web-2.log"}},
	}
	names := []string{"web-1.log", "web-1-20261121T000000.000000000Z.log", "web-12.log", "web-2.log", "web-1.log.1", ".hidden.log", "debug.log"}
	for _, tt := range tests {
		if err := tt.m.Validate(); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, n := range names {
			if tt.m.Match(n) {
				got = append(got, n)
			}
		}
		sort.Strings(got)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%+v (-want +got):\n%s", tt.m, diff)
		}
	}
	if (Matcher{Include: "["}).Validate() == nil {
		t.Error("bad pattern accepted")
	}
}

func TestScanReportsKindsWithoutFollowing(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	appendFile(t, filepath.Join(outside, "secret"), "secret\n")
	appendFile(t, filepath.Join(dir, "a.log"), "x\n")
	appendFile(t, filepath.Join(dir, ".hidden.log"), "x\n")
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "evil.log"))
	os.Symlink("a.log", filepath.Join(dir, "inside.log"))
	os.Mkdir(filepath.Join(dir, "sub.log"), 0o755)
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.log"), 0o644); err != nil {
		t.Fatal(err)
	}
	found, err := Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Kind{}
	for _, f := range found {
		got[f.Name] = f.Kind
		if f.Kind == Regular && (f.ID == Identity{} || f.Size != 2) {
			t.Errorf("%s: regular entry without identity or size: %+v", f.Name, f)
		}
	}
	want := map[string]Kind{"a.log": Regular, "evil.log": Symlink, "inside.log": Symlink, "sub.log": Special, "fifo.log": Special}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestOpenRefusesLinksAndSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	appendFile(t, filepath.Join(outside, "secret"), "secret\n")
	appendFile(t, filepath.Join(dir, "a.log"), "x\n")
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "evil.log"))
	os.Symlink(outside, filepath.Join(dir, "d"))
	syscall.Mkfifo(filepath.Join(dir, "fifo.log"), 0o644)
	os.Mkdir(filepath.Join(dir, "sub.log"), 0o755)

	f, fi, err := Open(dir, "a.log")
	if err != nil || fi.Size() != 2 {
		t.Fatalf("Open(a.log) = %v, %v", fi, err)
	}
	f.Close()
	for name, kind := range map[string]Kind{"evil.log": Symlink, "d": Symlink, "fifo.log": Special, "sub.log": Special} {
		f, _, err := Open(dir, name)
		var nr *NotRegularError
		if !errors.As(err, &nr) || nr.Kind != kind || !errors.Is(err, ErrNotRegular) {
			t.Errorf("Open(%s) = %v, want a %v NotRegularError", name, err, kind)
		}
		if f != nil {
			t.Errorf("Open(%s) returned a file", name)
		}
	}
	for _, name := range []string{"d/secret", "..", "", "../x"} {
		if f, _, err := Open(dir, name); err == nil {
			f.Close()
			t.Errorf("Open(%q) succeeded", name)
		}
	}
}

// A procfs file bind-mounted into the log directory looks regular but is
// refused. Bind mounts need CAP_SYS_ADMIN, which CI (root) has.
func TestOpenRefusesProcfsFiles(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "st.log")
	appendFile(t, target, "")
	if err := syscall.Mount("/proc/1/status", target, "", syscall.MS_BIND, ""); err != nil {
		t.Skipf("bind mount not permitted here: %v", err)
	}
	defer syscall.Unmount(target, 0)
	f, _, err := Open(dir, "st.log")
	if !errors.Is(err, ErrNotRegular) {
		if f != nil {
			f.Close()
		}
		t.Fatalf("Open(procfs file) = %v, want ErrNotRegular", err)
	}
}

func TestNotifierReportsNamesAndWrites(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan Event, 100)
	n, err := NewNotifier(dir, NamesOnly|WritesOnly)
	if err != nil {
		t.Fatal(err)
	}
	// The watch is in place before Run starts: nothing is missed.
	appendFile(t, filepath.Join(dir, "n0.log"), "x\n")
	done := make(chan error, 1)
	go func() {
		done <- n.Run(ctx, func(evs []Event) {
			for _, ev := range evs {
				got <- ev
			}
		})
	}()
	next := func(want Event) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case ev := <-got:
				if ev == want {
					return
				}
			case <-deadline:
				t.Fatalf("no %+v", want)
			}
		}
	}
	next(Event{Op: Listed, Name: "n0.log"})
	next(Event{Op: Written, Name: "n0.log"})
	appendFile(t, filepath.Join(dir, "n0.log"), "y\n")
	next(Event{Op: Written, Name: "n0.log"})
	os.Remove(filepath.Join(dir, "n0.log"))
	next(Event{Op: Listed, Name: "n0.log"})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// With Coalesce, many writes in the pause are reported as few events.
func TestNotifierCoalescesWrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	appendFile(t, path, "")
	n, err := NewNotifier(dir, WritesOnly)
	if err != nil {
		t.Fatal(err)
	}
	n.Coalesce = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	reports := 0
	done := make(chan error, 1)
	go func() {
		done <- n.Run(ctx, func([]Event) { mu.Lock(); reports++; mu.Unlock() })
	}()
	for i := 0; i < 50; i++ {
		appendFile(t, path, "line\n")
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if reports == 0 || reports > 10 {
		t.Errorf("%d reports for 50 writes in about 250 ms with a 200 ms pause, want 1 to 10", reports)
	}
}

func TestFingerprintsComparePrefixesAndTails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.log")
	appendFile(t, path, "banner\n")
	f, _ := os.Open(path)
	defer f.Close()
	head, _ := ReadFingerprint(f, FingerprintSize)
	appendFile(t, path, "line 1\n")
	tl, err := TailAt(f, 14)
	if err != nil || tl.Len != 14 {
		t.Fatalf("TailAt = %+v, %v", tl, err)
	}
	if ok, _ := head.Matches(f); !ok {
		t.Error("grown file does not match its head as a prefix")
	}
	if ok, _ := tl.MatchesAt(f, 0); !ok {
		t.Error("tail does not match")
	}
	os.WriteFile(path, []byte("banner\nline 2\n"), 0o644) // same size, same head
	if ok, _ := head.Matches(f); !ok {
		t.Error("same head no longer matches")
	}
	if ok, _ := tl.MatchesAt(f, 0); ok {
		t.Error("rewritten bytes before the position still match the tail")
	}
}

func TestWatchSignalsNewFiles(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	changed := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() { done <- Watch(ctx, dir, 10*time.Millisecond, changed) }()
	time.Sleep(50 * time.Millisecond)
	appendFile(t, filepath.Join(dir, "new.log"), "x\n")
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("no signal for a new file")
	}
	os.Rename(filepath.Join(dir, "new.log"), filepath.Join(dir, "new.log.1"))
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("no signal for a rename")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestPauseTimerWaitsAndCancels(t *testing.T) {
	pt := newPauseTimer()
	if !pt.ok() {
		t.Fatal("timerfd_create failed") // loglet would pause with a runtime timer
	}
	defer pt.close()
	start := time.Now()
	pt.wait(50 * time.Millisecond)
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("a 50 ms pause returned after %v", d)
	}
	done := make(chan struct{})
	go func() { pt.wait(time.Hour); close(done) }()
	time.Sleep(20 * time.Millisecond)
	pt.cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("cancel did not end an hour's pause")
	}
	pt.wait(time.Hour) // after cancel, at once
}

// A Notifier pausing after a report still stops at once when its context ends.
func TestNotifierStopsDuringPause(t *testing.T) {
	dir := t.TempDir()
	reported, stop := runPausingNotifier(t, dir, time.Hour)
	appendFile(t, filepath.Join(dir, "a.log"), "x\n")
	select {
	case <-reported:
	case <-time.After(5 * time.Second):
		t.Fatal("no report")
	}
	stop("during an hour's pause")
}

// runPausingNotifier runs a WritesOnly Notifier on dir with Coalesce set
// to pause; each report is signalled on reported, without blocking. stop
// cancels it and fails unless Run returns nil within 5 s.
func runPausingNotifier(t *testing.T, dir string, pause time.Duration) (reported <-chan struct{}, stop func(when string)) {
	t.Helper()
	n, err := NewNotifier(dir, WritesOnly)
	if err != nil {
		t.Fatal(err)
	}
	n.Coalesce = pause
	ctx, cancel := context.WithCancel(context.Background())
	reports := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- n.Run(ctx, func([]Event) {
			select {
			case reports <- struct{}{}:
			default:
			}
		})
	}()
	return reports, func(when string) {
		t.Helper()
		cancel()
		waitReturn(t, done, when)
	}
}

// waitReturn fails unless Run, cancelled, returns nil within 5 s.
func waitReturn(t *testing.T, done <-chan error, when string) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5 s of the cancel, " + when)
	}
}

// A coalescing Notifier reports what was written during its pause once
// the pause is over, and stops at once when cancelled while it waits for
// the kernel.
func TestCoalescingNotifierReportsAfterThePauseAndStops(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	n, err := NewNotifier(dir, WritesOnly)
	if err != nil {
		t.Fatal(err)
	}
	n.Coalesce = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	reports := make(chan []Event, 10)
	done := make(chan error, 1)
	go func() {
		done <- n.Run(ctx, func(evs []Event) { reports <- append([]Event(nil), evs...) })
	}()
	want := []Event{{Op: Written, Name: "a.log"}}
	for i := range 2 {
		appendFile(t, path, "x\n") // the second during the first report's pause
		select {
		case got := <-reports:
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("report %d (-want +got):\n%s", i+1, diff)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no report %d", i+1)
		}
	}
	time.Sleep(200 * time.Millisecond) // past the pause: waiting for the kernel
	cancel()
	waitReturn(t, done, "while waiting for events")
}

// A file truncated and written again past the read position between two
// Fills is reported (ErrRewritten), nothing of the new content taken, and
// TailBefore still gives the tail of what was read; while a partial line
// is held back, Fill does not compare.
func TestReaderNoticesARewriteBetweenFills(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	old := "line one\nline two\n"
	appendFile(t, path, old+"line three\n")
	r := openReader(t, path)
	r.ReadSize = len(old)
	if n, err := r.Fill(); n != len(old) || err != nil {
		t.Fatalf("Fill = %d, %v", n, err)
	}
	for r.Next() != nil {
	}
	want := FingerprintOf([]byte(old))
	if err := os.WriteFile(path, []byte("LINE ONE\nLINE TWO\nLINE THREE\nLINE FOUR\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if n, err := r.Fill(); !errors.Is(err, ErrRewritten) || n != 0 || r.Next() != nil {
		t.Fatalf("Fill after a rewrite = %d, %v; want 0, ErrRewritten and no line", n, err)
	}
	if got, ok := r.TailBefore(int64(len(old))); !ok || got != want {
		t.Errorf("TailBefore = %+v, %v; want %+v (the bytes read)", got, ok, want)
	}

	// A held-back partial line: the writer may finish it differently.
	os.WriteFile(path, []byte("one\ntw"), 0o644)
	r = openReader(t, path)
	r.ReadSize = 6
	if _, err := r.Fill(); err != nil {
		t.Fatal(err)
	}
	for r.Next() != nil {
	}
	os.WriteFile(path, []byte("one\nTWo\n"), 0o644) // the held bytes changed
	if _, err := r.Fill(); err != nil {
		t.Fatalf("Fill with a partial line held = %v, want no error", err)
	}
	if l := r.Next(); l == nil || string(l.Text) != "two" {
		t.Fatalf("Next = %+v, want two", l)
	}
}

// A coalescing Notifier keeps its queue out of the runtime's poller while
// it pauses, so that a write in the pause does not wake the process, and
// has it there (one descriptor, no more) while it waits for events. The
// kernel's own view is checked: the inotify descriptors that the runtime's
// epoll instance watches, from /proc/self/fdinfo.
func TestCoalescingNotifierLeavesThePollerDuringThePause(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	reported, stop := runPausingNotifier(t, dir, time.Hour)
	eventually(t, "the queue in the poller while waiting", func() bool { return polledInotify(t) == 1 })
	appendFile(t, path, "x\n")
	select {
	case <-reported:
	case <-time.After(5 * time.Second):
		t.Fatal("no report")
	}
	// In the hour's pause: the wait's descriptor is removed and closed.
	eventually(t, "no queue in the poller during the pause", func() bool { return polledInotify(t) == 0 })
	appendFile(t, path, "y\n")
	if got := polledInotify(t); got != 0 {
		t.Errorf("after a write in the pause, %d inotify descriptors in the poller, want 0", got)
	}
	if got := inotifyDescriptors(t); got != 1 {
		t.Errorf("%d inotify descriptors open during the pause, want 1 (the queue)", got)
	}
	stop("during the pause")
	if got := inotifyDescriptors(t); got != 0 {
		t.Errorf("%d inotify descriptors open after Run, want 0", got)
	}
}

// eventually fails unless cond holds within 5 s (the pipeline's tests have
// the same helper; test helpers are not shared between packages here).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("not within 5 s: " + what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// inotifyDescriptors counts this process's open inotify descriptors.
func inotifyDescriptors(t *testing.T) int {
	t.Helper()
	return len(descriptorsOf(t, "anon_inode:inotify"))
}

// polledInotify counts the inotify descriptors that the process's epoll
// instances (the runtime's poller) watch: the "tfd:" lines of their fdinfo.
func polledInotify(t *testing.T) int {
	t.Helper()
	inotify := map[string]bool{}
	for _, fd := range descriptorsOf(t, "anon_inode:inotify") {
		inotify[fd] = true
	}
	n := 0
	for _, ep := range descriptorsOf(t, "anon_inode:[eventpoll]") {
		info, err := os.ReadFile("/proc/self/fdinfo/" + ep)
		if err != nil {
			continue // closed meanwhile
		}
		for l := range strings.Lines(string(info)) {
			f := strings.Fields(l)
			if len(f) >= 2 && f[0] == "tfd:" && inotify[f[1]] {
				n++
			}
		}
	}
	return n
}

// descriptorsOf lists this process's descriptors whose link reads target.
func descriptorsOf(t *testing.T, target string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var fds []string
	for _, e := range entries {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && l == target {
			fds = append(fds, e.Name())
		}
	}
	return fds
}
