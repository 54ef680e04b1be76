package checkpoint

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRoundTrip(t *testing.T) {
	s := &Store{Dir: filepath.Join(t.TempDir(), "state")}
	got, err := s.Load()
	if err != nil || got != nil {
		t.Fatalf("Load of missing state = %v, %v", got, err)
	}
	want := []Entry{
		{ID: "1:2:aa", Dev: 1, Ino: 2, FPLen: 10, FP: "aa", Offset: 100, Path: "a.log"},
		{ID: "1:3:bb", Dev: 1, Ino: 3, FPLen: 1024, FP: "bb", Offset: 1 << 40, Path: "b.log"},
	}
	if err := s.Save([]Entry{want[1], want[0]}); err != nil {
		t.Fatal(err)
	}
	got, err = s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// Saving again replaces, and leaves no temporary files behind.
	if err := s.Save(want[:1]); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Load()
	if diff := cmp.Diff(want[:1], got); diff != "" {
		t.Errorf("after second save (-want +got):\n%s", diff)
	}
	names, _ := os.ReadDir(s.Dir)
	if len(names) != 1 {
		t.Errorf("state dir holds %d entries, want only %s", len(names), FileName)
	}
	if err := s.Writable(); err != nil {
		t.Errorf("Writable: %v", err)
	}
}

func TestCorrupt(t *testing.T) {
	tests := map[string]string{
		"not json":      "{\"version\":1,\"files\":[{\"id\":",
		"wrong version": `{"version":99,"files":[]}`,
		"negative":      `{"version":1,"files":[{"id":"x","offset":-5}]}`,
		"empty file":    "",
	}
	for name, content := range tests {
		t.Run(name, func(t *testing.T) {
			s := &Store{Dir: t.TempDir()}
			if err := os.WriteFile(s.Path(), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := s.Load()
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.Path != s.Path() {
				t.Fatalf("Load = %v, want *CorruptError for %s", err, s.Path())
			}
		})
	}
}

func TestNotWritable(t *testing.T) {
	if os.Geteuid() == 0 {
		// root ignores directory permissions; use a path under a regular file instead.
		f := filepath.Join(t.TempDir(), "file")
		os.WriteFile(f, nil, 0o600)
		s := &Store{Dir: filepath.Join(f, "state")}
		if s.Writable() == nil || s.Save(nil) == nil {
			t.Fatal("state under a regular file reported writable")
		}
		return
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o500)
	s := &Store{Dir: dir}
	if s.Writable() == nil {
		t.Fatal("read-only dir reported writable")
	}
}

// Version 1 state, without tail fingerprints, is still read.
func TestLoadsVersion1(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	os.WriteFile(s.Path(), []byte(`{"version":1,"files":[{"id":"1:2:00000000000000ff","dev":1,"ino":2,"fp_len":10,"fp":"00000000000000ff","offset":42,"path":"app.log"}]}`), 0o644)
	got, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{{ID: "1:2:00000000000000ff", Dev: 1, Ino: 2, FPLen: 10, FP: "00000000000000ff", Offset: 42, Path: "app.log"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}
