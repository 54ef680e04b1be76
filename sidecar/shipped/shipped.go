// Package shipped tells a program that writes log files for the loglet
// sidecar which of them loglet has shipped: it reads the sidecar's
// checkpoint state, <state dir>/checkpoints.json, and reports whether every
// byte of a file is acknowledged by the output. applib uses it to delete a
// rotated file only once it is shipped.
//
// The package is outside sidecar/internal so that applib, which apps
// import, can use it, and it imports only the standard library. It does not
// share code with the sidecar's checkpoint package on purpose: the app and
// its sidecar are built and upgraded separately, so this reader is written
// against the file format, not against the writer's types. It accepts state
// versions 1 to 3 and ignores fields it does not know; its tests check it
// against the sidecar's own writer.
//
// # What counts as shipped
//
// A file at path is shipped when the state has an entry with
//   - the file's device and inode numbers,
//   - the file's base name as the base of its "path" (the sidecar records
//     the name it last saw the file under, so a file renamed since the last
//     save is not taken as shipped until the sidecar saves again),
//   - a fingerprint ("fp_len" leading bytes hashed with 64-bit FNV-1a, as
//     hex in "fp") that still matches the file, verified when it covers at
//     most [MaxVerifyBytes], and
//   - an acknowledged offset equal to the file's size.
//
// Every condition errs towards "not shipped": a reused inode, a file grown
// since the save, an unreadable or unknown state keep the file.
package shipped

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

const (
	// DirName is the sidecar's default state directory inside the log
	// directory, used when LOGLET_STATE_DIR is not set.
	DirName = ".loglet"
	// FileName is the state file's name inside the state directory.
	FileName = "checkpoints.json"
	// MaxVerifyBytes bounds the fingerprint this package re-hashes: a
	// longer fingerprint is trusted on device, inode and name alone, so
	// that checking a large file never reads all of it.
	MaxVerifyBytes = 64 << 10
	// maxStateBytes bounds the state file read; the sidecar's is a few
	// hundred bytes per tracked file.
	maxStateBytes = 64 << 20
)

// ErrNoState is returned by [Read] when the state directory does not exist:
// no loglet sidecar has run against this log directory.
var ErrNoState = errors.New("no loglet state directory")

// FormatError reports a state file that exists but cannot be used: not
// JSON, a version this package does not know, or impossible values.
type FormatError struct {
	Path string
	Err  error
}

// Error describes the unusable state file.
func (e *FormatError) Error() string {
	return fmt.Sprintf("loglet state %s is unusable: %v", e.Path, e.Err)
}

// Unwrap returns the underlying error.
func (e *FormatError) Unwrap() error { return e.Err }

// entry holds the fields of one checkpoint that this package relies on;
// any others are ignored.
type entry struct {
	Dev    uint64 `json:"dev"`
	Ino    uint64 `json:"ino"`
	FPLen  int64  `json:"fp_len"`
	FP     string `json:"fp"`
	Offset int64  `json:"offset"`
	Path   string `json:"path"`
}

type document struct {
	Version int     `json:"version"`
	Files   []entry `json:"files"`
}

type identity struct{ dev, ino uint64 }

// State is the sidecar's checkpoint state as read at one moment. The zero
// State holds no checkpoints: nothing is shipped.
type State struct {
	byID map[identity][]entry
}

// Read reads the state in dir. A missing dir gives an error matching
// [ErrNoState]; a dir without a state file gives an empty State (the
// sidecar has not saved yet, so nothing is shipped); a state file that
// cannot be read gives its error, and one that cannot be used a
// [*FormatError].
func Read(dir string) (*State, error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", dir, ErrNoState)
	}
	path := filepath.Join(dir, FileName)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &State{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read loglet state: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxStateBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read loglet state: %w", err)
	}
	if len(data) > maxStateBytes {
		return nil, &FormatError{Path: path, Err: fmt.Errorf("larger than %d bytes", maxStateBytes)}
	}
	return parse(path, data)
}

// parse decodes a state document read from path.
func parse(path string, data []byte) (*State, error) {
	var doc document
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, &FormatError{Path: path, Err: err}
	}
	if doc.Version < 1 || doc.Version > 3 {
		return nil, &FormatError{Path: path, Err: fmt.Errorf("version %d, want 1 to 3", doc.Version)}
	}
	s := &State{byID: make(map[identity][]entry, len(doc.Files))}
	for i, e := range doc.Files {
		if e.Offset < 0 || e.FPLen < 0 {
			return nil, &FormatError{Path: path, Err: fmt.Errorf("entry %d: negative offset or fingerprint length", i)}
		}
		id := identity{e.Dev, e.Ino}
		s.byID[id] = append(s.byID[id], e)
	}
	return s, nil
}

// Acked returns how many leading bytes of the regular file at path the
// sidecar has acknowledged, and the file's size: the file is shipped when
// acked equals size. A file the state does not know, or knows under another
// identity, gives 0. A symlink is not followed and gives an error.
func (s *State) Acked(path string) (acked, size int64, err error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return 0, 0, fmt.Errorf("check shipped: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, fmt.Errorf("check shipped: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return 0, 0, fmt.Errorf("check shipped: %s is not a regular file", path)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, fmt.Errorf("check shipped: %s: no device and inode numbers", path)
	}
	size = fi.Size()
	if s == nil {
		return 0, size, nil
	}
	name := filepath.Base(path)
	for _, e := range s.byID[identity{uint64(st.Dev), st.Ino}] {
		if filepath.Base(e.Path) != name || e.Offset > size || e.FPLen > size {
			continue
		}
		if e.FPLen > 0 && e.FPLen <= MaxVerifyBytes {
			match, err := fingerprintMatches(f, e.FPLen, e.FP)
			if err != nil {
				return 0, size, err
			}
			if !match {
				continue
			}
		}
		acked = max(acked, e.Offset)
	}
	return acked, size, nil
}

// Shipped reports whether every byte of the file at path is acknowledged.
func (s *State) Shipped(path string) (bool, error) {
	acked, size, err := s.Acked(path)
	return err == nil && acked == size, err
}

// fingerprintMatches reports whether the first n bytes of f hash to fp.
func fingerprintMatches(f io.ReaderAt, n int64, fp string) (bool, error) {
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, 0); err != nil {
		return false, fmt.Errorf("check shipped: read fingerprint: %w", err)
	}
	h := fnv.New64a()
	h.Write(buf)
	return fmt.Sprintf("%016x", h.Sum64()) == fp, nil
}
