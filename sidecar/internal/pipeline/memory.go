package pipeline

import (
	"runtime"
	"runtime/debug"
	"time"
)

// quietRelease is how long the pipeline must have read nothing, with
// every record acknowledged, before it gives the memory it no longer uses
// back to the operating system.
const quietRelease = 10 * time.Second

// quietMemory releases memory once per quiet spell. After a burst, the Go
// runtime keeps the heap it grew to (batches, read buffers, compression
// buffers) until later collections, which an idle process rarely runs; a
// sidecar in every pod should not hold a burst's memory through the quiet
// hours that follow.
//
// Concurrency: used by the pipeline's Run goroutine only.
type quietMemory struct {
	after   time.Duration // quiet time before releasing
	release func()        // releaseMemory, or a test's stand-in

	activity int64     // the activity count at the last check
	since    time.Time // when it last changed
	released bool      // released since it last changed
}

func newQuietMemory() quietMemory {
	// Released at start: nothing was read, so there is nothing to give back.
	return quietMemory{after: quietRelease, release: releaseMemory, released: true}
}

// check is called with a count that grows while files are read, and
// whether everything read is acknowledged. It releases memory when the
// count has not moved for the quiet time and nothing is in flight. It
// reports whether it is done for this quiet spell; while it is not, the
// caller checks again after the quiet time.
func (q *quietMemory) check(activity int64, settled bool, now time.Time) (done bool) {
	if activity != q.activity {
		q.activity, q.since, q.released = activity, now, false
		return false
	}
	if q.released {
		return true
	}
	if !settled || now.Sub(q.since) < q.after {
		return false
	}
	q.released = true
	q.release()
	return true
}

// releaseMemory collects twice, so that what sync.Pools hold (pooled
// batches, kafka-go's and the codecs' buffers survive one collection) is
// freed too, and returns the free memory to the operating system.
func releaseMemory() {
	runtime.GC()
	debug.FreeOSMemory()
}
