package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// Version is the state format this package writes. Load also reads
// version 1, which had no tail fingerprint.
const Version = 2

// FileName is the state file's name inside the state directory.
const FileName = "checkpoints.json"

// Entry is one file's checkpoint.
type Entry struct {
	// ID is the file's identity string: "dev:inode:fingerprint".
	ID string `json:"id"`
	// Dev and Ino are the file's device and inode numbers.
	Dev uint64 `json:"dev"`
	Ino uint64 `json:"ino"`
	// FPLen and FP are the length and hash (hex) of the file's first bytes,
	// which tell a reused inode from the file that had it. The fingerprint
	// grows with the file up to 1 KiB, and is compared as a prefix.
	FPLen int    `json:"fp_len"`
	FP    string `json:"fp"`
	// TailLen and Tail are the length and hash (hex) of the bytes just
	// before Offset (version 2): a file rewritten in place to the same size
	// or beyond, behind an unchanged head, no longer matches them.
	TailLen int    `json:"tail_len,omitempty"`
	Tail    string `json:"tail,omitempty"`
	// Offset is the end of the acknowledged prefix of the file.
	Offset int64 `json:"offset"`
	// Path is the file's last known path, for people reading the state.
	Path string `json:"path"`
}

type document struct {
	Version int     `json:"version"`
	Files   []Entry `json:"files"`
}

// CorruptError reports a state file that exists but cannot be used. The
// caller reports it and starts as if there were no state.
type CorruptError struct {
	Path string
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("checkpoint state %s is unusable: %v", e.Path, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Store reads and writes the state file in Dir.
//
// Concurrency: Load and Save must not run concurrently with each other;
// the pipeline calls them from its one checkpointing goroutine.
type Store struct {
	// Dir is the state directory; Save creates it when missing.
	Dir string
}

// Path is the state file's path.
func (s *Store) Path() string { return filepath.Join(s.Dir, FileName) }

// Load reads the state. A missing file gives no entries and a nil error; an
// unreadable, malformed or unknown-version file gives a *CorruptError.
func (s *Store) Load() ([]Entry, error) {
	path := s.Path()
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &CorruptError{Path: path, Err: err}
	}
	var doc document
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, &CorruptError{Path: path, Err: err}
	}
	if doc.Version < 1 || doc.Version > Version {
		return nil, &CorruptError{Path: path, Err: fmt.Errorf("version %d, want 1 to %d", doc.Version, Version)}
	}
	for i, e := range doc.Files {
		if e.Offset < 0 || e.FPLen < 0 || e.TailLen < 0 || int64(e.TailLen) > e.Offset {
			return nil, &CorruptError{Path: path, Err: fmt.Errorf("entry %d: negative offset or fingerprint length, or a tail before the file", i)}
		}
	}
	return doc.Files, nil
}

// Save replaces the state with entries, atomically. The directory and the
// file are readable by all (0755, 0644): applib, in the app's container and
// maybe as another user, reads the state to delete only shipped files.
func (s *Store) Save(entries []Entry) error {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	sorted := append([]Entry(nil), entries...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].ID < sorted[j].ID })
	data, err := json.MarshalIndent(document{Version: Version, Files: sorted}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode checkpoints: %w", err)
	}
	return writeAtomic(s.Path(), append(data, '\n'))
}

// Writable checks that the state directory accepts a new file, for /readyz.
func (s *Store) Writable() error {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	f, err := os.CreateTemp(s.Dir, ".probe-*")
	if err != nil {
		return fmt.Errorf("state dir not writable: %w", err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temp state: %w", err)
	}
	tmp := f.Name()
	cherr := f.Chmod(0o644) // CreateTemp makes it 0600
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(cherr, werr, serr, cerr); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open state dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync state dir: %w", err)
	}
	return nil
}
