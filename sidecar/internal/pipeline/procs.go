package pipeline

import (
	"runtime"
	"sync"
	"time"
)

// narrowAfter is how long the readers must have kept up (no read found a
// backlog) before the scheduler goes back to one processor.
const narrowAfter = 5 * time.Second

// backlogAfter is how long a reader reads without reaching the end of its
// file before that counts as a backlog. A coalesced read at 10,000 lines/s
// (about 550 KB after a 300 ms pause, several reads of 64 KiB) takes a few
// milliseconds: that is keeping up, and one processor does it for less.
const backlogAfter = 50 * time.Millisecond

// procs runs the Go scheduler on one processor while loglet keeps up with
// its files, and on the runtime's default (the container's CPU limit, or
// the machine's CPUs) while a backlog is read.
//
// At low rates a sidecar's cost is its wake-ups, not its lines. With more
// than one processor, every hand-off between goroutines (the notifier, the
// reader, the sink, kafka-go's connection, the acknowledgement) also wakes
// a second thread, which finds nothing to do and sleeps again. make bench,
// 100 lines/s in bursts, 10 s under strace on the same binary: 3,433
// system calls and 0.82% of a core with two processors, 2,253 and 0.62%
// with one. A backlog (a catch-up after an outage, or a burst) is read with
// every processor, as before.
//
// It stays out of the way where it has nothing to choose: when the
// GOMAXPROCS environment variable is set (the user's choice wins) or the
// default is one processor anyway (a CPU limit of one core or less).
//
// Concurrency: reading, busy and keptUp may be called from any goroutine.
type procs struct {
	off bool
	// set switches the scheduler (runtime calls; a test's stand-in).
	set func(wide bool)
	// backlogAfter: see the constant (zero in a test: any second read).
	backlogAfter time.Duration

	mu       sync.Mutex
	wide     bool
	lastBusy time.Time
}

// newProcs returns the controller for this process: userSet tells that
// GOMAXPROCS is set in the environment. The scheduler starts wide (a start
// often has a backlog) and narrows once the readers keep up.
func newProcs(userSet bool, now time.Time) *procs {
	if userSet || runtime.GOMAXPROCS(0) <= 1 {
		return &procs{off: true}
	}
	return &procs{set: setProcs, backlogAfter: backlogAfter, wide: true, lastBusy: now}
}

// setProcs switches between one processor and the runtime's default (which
// also turns the runtime's own updates from the CPU limit back on).
func setProcs(wide bool) {
	if wide {
		runtime.SetDefaultGOMAXPROCS()
	} else {
		runtime.GOMAXPROCS(1)
	}
}

// reading reports a read that found data, in a run of such reads that
// started at since without reaching the end of the file. Once the run has
// lasted backlogAfter, it is a backlog (see busy).
func (c *procs) reading(since, now time.Time) {
	if c.off || now.Sub(since) < c.backlogAfter {
		return
	}
	c.busy(now)
}

// busy reports a backlog. The scheduler widens at once.
func (c *procs) busy(now time.Time) {
	if c.off {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastBusy = now
	if !c.wide {
		c.wide = true
		c.set(true)
	}
}

// keptUp reports a read that found the end of its file. The scheduler
// narrows once no read found a backlog for narrowAfter.
func (c *procs) keptUp(now time.Time) {
	if c.off {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wide && now.Sub(c.lastBusy) >= narrowAfter {
		c.wide = false
		c.set(false)
	}
}
