package kafka_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/loglet/loglet/integration/internal/harness"
)

// TestLostProduceAnswersExactlyOnce is issue 13's second test with the real
// binary: the broker stores a produce request's records but answers
// REQUEST_TIMED_OUT, several times. loglet reads the partition back before
// retrying, so no line arrives twice and none is lost.
func TestLostProduceAnswersExactlyOnce(t *testing.T) {
	k := harness.StartKafka(t, false, kfake.NumBrokers(1))
	p := newPod(t, "web-1", uniq("lost"), nil)
	k.CreateTopic(t, p.topic(), 1)
	k.Fake(t).Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: p.topic(), Err: kerr.RequestTimedOut, Count: 5})
	sc := harness.StartSidecar(t, p.env(k, "LOGLET_KAFKA_BATCH_BYTES=4096", "LOGLET_KAFKA_LINGER=1ms"))
	const total = 2000
	log := p.app.Logrus(true)
	for i := range total {
		log.WithField("seq", i).Info("request served")
		if i%100 == 99 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	sc.WaitFor(t, time.Minute, "every line in Kafka", func() bool { return k.Count(t, p.topic()) >= total })
	time.Sleep(time.Second)
	checkExactlyOnce(t, records(t, k.Read(t, p.topic(), total, time.Minute)), total, "web-1")
	if n := sc.Metric("loglet_kafka_readback_skipped_records_total"); n <= 0 {
		t.Errorf("loglet_kafka_readback_skipped_records_total = %v: no lost answer was read back", n)
	}
}

// TestOtherPodsOnThePartitionAreNotMistaken is issue 13's fifth test: two
// pods write to the same topic's single partition while each is SIGKILLed
// and restarted; each pod's read-back keeps only its own records, so each
// pod's lines arrive exactly once.
func TestOtherPodsOnThePartitionAreNotMistaken(t *testing.T) {
	k := harness.StartKafka(t, false, kfake.NumBrokers(1))
	ns := uniq("shared")
	a, b := newPod(t, "web-1", ns, nil), newPod(t, "web-2", ns, nil)
	k.CreateTopic(t, a.topic(), 1)
	const total = 60_000
	wa := startRotatingWriter(t, a.app.Path, total, 300, 20_000, 10*time.Millisecond)
	wb := startRotatingWriter(t, b.app.Path, total, 300, 20_000, 10*time.Millisecond)
	ea, eb := a.env(k), b.env(k)
	sa, sb := harness.StartSidecar(t, ea), harness.StartSidecar(t, eb)
	for kill := range 5 {
		time.Sleep(time.Duration(300+kill*150) * time.Millisecond)
		sa.Kill()
		sa = harness.StartSidecar(t, ea)
		time.Sleep(100 * time.Millisecond)
		sb.Kill()
		sb = harness.StartSidecar(t, eb)
	}
	wa.done.Wait()
	wb.done.Wait()
	sa.WaitFor(t, 2*time.Minute, "every line of both pods in Kafka", func() bool { return k.Count(t, a.topic()) >= 2*total })
	time.Sleep(2 * time.Second)
	msgs := k.Read(t, a.topic(), 2*total, time.Minute)
	byPod := map[string][]harness.Message{}
	for _, m := range msgs {
		byPod[m.Key] = append(byPod[m.Key], m)
	}
	for _, pod := range []string{"web-1", "web-2"} {
		checkExactlyOnce(t, records(t, byPod[pod]), total, pod)
	}
}

// checkExactlyOnce fails unless every seq below total is among recs once.
func checkExactlyOnce(t *testing.T, recs []record, total int, who string) {
	t.Helper()
	count := make(map[int]int, total)
	for _, r := range recs {
		count[r.seq]++
	}
	dups, missing := 0, 0
	for seq := range total {
		switch c := count[seq]; {
		case c == 0:
			missing++
		case c > 1:
			dups += c - 1
		}
	}
	t.Logf("%s: %d records for %d lines: %d duplicates, %d missing", who, len(recs), total, dups, missing)
	if dups > 0 || missing > 0 {
		t.Error(fmt.Sprintf("%s: %d lines arrived more than once and %d never; want each exactly once", who, dups, missing))
	}
}
