package tail

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Op is what happened to a name in a watched directory.
type Op int

const (
	// Written is data written to (or a truncation of) the named file.
	Written Op = 1 << iota
	// Listed is the directory's list changing: a name created, removed or
	// moved, or the directory itself removed or moved.
	Listed
	// Overflow is the kernel's event queue overflowing: events were lost,
	// so every file may have changed.
	Overflow
)

// Event is one change a Notifier reports.
type Event struct {
	Op   Op
	Name string // the entry's name; empty for the directory itself and Overflow
}

// Which events a Notifier watches.
const (
	// NamesOnly watches the directory's list: creations, removals, moves.
	NamesOnly = syscall.IN_CREATE | syscall.IN_MOVED_TO | syscall.IN_MOVED_FROM | syscall.IN_DELETE |
		syscall.IN_DELETE_SELF | syscall.IN_MOVE_SELF
	// WritesOnly watches data written to the directory's files.
	WritesOnly = syscall.IN_MODIFY
)

// Notifier watches a directory with inotify and reports its changes as
// soon as the kernel does. The watch is in place when NewNotifier returns,
// so a scan made after it misses nothing: with NamesOnly, a file that lives
// for 20 ms is still found and read.
//
// With Coalesce set, the Notifier pauses that long after reporting, before
// it reads the kernel's queue again: the kernel merges repeated writes to
// one file into one event meanwhile, so an app that writes a line every 10
// ms wakes the sidecar about three times a second with a 300 ms pause,
// not a hundred.
//
// The queue is only in the runtime's poller while the Notifier waits for
// it to fill: after a pause it is read directly, and only when that finds
// it empty is a duplicate of the descriptor registered for the wait (and
// removed once it returns). Otherwise the first write during each pause
// would wake the process for nothing: the poller watches edge-triggered,
// and an event the kernel does not merge into the queue's last one is an
// edge. While an app writes steadily, a pause then costs one wake-up, the
// timer's, where the first write in it was a second (see the README's
// Performance section).
//
// Concurrency: Run is called once, from one goroutine, which it blocks; it
// starts none. The inotify descriptor, and the timerfd that times the
// pause, are waited for through the runtime's poller and woken for
// cancellation by a read deadline, never closed from another goroutine.
type Notifier struct {
	// Coalesce is the pause after each report; zero reports at once.
	Coalesce time.Duration

	dir   string
	fd    int         // the inotify descriptor, non-blocking; Run closes it
	timer *pauseTimer // times the Coalesce pause
}

// pause waits for Coalesce; it reports false when ctx ended.
func (n *Notifier) pause(ctx context.Context) bool {
	if n.timer.ok() {
		n.timer.wait(n.Coalesce)
		return ctx.Err() == nil
	}
	t := time.NewTimer(n.Coalesce)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// NewNotifier starts watching dir for the events of mask (NamesOnly,
// WritesOnly, or both). It fails where inotify is not available (the
// caller then relies on polling).
func NewNotifier(dir string, mask uint32) (*Notifier, error) {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	if _, err := syscall.InotifyAddWatch(fd, dir, mask); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("inotify watch %s: %w", dir, err)
	}
	return &Notifier{dir: dir, fd: fd}, nil
}

// Run calls report with every batch of events read from the kernel, until
// ctx ends; it then closes the watch. report runs on Run's goroutine and
// must not block for long; events is only valid during the call.
func (n *Notifier) Run(ctx context.Context, report func(events []Event)) error {
	defer syscall.Close(n.fd)
	if n.Coalesce > 0 {
		n.timer = newPauseTimer()
		defer n.timer.close()
		stop := context.AfterFunc(ctx, n.timer.cancel)
		defer stop()
	}
	buf := make([]byte, 16<<10)
	var events []Event
	for {
		got, err := syscall.Read(n.fd, buf)
		if err == syscall.EAGAIN {
			got, err = n.wait(ctx, buf)
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("inotify read %s: %w", n.dir, err)
		}
		events = parseEvents(events[:0], buf[:got])
		if len(events) > 0 {
			report(events)
		}
		if n.Coalesce > 0 && !n.pause(ctx) {
			return nil
		}
	}
}

// wait reads the queue into buf once it is not empty, through the runtime's
// poller: a duplicate of the descriptor is registered for the wait, and
// removed (closed) when it returns. It returns early, with ctx's error
// noticed by the caller, when ctx ends.
func (n *Notifier) wait(ctx context.Context, buf []byte) (int, error) {
	dup, err := unix.FcntlInt(uintptr(n.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	f := os.NewFile(uintptr(dup), "inotify")
	defer f.Close()
	stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var got int
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		got, rerr = syscall.Read(int(fd), buf)
		return rerr != syscall.EAGAIN
	})
	if err != nil {
		return 0, err
	}
	return got, rerr
}

// parseEvents appends the events in buf, a run of struct inotify_event.
func parseEvents(events []Event, buf []byte) []Event {
	for len(buf) >= syscall.SizeofInotifyEvent {
		raw := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[0]))
		end := syscall.SizeofInotifyEvent + int(raw.Len)
		if end > len(buf) {
			break
		}
		name := buf[syscall.SizeofInotifyEvent:end]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		var op Op
		switch {
		case raw.Mask&syscall.IN_Q_OVERFLOW != 0:
			op = Overflow
		case raw.Mask&syscall.IN_MODIFY != 0:
			op = Written
		case raw.Mask&(NamesOnly|syscall.IN_IGNORED) != 0:
			op = Listed
		}
		if op != 0 {
			events = append(events, Event{Op: op, Name: string(name)})
		}
		buf = buf[end:]
	}
	return events
}
