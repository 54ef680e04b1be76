package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPodLimiter(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	type call struct {
		Pod        string
		At         time.Time
		OK         bool
		Suppressed int
	}
	// Burst 2, then one per 10s.
	calls := []call{
		{"a", at(0), true, 0},
		{"a", at(0), true, 0},
		{"b", at(0), true, 0}, // pods do not share buckets
		{"a", at(1), false, 0},
		{"a", at(2), false, 0},
		{"a", at(9.9), false, 0},
		{"a", at(10), true, 3}, // one token earned; reports the three refused
		{"a", at(10), false, 0},
		{"a", at(100), true, 1}, // bucket refilled, but only to the burst
		{"a", at(100), true, 0},
		{"a", at(100), false, 0},
		{"a", at(50), false, 0}, // a clock going backwards earns nothing
	}
	l := newPodLimiter(2, 10*time.Second)
	var got []call
	for _, c := range calls {
		ok, n := l.allow(c.Pod, c.At)
		got = append(got, call{c.Pod, c.At, ok, n})
	}
	if diff := cmp.Diff(calls, got); diff != "" {
		t.Errorf("allow (-want +got):\n%s", diff)
	}
}

func TestPodLimiterForgetsIdlePods(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l := newPodLimiter(1, time.Second)
	for i := range maxIdlePods {
		l.allow(fmt.Sprint("pod-", i), t0)
	}
	l.allow("noisy", t0)
	l.allow("noisy", t0) // refused: noisy keeps a count to report
	if len(l.pods) != maxIdlePods+1 {
		t.Fatalf("%d pods remembered, want %d", len(l.pods), maxIdlePods+1)
	}
	l.allow("new", t0.Add(time.Hour))
	if len(l.pods) != 2 {
		t.Errorf("after an hour %d pods remembered, want 2 (noisy and new)", len(l.pods))
	}
	if ok, n := l.allow("noisy", t0.Add(time.Hour)); !ok || n != 1 {
		t.Errorf("noisy after an hour: allow = %v, %d; want true, 1", ok, n)
	}
}
