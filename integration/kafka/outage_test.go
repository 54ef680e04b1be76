package kafka_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/loglet/loglet/integration/internal/harness"
)

// TestOutage stops the broker for 20 s while the app keeps writing: nothing
// is lost, each file's order is kept, /status/kafka reports the outage and the
// recovery, and the sidecar's peak RSS stays within its buffer bound plus a
// fixed overhead although the app wrote far more than that meanwhile.
func TestOutage(t *testing.T) {
	const (
		bufferBytes = 4 << 20
		overhead    = 40 << 20 // Go runtime, kafka-go, a produce request, HTTP, metrics
		outage      = 20 * time.Second
	)
	k := harness.StartKafka(t, true, kfake.NumBrokers(1))
	k.Fake(t)
	p := newPod(t, "web-1", uniq("outage"), nil)
	k.CreateTopic(t, p.topic(), 1)
	sc := harness.StartSidecar(t, p.env(k, "LOGLET_MAX_BUFFER_BYTES=4MiB"))
	w := startSeqWriter(t, p.app.Path, 1<<30, 150, 10*time.Millisecond, 300) // about 4.5 MB/s

	sc.WaitFor(t, 20*time.Second, "delivery before the outage", func() bool { return k.Count(t, p.topic()) > 10_000 })
	k.Stop(t)
	before := w.written()
	outageEnd := time.Now().Add(outage)
	sc.WaitFor(t, outage, "/status/kafka failing during the outage", func() bool { s, _ := sc.Get("/status/kafka"); return s == 503 })
	time.Sleep(time.Until(outageEnd))
	during := w.written() - before
	peak := sc.PeakRSS(t)
	k.Restart(t)

	sc.WaitFor(t, 30*time.Second, "/status/kafka 200 after the outage", func() bool { s, _ := sc.Get("/status/kafka"); return s == 200 })
	// The recovery line gives the outage's length in readable units
	// ("after":"21.337s"), not integer nanoseconds.
	sc.WaitFor(t, 10*time.Second, "the recovery log line", func() bool { return strings.Contains(sc.Output(), "Kafka requests succeed again") })
	if m := regexp.MustCompile(`"msg":"Kafka requests succeed again".*"after":("[0-9.]+(m|s|ms)[0-9.ms]*"|[0-9]+)`).FindStringSubmatch(sc.Output()); m == nil || !strings.HasPrefix(m[1], `"`) {
		t.Errorf(`the recovery line does not give "after" as a readable duration: %q`, m)
	}
	time.Sleep(2 * time.Second)
	w.halt()
	total := w.next
	sc.WaitFor(t, 2*time.Minute, "every line in Kafka", func() bool { return k.Count(t, p.topic()) >= int64(total) })

	recs := records(t, k.Read(t, p.topic(), total, time.Minute))
	next := 0
	for i, r := range recs {
		switch {
		case r.seq == next:
			next++
		case r.seq > next:
			t.Fatalf("record %d: line %d before line %d: order lost or a line missing", i, r.seq, next)
		} // r.seq < next: a duplicate of a retried request
	}
	if next != total {
		t.Errorf("%d of %d lines reached Kafka", next, total)
	}
	t.Logf("%d lines (%d records); %d MiB written during the outage; peak RSS %d MiB", total, len(recs), during>>20, peak>>20)
	if during < 3*(bufferBytes+overhead)/2 {
		t.Fatalf("the app wrote only %d MiB during the outage: too little to tell a bounded buffer from an unbounded one", during>>20)
	}
	if peak > bufferBytes+overhead {
		t.Errorf("peak RSS %d MiB > buffer %d MiB + overhead %d MiB", peak>>20, bufferBytes>>20, overhead>>20)
	}
}
