package pipeline

import (
	"context"
	"sync/atomic"
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
