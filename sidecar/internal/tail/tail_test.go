package tail

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
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

func TestReaderPartialLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	appendFile(t, path, "one\ntw")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := NewReader(f, 0)
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
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		r := NewReader(f, 0)
		r.MaxLine, r.ReadSize = 10, size
		var got []line
		readAll(t, r, collect(&got))
		r.FlushPartial(collect(&got))
		f.Close()
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

func TestMatcherAndScan(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"web-1.log", "web-1-20261121T000000.000000000Z.log", "web-2.log", "web-1.log.1", ".hidden.log", "debug.log"} {
		appendFile(t, filepath.Join(dir, n), "x\n")
	}
	os.Mkdir(filepath.Join(dir, "sub.log"), 0o755)
	m := Matcher{Include: "web-1*.log", Exclude: "*debug*"}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	found, err := Scan(dir, m, false)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range found {
		names = append(names, f.Name)
	}
	if diff := cmp.Diff([]string{"web-1-20261121T000000.000000000Z.log", "web-1.log"}, names); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	all, _ := Scan(dir, m, true)
	if len(all) != 6 {
		t.Errorf("Scan all found %d files, want 6 regular files", len(all))
	}
	if (Matcher{Include: "["}).Validate() == nil {
		t.Error("bad pattern accepted")
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
