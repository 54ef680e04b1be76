package pipeline

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestProcs(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	type step struct {
		busy bool // busy, else keptUp
		at   time.Duration
	}
	tests := []struct {
		name  string
		steps []step
		want  []bool // the switches made, in order (true: wide)
	}{
		{"keeps up from the start: narrows after narrowAfter",
			[]step{{false, time.Second}, {false, narrowAfter - 1}, {false, narrowAfter}, {false, 2 * narrowAfter}},
			[]bool{false}},
		{"a backlog at start keeps it wide",
			[]step{{true, 4 * time.Second}, {false, narrowAfter}, {false, 4*time.Second + narrowAfter}},
			[]bool{false}},
		{"a backlog later widens at once, once",
			[]step{{false, narrowAfter}, {true, 6 * time.Second}, {true, 7 * time.Second}, {false, 8 * time.Second}, {false, 7*time.Second + narrowAfter}},
			[]bool{false, true, false}},
		{"busy while wide switches nothing",
			[]step{{true, time.Second}, {true, 2 * time.Second}},
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []bool
			c := &procs{set: func(wide bool) { got = append(got, wide) }, wide: true, lastBusy: t0}
			for _, s := range tt.steps {
				if s.busy {
					c.busy(at(s.at))
				} else {
					c.keptUp(at(s.at))
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("switches (-want +got):\n%s", diff)
			}
		})
	}
}

// The user's GOMAXPROCS wins: the controller switches nothing.
func TestProcsUserSet(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	c := newProcs(true, time.Unix(0, 0))
	c.keptUp(time.Unix(0, 0).Add(time.Hour))
	c.busy(time.Unix(0, 0).Add(2 * time.Hour))
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Errorf("GOMAXPROCS = %d, want %d (untouched)", got, before)
	}
	if !c.off {
		t.Error("controller on although GOMAXPROCS is set")
	}
}

// The readers report to the controller: a small write read in one go is
// kept up with (the scheduler narrows once nothing was busy for a while);
// a run of reads without reaching the end that lasts backlogAfter (here
// zero: any second read) widens it, and a shorter one (here an hour) does
// not.
func TestReadersReportToProcs(t *testing.T) {
	for _, tc := range []struct {
		backlogAfter time.Duration
		want         []bool
	}{
		{0, []bool{false, true}},
		{time.Hour, []bool{false}},
	} {
		t.Run(tc.backlogAfter.String(), func(t *testing.T) {
			var mu sync.Mutex
			var got []bool
			e := newEnv(t, "", nil)
			e.prepare = func(p *Pipeline) {
				p.procs = &procs{set: func(wide bool) { mu.Lock(); got = append(got, wide); mu.Unlock() },
					backlogAfter: tc.backlogAfter, wide: true, lastBusy: time.Now().Add(-time.Hour)}
			}
			e.start()
			e.write("app.log", jsonLines(0, 10))
			e.waitRecords(10)
			e.write("app.log", jsonLines(10, 5000)) // far more than one read of tail.DefaultReadSize
			e.waitRecords(5010)
			e.stop()
			mu.Lock()
			defer mu.Unlock()
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("switches (-want +got):\n%s", diff)
			}
		})
	}
}
