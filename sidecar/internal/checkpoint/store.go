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
// version 1 (no tail fingerprint) and 2 (no Kafka positions, no clean
// flag). sidecar/shipped, which applib uses, reads it too: keep the two in
// step.
const Version = 3

// FileName is the state file's name inside the state directory.
const FileName = "checkpoints.json"

// Entry is one file's checkpoint.
type Entry struct {
	// ID is the file's identity string: "dev:inode:fingerprint", the
	// records' loglet-file header. Package tail's FileID makes it and the
	// Dev, Ino, FPLen and FP fields (FileID.Entry) and reads them back
	// (tail.FromEntry); the pipeline drops an entry they do not agree on.
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
	// Landed is where the file's last acknowledged batch went in Kafka
	// (version 3): a read-back after a stop that was not clean starts there.
	Landed *Landed `json:"kafka,omitempty"`
	// Path is the file's last known path, for people reading the state.
	Path string `json:"path"`
}

// Landed is a position in Kafka: a topic's partition and the offset just
// after the last record of interest.
type Landed struct {
	Topic      string `json:"topic"`
	Partition  int    `json:"partition"`
	NextOffset int64  `json:"next_offset"`
}

// State is the whole state file.
type State struct {
	// Files are the checkpoints.
	Files []Entry
	// Clean is true when the process that wrote the state stopped with
	// every record it had sent acknowledged; a start after a stop that was
	// not clean reads back from Kafka what may have landed meanwhile.
	Clean bool
	// Origin is where the output's partition ended when the process that
	// wrote the state started, before it sent anything: a read-back for a
	// file without a Landed position starts there.
	Origin *Landed
}

type document struct {
	Version int     `json:"version"`
	Clean   bool    `json:"clean,omitempty"`
	Origin  *Landed `json:"origin,omitempty"`
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

// Load reads the state's entries; see LoadState.
func (s *Store) Load() ([]Entry, error) {
	st, err := s.LoadState()
	return st.Files, err
}

// LoadState reads the state. A missing file gives no entries and a nil
// error; an unreadable, malformed or unknown-version file gives a
// *CorruptError.
func (s *Store) LoadState() (State, error) {
	path := s.Path()
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, nil
	}
	if err != nil {
		return State{}, &CorruptError{Path: path, Err: err}
	}
	var doc document
	if err := json.Unmarshal(data, &doc); err != nil {
		return State{}, &CorruptError{Path: path, Err: err}
	}
	if doc.Version < 1 || doc.Version > Version {
		return State{}, &CorruptError{Path: path, Err: fmt.Errorf("version %d, want 1 to %d", doc.Version, Version)}
	}
	for i, e := range doc.Files {
		if e.Offset < 0 || e.FPLen < 0 || e.TailLen < 0 || int64(e.TailLen) > e.Offset {
			return State{}, &CorruptError{Path: path, Err: fmt.Errorf("entry %d: negative offset or fingerprint length, or a tail before the file", i)}
		}
	}
	if doc.Files == nil {
		doc.Files = []Entry{} // a state, even an empty one, is not "no state"
	}
	return State{Files: doc.Files, Clean: doc.Clean, Origin: doc.Origin}, nil
}

// Save replaces the state with entries, atomically. The directory and the
// file are readable by all (0755, 0644): applib, in the app's container and
// maybe as another user, reads the state to delete only shipped files.
func (s *Store) Save(entries []Entry) error {
	return s.SaveState(State{Files: entries})
}

// SaveState replaces the state with st, atomically, as Save does.
func (s *Store) SaveState(st State) error {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	sorted := append([]Entry{}, st.Files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].ID < sorted[j].ID })
	data, err := json.MarshalIndent(document{Version: Version, Clean: st.Clean, Origin: st.Origin, Files: sorted}, "", "  ")
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
