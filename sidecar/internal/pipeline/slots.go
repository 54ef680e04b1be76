package pipeline

import (
	"context"
	"sync/atomic"
	"time"
)

// slots bounds how many files are read at the same time
// (LOGLET_MAX_OPEN_FILES). A reader holds a slot only while it reads: it
// gives it back whenever it waits at the end of its file, and after each
// batch it hands out while another reader waits for one. Waiters are served
// in order (a channel's senders queue first in, first out), so no file waits
// while others keep their slots, however many files there are.
//
// Concurrency: safe for concurrent use.
type slots struct {
	ch      chan struct{}
	waiting atomic.Int32
}

func newSlots(n int) slots { return slots{ch: make(chan struct{}, n)} }

// acquire takes a slot, waiting until one is free or ctx ends.
func (s *slots) acquire(ctx context.Context) error {
	select {
	case s.ch <- struct{}{}:
		return nil
	default:
	}
	s.waiting.Add(1)
	defer s.waiting.Add(-1)
	select {
	case s.ch <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// release gives a slot back.
func (s *slots) release() { <-s.ch }

// contended reports whether a reader is waiting for a slot.
func (s *slots) contended() bool { return s.waiting.Load() > 0 }

// pause gives the read slot back, waits for d (or until ctx ends), and
// takes a slot again behind the readers already waiting for one, so that
// other files are read meanwhile. It reports false when no slot could be
// had before the send context ended (a shutdown that timed out).
func (fr *fileReader) pause(ctx context.Context, d time.Duration) bool {
	p := fr.p
	p.slots.release()
	*fr.held = false
	if d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	return fr.reacquire()
}

// wait is pause at the end of the file: it also ends when inotify reports
// the file written, and reports whether that is what woke it.
func (fr *fileReader) wait(ctx context.Context, d time.Duration) (ok, woken bool) {
	fr.p.slots.release()
	*fr.held = false
	t := time.NewTimer(d)
	select {
	case <-fr.fl.wake:
		woken = true
	case <-t.C:
	case <-ctx.Done():
	}
	t.Stop()
	return fr.reacquire(), woken
}

// reacquire takes a read slot again after a pause.
func (fr *fileReader) reacquire() bool {
	if fr.p.slots.acquire(fr.ctx) != nil {
		return false
	}
	*fr.held = true
	return true
}
