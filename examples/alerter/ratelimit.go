package main

import "time"

// podLimiter is a token bucket per pod: a pod may cause burst alerts at once,
// then one more per interval. It counts what it refuses so the next alert can
// say so. It is not safe for concurrent use; the alerter handles one record
// at a time.
type podLimiter struct {
	burst     int
	interval  time.Duration
	pods      map[string]*bucket
	lastPrune time.Time
}

type bucket struct {
	tokens     float64
	last       time.Time
	suppressed int
}

// maxIdlePods is how many pods the limiter remembers before it forgets those
// whose buckets are full again (as if never seen).
const maxIdlePods = 4096

func newPodLimiter(burst int, interval time.Duration) *podLimiter {
	return &podLimiter{burst: burst, interval: interval, pods: map[string]*bucket{}}
}

// allow reports whether pod may cause an alert at now, and if so how many of
// its alerts were refused since its last allowed one.
func (l *podLimiter) allow(pod string, now time.Time) (ok bool, suppressed int) {
	b := l.pods[pod]
	if b == nil {
		if len(l.pods) >= maxIdlePods {
			l.prune(now)
		}
		b = &bucket{tokens: float64(l.burst), last: now}
		l.pods[pod] = b
	}
	l.refill(b, now)
	if b.tokens < 1 {
		b.suppressed++
		return false, 0
	}
	b.tokens--
	suppressed, b.suppressed = b.suppressed, 0
	return true, suppressed
}

func (l *podLimiter) refill(b *bucket, now time.Time) {
	if now.After(b.last) {
		b.tokens += float64(now.Sub(b.last)) / float64(l.interval)
		b.last = now
	}
	b.tokens = min(b.tokens, float64(l.burst))
}

// prune forgets pods with full buckets and nothing suppressed, at most once
// per interval.
func (l *podLimiter) prune(now time.Time) {
	if now.Sub(l.lastPrune) < l.interval {
		return
	}
	l.lastPrune = now
	for pod, b := range l.pods {
		l.refill(b, now)
		if b.tokens >= float64(l.burst) && b.suppressed == 0 {
			delete(l.pods, pod)
		}
	}
}
