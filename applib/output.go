package applib

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/loglet/loglet/sidecar/shipped"
)

// rotatedLayout is the time in a rotated file's name, <pod>-<time>.log: UTC,
// fixed width, so the names sort by time and still match the forwarder's
// default include pattern *.log.
const rotatedLayout = "20060102T150405.000000000Z"

// rotateRetry is how long Output waits before trying again a rotation that
// failed, or before looking again whether loglet shipped a rotated file when
// MaxFiles of them wait for it.
const rotateRetry = time.Second

// reportEvery is the least time between two reports of dropped records on
// Stderr.
const reportEvery = 10 * time.Second

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
// has acknowledged every line.
//
// Output never deletes a rotated file loglet has not shipped. To keep at
// most MaxFiles rotated files it reads loglet's checkpoint state (see
// package github.com/loglet/loglet/sidecar/shipped) and deletes the oldest
// rotated files that loglet has acknowledged to their last byte. When
// MaxFiles rotated files all wait for loglet (Kafka is down) and <Pod>.log
// is full, the volume is full: Write drops records rather than grow the
// volume past (MaxFiles+1) × MaxFileBytes. It does the same when a write
// fails (ENOSPC). It never blocks and never fails the caller for it: a
// dropped record is counted in [Output.Stats], reported on Stderr at most
// every 10 s, and once writing works again one record in the log says how
// many records were dropped, between which times and why, so the loss
// reaches Kafka too. Only when the state directory does not exist, so that
// no sidecar reads the directory, are the oldest rotated files beyond
// MaxFiles deleted unshipped, each one reported on Stderr and counted.
type Output struct {
	mu sync.Mutex

	stdout io.Writer // when there is no file

	dir, pod, path string
	stateDir       string    // loglet's checkpoint state
	stderr         io.Writer // applib's own reports
	maxBytes       int64
	maxFiles       int
	now            func() time.Time

	f        *os.File
	size     int64     // bytes in f
	lastName time.Time // the time in the newest rotated name
	err      error     // rotation or pruning failures not yet reported
	retryAt  time.Time // when a failed rotation may be tried again
	closed   bool

	stats      Stats
	lost       lostRecords // dropped and not yet reported in the log
	waitUntil  time.Time   // MaxFiles rotated files wait for loglet: do not look again before
	waitErr    error       // why, while before waitUntil
	nextReport time.Time   // when Stderr may next hear of dropped records
	fragment   bool        // a failed write left part of a record at the end of f
}

// Stats counts what an Output knowingly lost, from Open on. Read it with
// [Output.Stats], for example from a Prometheus CounterFunc.
type Stats struct {
	// DroppedRecords and DroppedBytes count records Write did not write:
	// the write failed (the volume is full, ENOSPC) or <Pod>.log was full
	// while MaxFiles rotated files all waited for loglet to ship them.
	DroppedRecords, DroppedBytes int64
	// DeletedUnshippedFiles and DeletedUnshippedBytes count rotated files
	// deleted beyond MaxFiles without loglet having shipped them. That
	// happens only when loglet's state directory does not exist: no sidecar
	// reads the log directory.
	DeletedUnshippedFiles, DeletedUnshippedBytes int64
}

// lostRecords describes the records dropped since the last that was written.
type lostRecords struct {
	records, bytes int64
	from, until    time.Time
	reason         string // of the first drop
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
		stateDir: c.StateDir,
		stderr:   c.Stderr,
		maxBytes: c.MaxFileBytes,
		maxFiles: c.MaxFiles,
		now:      time.Now,
	}
	if o.stateDir == "" {
		o.stateDir = filepath.Join(c.Dir, shipped.DirName)
	}
	if o.stderr == nil {
		o.stderr = os.Stderr
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
	if _, err := o.prune(0); err != nil {
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
//
// A record that cannot be written, because the write fails (the volume is
// full) or because rotating would need a MaxFiles+1st rotated file while
// loglet has shipped none of them, is dropped: Write counts it in Stats,
// reports it on Stderr at most every 10 s and returns len(p) and no error,
// so that a logger neither fails nor prints an error per record. The next
// record written is preceded by one saying how many were dropped. Write
// never blocks on the volume or on loglet.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return 0, fmt.Errorf("applib: write: %w", os.ErrClosed)
	}
	if o.f == nil {
		return o.stdout.Write(p)
	}
	if o.lost.records > 0 {
		o.writeLost()
	}
	if err := o.writeRecord(p); err != nil {
		o.drop(len(p), err)
	}
	return len(p), nil
}

// writeRecord writes p to the active file, rotating first if it is full.
// A write that fails part way has its part removed again, so that no
// fragment of a record is ever shipped as a line of its own.
func (o *Output) writeRecord(p []byte) error {
	if o.size > 0 && o.size+int64(len(p)) > o.maxBytes {
		if err := o.rotate(); err != nil {
			return err
		}
	}
	buf := p
	if o.fragment {
		// A fragment could not be removed: end it, so it stays a line of
		// its own and p is not glued to it.
		buf = append([]byte{'\n'}, p...)
	}
	n, err := o.f.Write(buf)
	if err != nil {
		if n > 0 {
			if terr := o.f.Truncate(o.size); terr != nil {
				o.size += int64(n)
				o.fragment = true
			}
		}
		return fmt.Errorf("applib: write %s: %w", o.path, err)
	}
	o.size += int64(n)
	o.fragment = false
	return nil
}

// drop counts a record of n bytes that was not written because of err.
func (o *Output) drop(n int, err error) {
	now := o.now()
	o.stats.DroppedRecords++
	o.stats.DroppedBytes += int64(n)
	if o.lost.records == 0 {
		o.lost.from, o.lost.reason = now, err.Error()
	}
	o.lost.records++
	o.lost.bytes += int64(n)
	o.lost.until = now
	if now.Before(o.nextReport) {
		return
	}
	o.nextReport = now.Add(reportEvery)
	fmt.Fprintf(o.stderr, "applib: dropped %d log records (%d bytes) since %s, not written to %s: %v\n",
		o.lost.records, o.lost.bytes, o.lost.from.UTC().Format(timeLayout), o.path, err)
}

// writeLost writes the record that reports the records dropped since the
// last one written. If it cannot be written either, it waits for the next
// Write; it is never counted as dropped itself.
func (o *Output) writeLost() {
	l := o.lost
	e := getEncoder()
	defer putEncoder(e)
	for _, a := range []slog.Attr{
		Int("dropped_records", l.records),
		Int("dropped_bytes", l.bytes),
		slog.Time("dropped_from", l.from),
		slog.Time("dropped_until", l.until),
		String("reason", l.reason),
	} {
		e.addAttr("", a)
	}
	rec := e.appendRecord(nil, o.now(), "error", "applib dropped log records: the log volume was full or could not be written", "", 0, "")
	if o.writeRecord(rec) != nil {
		return
	}
	fmt.Fprintf(o.stderr, "applib: writing to %s again after dropping %d log records (%d bytes) from %s to %s: %s\n",
		o.path, l.records, l.bytes, l.from.UTC().Format(timeLayout), l.until.UTC().Format(timeLayout), l.reason)
	o.lost = lostRecords{}
	o.nextReport = time.Time{}
}

// errWaitingForLoglet is the reason a rotation is refused: MaxFiles rotated
// files exist and loglet has shipped none of them.
var errWaitingForLoglet = errors.New("the rotated files allowed by LOGLET_MAX_FILES all wait for loglet to ship them")

// rotate renames the active file to its rotated name and opens a fresh
// one, after deleting shipped rotated files to make room for it. It
// returns an error only when there is no room: MaxFiles rotated files wait
// for loglet, and the record must be dropped. On any other failure it
// leaves a file open at o.path so no record is lost, and keeps the error.
func (o *Output) rotate() error {
	now := o.now().UTC()
	if now.Before(o.waitUntil) {
		return o.waitErr
	}
	if o.err != nil && now.Before(o.retryAt) {
		return nil
	}
	room, err := o.prune(1)
	if err != nil {
		o.err = errors.Join(o.err, err)
	}
	if room != nil {
		o.waitUntil, o.waitErr = now.Add(rotateRetry), room
		return room
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
			return nil
		}
		if i == 1000 {
			o.fail(now, fmt.Errorf("applib: rotate %s: no free name near %s", o.path, target))
			return nil
		}
		now = now.Add(time.Nanosecond)
		target = o.rotatedPath(now)
	}
	if err := os.Rename(o.path, target); err != nil {
		o.fail(now, fmt.Errorf("applib: rotate: %w", err))
		return nil
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
		return nil
	}
	if err := o.f.Close(); err != nil {
		o.err = errors.Join(o.err, fmt.Errorf("applib: close rotated %s: %w", target, err))
	}
	o.f, o.size, o.fragment = f, size, false
	return nil
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

// prune deletes rotated files, oldest first, until at most maxFiles-room
// are left, deleting only files loglet has shipped to their last byte. It
// returns a non-nil room error when it could not get there, saying which
// file waits and why, and err for failures to list or delete. Without a
// loglet state directory it deletes the oldest files unshipped, reporting
// each. A file already gone (the sidecar deleted it once shipped) is not an
// error.
func (o *Output) prune(room int) (roomErr, err error) {
	entries, err := os.ReadDir(o.dir)
	if err != nil {
		// Rotating is tried all the same: if the directory is gone the
		// rename fails too and the record goes to the open file.
		return nil, fmt.Errorf("applib: list %s: %w", o.dir, err)
	}
	var rotated []string // ReadDir sorts by name, that is by time
	for _, e := range entries {
		if isRotated(o.pod, e.Name()) {
			rotated = append(rotated, e.Name())
		}
	}
	excess := len(rotated) - (o.maxFiles - room)
	if excess <= 0 {
		return nil, nil
	}
	state, serr := shipped.Read(o.stateDir)
	noState := errors.Is(serr, shipped.ErrNoState)
	if serr != nil && !noState {
		return fmt.Errorf("%w: cannot tell which are shipped: %w", errWaitingForLoglet, serr), nil
	}
	var errs []error
	var waiting string // the oldest file kept unshipped
	for _, name := range rotated {
		if excess == 0 {
			break
		}
		path := filepath.Join(o.dir, name)
		acked, size, err := state.Acked(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			excess--
			continue
		case err != nil:
			errs = append(errs, fmt.Errorf("applib: %w", err))
			continue
		case acked < size && !noState:
			if waiting == "" {
				waiting = fmt.Sprintf("%s: bytes %d-%d not acknowledged", name, acked, size)
			}
			continue
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("applib: delete old log: %w", err))
			continue
		}
		excess--
		if noState && size > 0 {
			o.stats.DeletedUnshippedFiles++
			o.stats.DeletedUnshippedBytes += size
			fmt.Fprintf(o.stderr, "applib: deleted %s, bytes 0-%d never shipped: more than %d rotated files and no loglet state in %s, so no sidecar ships them\n",
				path, size, o.maxFiles, o.stateDir)
		}
	}
	if excess > 0 {
		return fmt.Errorf("%w (%s)", errWaitingForLoglet, waiting), errors.Join(errs...)
	}
	return nil, errors.Join(errs...)
}

// Stats returns what the Output knowingly lost so far.
func (o *Output) Stats() Stats {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.stats
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
	err := o.takeErr()
	if o.f != nil && o.lost.records > 0 {
		o.writeLost()
		if l := o.lost; l.records > 0 {
			fmt.Fprintf(o.stderr, "applib: closing %s with %d log records (%d bytes) dropped from %s to %s and not reported in it: %s\n",
				o.path, l.records, l.bytes, l.from.UTC().Format(timeLayout), l.until.UTC().Format(timeLayout), l.reason)
		}
	}
	o.closed = true
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
