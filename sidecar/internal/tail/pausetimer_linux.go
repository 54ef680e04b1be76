package tail

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// pauseTimer times a pause with a timerfd read through the runtime's
// poller, instead of a runtime timer.
//
// Why: the Go runtime waits for its timers in epoll_pwait, whose timeout
// is in whole milliseconds, rounded down. A runtime timer 250 ms away
// therefore wakes the process about half a millisecond early, and again a
// millisecond later, and meanwhile the runtime's sysmon thread, seeing a
// timer due, naps in 20 µs steps. On a quiet sidecar that was half of the
// cost of each read (see the README's Performance section). A timerfd
// expires once, at the nanosecond, and is one readable descriptor to the
// poller.
//
// Concurrency: wait is called from one goroutine; cancel may be called
// from any, and makes a wait in progress (and every later one) return at
// once. A nil *pauseTimer is valid and not ok.
type pauseTimer struct {
	fd int      // for timerfd_settime (f.Fd would make f blocking)
	f  *os.File // for reading through the poller
}

// newPauseTimer returns a timer, or nil where timerfd is not available
// (the caller then uses a runtime timer).
func newPauseTimer() *pauseTimer {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil
	}
	return &pauseTimer{fd: fd, f: os.NewFile(uintptr(fd), "timerfd")}
}

func (t *pauseTimer) ok() bool { return t != nil }

// wait blocks for d, or until cancel.
func (t *pauseTimer) wait(d time.Duration) {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(max(int64(d), 1))}
	if err := unix.TimerfdSettime(t.fd, 0, &spec, nil); err != nil {
		time.Sleep(d)
		return
	}
	// The read returns the expiry count once the timer fired, or fails
	// with the deadline cancel sets.
	var buf [8]byte
	t.f.Read(buf[:])
}

// cancel ends every wait, now and later.
func (t *pauseTimer) cancel() {
	if t != nil {
		t.f.SetReadDeadline(time.Unix(1, 0))
	}
}

func (t *pauseTimer) close() {
	if t != nil {
		t.f.Close()
	}
}
