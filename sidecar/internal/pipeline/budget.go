package pipeline

import (
	"context"
	"sync"
)

// budget bounds the bytes of records handed to the sink and not yet
// acknowledged. When it is spent, readers wait: the file on the volume is
// the buffer, not memory.
//
// Concurrency: safe for concurrent use.
type budget struct {
	max int

	mu      sync.Mutex
	used    int
	waiters int
	freed   chan struct{} // closed and replaced when bytes are released to waiters
}

func newBudget(max int) *budget {
	return &budget{max: max, freed: make(chan struct{})}
}

// acquire takes n bytes, waiting while the budget is spent. A request larger
// than the whole budget is granted when nothing else is held, so one huge
// batch cannot wedge the pipeline.
func (b *budget) acquire(ctx context.Context, n int) error {
	for {
		b.mu.Lock()
		if b.used == 0 || b.used+n <= b.max {
			b.used += n
			b.mu.Unlock()
			return nil
		}
		b.waiters++
		ch := b.freed
		b.mu.Unlock()
		select {
		case <-ch:
			b.mu.Lock()
			b.waiters--
			b.mu.Unlock()
		case <-ctx.Done():
			b.mu.Lock()
			b.waiters--
			b.mu.Unlock()
			return ctx.Err()
		}
	}
}

// release returns n bytes.
func (b *budget) release(n int) {
	b.mu.Lock()
	b.used -= n
	if b.waiters > 0 {
		close(b.freed)
		b.freed = make(chan struct{})
	}
	b.mu.Unlock()
}

// resize changes a holding of from bytes to to bytes without waiting: what
// is not needed is released, and an overshoot (a batch's last record) is
// taken at once, so that a reader holding budget never waits for more.
func (b *budget) resize(from, to int) {
	b.mu.Lock()
	b.used += to - from
	if to < from && b.waiters > 0 {
		close(b.freed)
		b.freed = make(chan struct{})
	}
	b.mu.Unlock()
}

// inUse returns the bytes currently held.
func (b *budget) inUse() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
