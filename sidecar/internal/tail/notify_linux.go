package tail

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// notifyMask is what Notify watches: a name appearing, vanishing or moving.
const notifyMask = syscall.IN_CREATE | syscall.IN_MOVED_TO | syscall.IN_MOVED_FROM | syscall.IN_DELETE |
	syscall.IN_DELETE_SELF | syscall.IN_MOVE_SELF

// Notifier watches a directory with inotify and signals, as soon as a name
// in it is created, removed or renamed, so that the caller scans at once
// and opens a new file within milliseconds of its creation: a file that
// lives for 20 ms is still found and read. The watch is in place when
// NewNotifier returns, so a scan made after it misses nothing.
//
// Concurrency: Run is called once, from one goroutine, which it blocks; it
// starts none. The inotify descriptor is read through the runtime's poller
// and woken for cancellation by a read deadline, never closed from another
// goroutine.
type Notifier struct {
	dir string
	f   *os.File
}

// NewNotifier starts watching dir. It fails where inotify is not available
// (the caller then relies on Watch's polling alone).
func NewNotifier(dir string) (*Notifier, error) {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	f := os.NewFile(uintptr(fd), "inotify")
	if _, err := syscall.InotifyAddWatch(fd, dir, notifyMask); err != nil {
		f.Close()
		return nil, fmt.Errorf("inotify watch %s: %w", dir, err)
	}
	return &Notifier{dir: dir, f: f}, nil
}

// Run sends on changed (without blocking; one pending signal is enough) for
// every batch of events, until ctx ends; it then closes the watch.
func (n *Notifier) Run(ctx context.Context, changed chan<- struct{}) error {
	defer n.f.Close()
	stop := context.AfterFunc(ctx, func() { n.f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, 16<<10)
	for {
		got, err := n.f.Read(buf)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			continue
		}
		if err != nil {
			return fmt.Errorf("inotify read %s: %w", n.dir, err)
		}
		if got > 0 {
			signal(changed)
		}
	}
}
