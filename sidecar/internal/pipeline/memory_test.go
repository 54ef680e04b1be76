package pipeline

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/loglet/loglet/sidecar/internal/sink"
)

func TestQuietMemoryReleasesOncePerQuietSpell(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	type check struct {
		at       int // seconds after t0
		activity int64
		settled  bool
	}
	for _, tc := range []struct {
		name   string
		checks []check
		want   []int // the checks (by index) that released
	}{
		{"nothing ever read", []check{{0, 0, true}, {20, 0, true}, {60, 0, true}}, nil},
		{"quiet after a burst", []check{{0, 100, true}, {5, 200, true}, {10, 200, true}, {15, 200, true}, {16, 200, true}, {40, 200, true}}, []int{3}},
		{"in flight delays the release", []check{{0, 100, true}, {11, 100, false}, {30, 100, false}, {31, 100, true}}, []int{3}},
		{"each burst is released after its quiet", []check{{0, 100, true}, {10, 100, true}, {12, 150, true}, {21, 150, true}, {22, 150, true}}, []int{1, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := newQuietMemory()
			var got []int
			current := -1
			q.release = func() { got = append(got, current) }
			for i, c := range tc.checks {
				current = i
				q.check(c.activity, c.settled, at(c.at))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("releases (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPipelineReleasesMemoryWhenQuiet(t *testing.T) {
	var releases atomic.Int32
	e := newEnv(t, "", nil)
	e.prepare = func(p *Pipeline) {
		p.quiet.after = 200 * time.Millisecond
		p.quiet.release = func() { releases.Add(1) }
	}
	e.write("app.log", jsonLines(0, 100))
	e.start()
	e.waitRecords(100)
	eventually(t, "memory released after the burst", func() bool { return releases.Load() == 1 })
	time.Sleep(400 * time.Millisecond)
	if n := releases.Load(); n != 1 {
		t.Fatalf("%d releases in one quiet spell", n)
	}
	e.write("app.log", jsonLines(100, 10))
	e.waitRecords(110)
	eventually(t, "memory released after the second burst", func() bool { return releases.Load() == 2 })
	e.stop()
	// The real release runs, and does not disturb a running process.
	releaseMemory()
}

// contiguousSink checks that every batch's record values lie back to back
// in one array (the batch's arena), then acknowledges the batch.
type contiguousSink struct {
	mu     sync.Mutex
	values []string
	broken []string
}

func (s *contiguousSink) Send(_ context.Context, b *sink.Batch) error {
	s.mu.Lock()
	for i, r := range b.Records {
		s.values = append(s.values, string(r.Value))
		if i > 0 {
			prev := b.Records[i-1].Value
			if unsafe.Pointer(unsafe.SliceData(r.Value)) != unsafe.Add(unsafe.Pointer(unsafe.SliceData(prev)), len(prev)) {
				s.broken = append(s.broken, fmt.Sprintf("record %d of a batch of %d", i, len(b.Records)))
			}
		}
	}
	s.mu.Unlock()
	b.Ack()
	return nil
}

func (s *contiguousSink) Run(ctx context.Context) error { <-ctx.Done(); return nil }

func TestRecordsFollowTheArenaWhenItGrows(t *testing.T) {
	s := &contiguousSink{}
	e := newEnv(t, "", nil)
	e.sink = s
	// Quotes are escaped: the record of the long plain line is twice the
	// estimate, so encoding it moves the arena under the records before it.
	quotes := strings.Repeat(`"`, 24<<10)
	e.write("app.log", jsonLines(0, 3)+quotes+"\n"+jsonLines(3, 3))
	e.start()
	eventually(t, "7 records", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.values) == 7
	})
	e.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.broken) > 0 {
		t.Errorf("values not in the batch's arena: %v", s.broken)
	}
	var got []string
	for _, v := range s.values {
		got = append(got, records(t, v)[0].Msg)
	}
	if diff := cmp.Diff(append(append(lineMsgs(0, 3), quotes), lineMsgs(3, 3)...), got); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
}
