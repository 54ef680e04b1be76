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

// Notify watches dir with inotify and sends on changed (without blocking)
// as soon as a name in it is created, removed or renamed, so that the caller
// scans at once and opens a new file within milliseconds of its creation: a
// file that lives for 20 ms is still found and read. It returns when ctx
// ends, or at once with an error when inotify is not available (the caller
// then relies on Watch's polling alone).
//
// Concurrency: Notify blocks its caller's goroutine and starts none; the
// inotify descriptor is read through the runtime's poller and woken for
// cancellation by a read deadline, never closed from another goroutine.
func Notify(ctx context.Context, dir string, changed chan<- struct{}) error {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("inotify: %w", err)
	}
	f := os.NewFile(uintptr(fd), "inotify")
	defer f.Close()
	if _, err := syscall.InotifyAddWatch(fd, dir, notifyMask); err != nil {
		return fmt.Errorf("inotify watch %s: %w", dir, err)
	}
	stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, 16<<10)
	for {
		n, err := f.Read(buf)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			continue
		}
		if err != nil {
			return fmt.Errorf("inotify read %s: %w", dir, err)
		}
		if n > 0 {
			signal(changed)
		}
	}
}
