package shipped_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/loglet/loglet/sidecar/internal/checkpoint"
	"github.com/loglet/loglet/sidecar/internal/tail"
	"github.com/loglet/loglet/sidecar/shipped"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// writeLog creates dir/name with n lines and returns its path.
func writeLog(t testing.TB, dir, name string, n int) string {
	t.Helper()
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"msg":"line","seq":%d,"file":%q}`+"\n", i, name)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// sidecarEntry is the checkpoint the sidecar saves for the file at path
// acknowledged up to offset, built with the sidecar's own identity and
// fingerprint code.
func sidecarEntry(t *testing.T, path string, offset int64) checkpoint.Entry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	id, ok := tail.IdentityOf(fi)
	if !ok {
		t.Fatal("no identity")
	}
	fp, err := tail.ReadFingerprint(f, tail.FingerprintSize)
	if err != nil {
		t.Fatal(err)
	}
	return checkpoint.Entry{
		ID: fmt.Sprintf("%s:%s", id, fp), Dev: id.Dev, Ino: id.Ino,
		FPLen: fp.Len, FP: fp.String(), Offset: offset, Path: filepath.Base(path),
	}
}

func size(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestAgainstSidecarWriter saves state with the sidecar's checkpoint store
// and checks what Read and Shipped make of each file.
func TestAgainstSidecarWriter(t *testing.T) {
	logDir := t.TempDir()
	stateDir := filepath.Join(logDir, shipped.DirName)
	if shipped.FileName != checkpoint.FileName {
		t.Fatalf("FileName %q, the sidecar writes %q", shipped.FileName, checkpoint.FileName)
	}
	done := writeLog(t, logDir, "web-20260101T000000.000000000Z.log", 100)
	partial := writeLog(t, logDir, "web-20260102T000000.000000000Z.log", 100)
	grown := writeLog(t, logDir, "web-20260103T000000.000000000Z.log", 100)
	renamed := writeLog(t, logDir, "web-20260104T000000.000000000Z.log", 100)
	reused := writeLog(t, logDir, "web-20260105T000000.000000000Z.log", 100)
	unknown := writeLog(t, logDir, "web-20260106T000000.000000000Z.log", 100)

	renamedEntry := sidecarEntry(t, renamed, size(t, renamed))
	renamedEntry.Path = "web.log" // saved before the sidecar saw the rename
	reusedEntry := sidecarEntry(t, reused, size(t, reused))
	reusedEntry.FP = "0123456789abcdef" // the inode's earlier file
	store := checkpoint.Store{Dir: stateDir}
	if err := store.Save([]checkpoint.Entry{
		sidecarEntry(t, done, size(t, done)),
		sidecarEntry(t, partial, size(t, partial)-10),
		sidecarEntry(t, grown, size(t, grown)),
		renamedEntry,
		reusedEntry,
	}); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(grown, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("one more\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()

	st, err := shipped.Read(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, path := range []string{done, partial, grown, renamed, reused, unknown} {
		ok, err := st.Shipped(path)
		if err != nil {
			t.Fatalf("Shipped(%s): %v", path, err)
		}
		got[filepath.Base(path)] = ok
	}
	want := map[string]bool{
		filepath.Base(done): true, filepath.Base(partial): false, filepath.Base(grown): false,
		filepath.Base(renamed): false, filepath.Base(reused): false, filepath.Base(unknown): false,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("shipped mismatch (-want +got):\n%s", diff)
	}
	acked, sz, err := st.Acked(partial)
	if err != nil || acked != sz-10 {
		t.Errorf("Acked(partial) = %d, %d, %v; want size-10", acked, sz, err)
	}
}

// TestRead covers the states Read can find.
func TestRead(t *testing.T) {
	logDir := t.TempDir()
	path := writeLog(t, logDir, "web-20260101T000000.000000000Z.log", 10)
	e := sidecarEntry(t, path, size(t, path))
	entryJSON := fmt.Sprintf(`{"id":%q,"dev":%d,"ino":%d,"fp_len":%d,"fp":%q,"offset":%d,"path":%q`,
		e.ID, e.Dev, e.Ino, e.FPLen, e.FP, e.Offset, e.Path)
	tests := []struct {
		name    string
		state   *string // nil: no state directory
		shipped bool
		err     func(error) bool
	}{
		{name: "no state directory", err: func(err error) bool { return errors.Is(err, shipped.ErrNoState) }},
		{name: "directory without a file", state: new(""), shipped: false},
		{name: "version 1", state: new(`{"version":1,"files":[` + entryJSON + `}]}`), shipped: true},
		{name: "version 2 with unknown fields", state: new(`{"version":2,"extra":{"a":1},"files":[` + entryJSON + `,"partial":"abc","gen":3}]}`), shipped: true},
		{name: "no files", state: new(`{"version":1,"files":[]}`), shipped: false},
		{name: "version 3", state: new(`{"version":3,"clean":true,"files":[` + entryJSON + `,"kafka":{"topic":"logs.x","partition":0,"next_offset":7}}]}`), shipped: true},
		{name: "future version", state: new(`{"version":4,"files":[` + entryJSON + `}]}`), err: isFormat},
		{name: "not JSON", state: new(`{"version":1,"files":[`), err: isFormat},
		{name: "negative offset", state: new(`{"version":1,"files":[{"dev":1,"ino":2,"offset":-1}]}`), err: isFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stateDir := filepath.Join(t.TempDir(), shipped.DirName)
			if tt.state != nil {
				if err := os.Mkdir(stateDir, 0o755); err != nil {
					t.Fatal(err)
				}
				if *tt.state != "" {
					if err := os.WriteFile(filepath.Join(stateDir, shipped.FileName), []byte(*tt.state), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			st, err := shipped.Read(stateDir)
			if tt.err != nil {
				if !tt.err(err) {
					t.Fatalf("Read() error = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Read(): %v", err)
			}
			if ok, err := st.Shipped(path); err != nil || ok != tt.shipped {
				t.Errorf("Shipped() = %v, %v; want %v", ok, err, tt.shipped)
			}
		})
	}
}

func isFormat(err error) bool {
	var fe *shipped.FormatError
	return errors.As(err, &fe)
}

// TestUnreadableState: a state file that exists but cannot be read is an
// error, never "nothing shipped" or "no state".
func TestUnreadableState(t *testing.T) {
	stateDir := filepath.Join(t.TempDir(), shipped.DirName)
	if err := os.MkdirAll(filepath.Join(stateDir, shipped.FileName), 0o755); err != nil {
		t.Fatal(err) // a directory where the file should be
	}
	if _, err := shipped.Read(stateDir); err == nil || errors.Is(err, shipped.ErrNoState) {
		t.Errorf("Read() = %v, want a read error", err)
	}
}

// TestAckedRefusesOddFiles: a symlink is not followed and a special file
// is not read.
func TestAckedRefusesOddFiles(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "web-20260101T000000.000000000Z.log")
	if err := os.Symlink("/etc/passwd", link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "web-20260102T000000.000000000Z.log")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	var st shipped.State
	for _, path := range []string{link, fifo} {
		if ok, err := st.Shipped(path); err == nil || ok {
			t.Errorf("Shipped(%s) = %v, %v; want an error", path, ok, err)
		}
	}
}

// FuzzRead feeds arbitrary state files to Read and Acked: neither panics,
// and a state that reads can be checked against a real file.
func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"version":1,"files":[{"id":"1:2:0","dev":1,"ino":2,"fp_len":3,"fp":"00","offset":4,"path":"a.log"}]}`))
	f.Add([]byte(`{"version":2,"files":null}`))
	f.Add([]byte(`[]`))
	logDir := f.TempDir()
	path := writeLog(f, logDir, "web-20260101T000000.000000000Z.log", 3)
	f.Fuzz(func(t *testing.T, data []byte) {
		stateDir := t.TempDir()
		if err := os.WriteFile(filepath.Join(stateDir, shipped.FileName), data, 0o644); err != nil {
			t.Fatal(err)
		}
		st, err := shipped.Read(stateDir)
		if err != nil {
			return
		}
		if _, _, err := st.Acked(path); err != nil {
			t.Fatalf("Acked: %v", err)
		}
	})
}

// TestSidecarStateReadableByApp: the app may run as another user than the
// sidecar, so the state the sidecar saves must be readable by all, or
// applib could never tell that a file is shipped and would keep every file.
func TestSidecarStateReadableByApp(t *testing.T) {
	stateDir := filepath.Join(t.TempDir(), shipped.DirName)
	store := checkpoint.Store{Dir: stateDir}
	if err := store.Save(nil); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{stateDir, store.Path()} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&0o004 == 0 || (fi.IsDir() && perm&0o001 == 0) {
			t.Errorf("%s has mode %v: another user cannot read it", path, perm)
		}
	}
}
