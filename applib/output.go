package applib

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// rotatedLayout is the time in a rotated file's name, <pod>-<time>.log: UTC,
// fixed width, so the names sort by time and still match the forwarder's
// default include pattern *.log.
const rotatedLayout = "20060102T150405.000000000Z"

// rotateRetry is how long Output waits before trying again a rotation that failed.
const rotateRetry = time.Second

// Output is where records go: the file <Dir>/<Pod>.log, rotated by size, or
// Stdout when no directory is configured. New and NewHandler write one
// record per Write; logrus and slog loggers may share one Output.
//
// An Output is safe for concurrent use. Each Write goes whole, in one write
// system call on a file opened with O_APPEND, to one file: records are
// never interleaved, and never split by a rotation. Nothing is buffered in
// the process: once Write returns the record is in the kernel, so a crash or
// logrus' Fatal loses nothing already logged.
//
// Rotation cooperates with the loglet sidecar: when a record would take
// <Pod>.log past MaxFileBytes, the file is renamed <Pod>-<UTC time>.log
// (for example web-1-20261121T194500.123456789Z.log) and a fresh <Pod>.log
// is opened before the record is written. The sidecar finishes reading the
// renamed file and, with LOGLET_DELETE_SHIPPED=true, deletes it once Kafka
// has acknowledged every line; Output deletes the oldest rotated files
// beyond MaxFiles in any case.
type Output struct {
	mu sync.Mutex

	stdout io.Writer // when there is no file

	dir, pod, path string
	maxBytes       int64
	maxFiles       int
	now            func() time.Time

	f        *os.File
	size     int64     // bytes in f
	lastName time.Time // the time in the newest rotated name
	err      error     // rotation or pruning failures not yet reported
	retryAt  time.Time // when a failed rotation may be tried again
	closed   bool
}

// Open opens the Output c describes: it creates c.Dir if needed, opens
// <c.Dir>/<c.Pod>.log for appending (keeping what an earlier run of the
// container wrote) and deletes rotated files beyond c.MaxFiles. With an
// empty c.Dir it touches no file and writes to c.Stdout.
func Open(c Config) (*Output, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	if c.Dir == "" {
		w := c.Stdout
		if w == nil {
			w = os.Stdout
		}
		return &Output{stdout: w}, nil
	}
	o := &Output{
		dir:      c.Dir,
		pod:      c.Pod,
		path:     filepath.Join(c.Dir, c.Pod+".log"),
		maxBytes: c.MaxFileBytes,
		maxFiles: c.MaxFiles,
		now:      time.Now,
	}
	if o.maxBytes <= 0 {
		o.maxBytes = DefaultMaxFileBytes
	}
	if o.maxFiles <= 0 {
		o.maxFiles = DefaultMaxFiles
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("applib: create log directory: %w", err)
	}
	f, size, err := openLog(o.path)
	if err != nil {
		return nil, err
	}
	o.f, o.size = f, size
	if err := o.prune(); err != nil {
		f.Close()
		return nil, err
	}
	return o, nil
}

func openLog(path string) (*os.File, int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, 0, fmt.Errorf("applib: open %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("applib: stat %s: %w", path, err)
	}
	return f, st.Size(), nil
}

// Path is the active log file, or "" when the Output writes to Stdout.
func (o *Output) Path() string { return o.path }

// Write writes p, one record, whole to the active file, rotating first if p
// would take the file past MaxFileBytes. A record larger than MaxFileBytes
// gets a file of its own. If rotating fails the record is written to the
// current file all the same and the failure is returned by the next Sync or
// Close; rotation is tried again a second later.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return 0, fmt.Errorf("applib: write: %w", os.ErrClosed)
	}
	if o.f == nil {
		return o.stdout.Write(p)
	}
	if o.size > 0 && o.size+int64(len(p)) > o.maxBytes {
		o.rotate()
	}
	n, err := o.f.Write(p)
	o.size += int64(n)
	if err != nil {
		return n, fmt.Errorf("applib: write %s: %w", o.path, err)
	}
	return n, nil
}

// rotate renames the active file to its rotated name, opens a fresh one
// and deletes the oldest rotated files beyond maxFiles. On failure it
// leaves a file open at o.path so no record is lost, and keeps the error.
func (o *Output) rotate() {
	now := o.now().UTC()
	if o.err != nil && now.Before(o.retryAt) {
		return
	}
	// Names must be unique and increase even if the clock steps back:
	// rename would silently replace an existing file.
	if !now.After(o.lastName) {
		now = o.lastName.Add(time.Nanosecond)
	}
	target := o.rotatedPath(now)
	for i := 0; ; i++ {
		_, err := os.Lstat(target)
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			o.fail(now, fmt.Errorf("applib: rotate: %w", err))
			return
		}
		if i == 1000 {
			o.fail(now, fmt.Errorf("applib: rotate %s: no free name near %s", o.path, target))
			return
		}
		now = now.Add(time.Nanosecond)
		target = o.rotatedPath(now)
	}
	if err := os.Rename(o.path, target); err != nil {
		o.fail(now, fmt.Errorf("applib: rotate: %w", err))
		return
	}
	o.lastName = now
	f, size, err := openLog(o.path)
	if err != nil {
		// Put the file back: the sidecar may delete a rotated file once
		// shipped, and lines written to it after that would be lost.
		if rerr := os.Rename(target, o.path); rerr != nil {
			err = errors.Join(err, fmt.Errorf("applib: undo rotation: %w", rerr))
		}
		o.fail(now, fmt.Errorf("applib: rotate: %w", err))
		return
	}
	if err := o.f.Close(); err != nil {
		o.err = errors.Join(o.err, fmt.Errorf("applib: close rotated %s: %w", target, err))
	}
	o.f, o.size = f, size
	if err := o.prune(); err != nil {
		o.err = errors.Join(o.err, err)
	}
}

func (o *Output) fail(now time.Time, err error) {
	o.err = errors.Join(o.err, err)
	o.retryAt = now.Add(rotateRetry)
}

func (o *Output) rotatedPath(t time.Time) string {
	return filepath.Join(o.dir, o.pod+"-"+t.Format(rotatedLayout)+".log")
}

// isRotated reports whether name is one of pod's rotated files. It parses
// the time so that another pod's files ("web-1.log" for pod "web") never match.
func isRotated(pod, name string) bool {
	ts, ok := strings.CutPrefix(name, pod+"-")
	if !ok {
		return false
	}
	if ts, ok = strings.CutSuffix(ts, ".log"); !ok || len(ts) != len(rotatedLayout) {
		return false
	}
	_, err := time.Parse(rotatedLayout, ts)
	return err == nil
}

// prune deletes the oldest rotated files beyond maxFiles. A file already
// gone (the sidecar deleted it once shipped) is not an error.
func (o *Output) prune() error {
	entries, err := os.ReadDir(o.dir)
	if err != nil {
		return fmt.Errorf("applib: list %s: %w", o.dir, err)
	}
	var rotated []string // ReadDir sorts by name, that is by time
	for _, e := range entries {
		if isRotated(o.pod, e.Name()) {
			rotated = append(rotated, e.Name())
		}
	}
	var errs []error
	for _, name := range rotated[:max(0, len(rotated)-o.maxFiles)] {
		if err := os.Remove(filepath.Join(o.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("applib: delete old log: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Sync commits the active file to stable storage and returns any rotation
// failure since the last Sync or Close. It does nothing for Stdout.
func (o *Output) Sync() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	err := o.takeErr()
	if o.closed || o.f == nil {
		return err
	}
	if serr := o.f.Sync(); serr != nil {
		err = errors.Join(err, fmt.Errorf("applib: sync %s: %w", o.path, serr))
	}
	return err
}

// Close flushes and closes the file and returns any rotation failure not
// yet reported. Writes after Close fail with an error matching
// os.ErrClosed. Close does not close Stdout; calling it again does nothing.
func (o *Output) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil
	}
	o.closed = true
	err := o.takeErr()
	if o.f != nil {
		if serr := o.f.Sync(); serr != nil {
			err = errors.Join(err, fmt.Errorf("applib: sync %s: %w", o.path, serr))
		}
		if cerr := o.f.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("applib: close %s: %w", o.path, cerr))
		}
		o.f = nil
	}
	return err
}

func (o *Output) takeErr() error {
	err := o.err
	o.err = nil
	return err
}
