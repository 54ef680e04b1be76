package kafka_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go/sasl/plain"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/loglet/loglet/integration/internal/harness"
)

// TestLostProduceAnswersExactlyOnce, with the real binary: the broker stores a produce request's records but answers
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

// TestOtherPodsOnThePartitionAreNotMistaken: two
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
		t.Errorf("%s: %d lines arrived more than once and %d never; want each exactly once", who, dups, missing)
	}
}

// TestReadBackWithoutReadACL: the sidecar's user
// may write and describe its topic but not read it. After a SIGKILL the
// read-back is denied: loglet still delivers every line (at least once),
// says why once, naming the topic and the missing permission, and counts
// the fall-back.
func TestReadBackWithoutReadACL(t *testing.T) {
	ns := uniq("noread")
	allow := func(op kmsg.ACLOperation) kfake.ACL {
		return kfake.ACL{Resource: kmsg.ACLResourceTypeTopic, Name: "logs." + ns, Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: op, Allow: true}
	}
	k := harness.StartKafka(t, false, kfake.NumBrokers(1), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("PLAIN", "admin", "admin-pw"),
		kfake.User("PLAIN", "loglet", "pw", allow(kmsg.ACLOperationWrite), allow(kmsg.ACLOperationDescribe)))
	admin := plain.Mechanism{Username: "admin", Password: "admin-pw"}
	k.UseCredentials(nil, admin)
	p := newPod(t, "web-1", ns, nil)
	k.CreateTopic(t, p.topic(), 1)
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := p.env(k, "LOGLET_KAFKA_SASL_MECHANISM=PLAIN", "LOGLET_KAFKA_SASL_USERNAME=loglet", "LOGLET_KAFKA_SASL_PASSWORD_FILE="+pw)
	const total = 30_000
	w := startRotatingWriter(t, p.app.Path, total, 500, 1_000_000, 10*time.Millisecond)
	sc := harness.StartSidecar(t, env)
	time.Sleep(800 * time.Millisecond)
	sc.Kill()
	sc = harness.StartSidecar(t, env)
	w.done.Wait()
	sc.WaitFor(t, time.Minute, "every line in Kafka", func() bool { return k.Count(t, p.topic()) >= total })
	time.Sleep(time.Second)
	count := map[int]int{}
	for _, r := range records(t, k.Read(t, p.topic(), total, time.Minute)) {
		count[r.seq]++
	}
	for seq := range total {
		if count[seq] == 0 {
			t.Fatalf("line %d never arrived", seq)
		}
	}
	if n := sc.Metric("loglet_kafka_readback_fallbacks_total", `reason="denied"`); n <= 0 {
		t.Errorf(`loglet_kafka_readback_fallbacks_total{reason="denied"} = %v, want > 0`, n)
	}
	warnings := 0
	for line := range strings.Lines(sc.Output()) {
		if strings.Contains(line, p.topic()) && strings.Contains(strings.ToUpper(line), "READ") && strings.Contains(line, `"level":"WARN"`) {
			warnings++
		}
	}
	if warnings != 1 {
		t.Errorf("%d warnings naming %s and READ, want 1:\n%s", warnings, p.topic(), sc.Output())
	}
}

// TestReadBackBound: while the sidecar is down,
// another pod writes more than LOGLET_KAFKA_READBACK_MAX_BYTES to the same
// partition. The read-back stops at the bound and falls back to at least
// once: nothing is lost.
func TestReadBackBound(t *testing.T) {
	k := harness.StartKafka(t, false, kfake.NumBrokers(1))
	ns := uniq("bound")
	a, b := newPod(t, "web-1", ns, nil), newPod(t, "web-2", ns, nil)
	k.CreateTopic(t, a.topic(), 1)
	ea := a.env(k, "LOGLET_KAFKA_READBACK_MAX_BYTES=64KiB")
	const total = 20_000
	wa := startRotatingWriter(t, a.app.Path, total, 500, 1_000_000, 10*time.Millisecond)
	sa := harness.StartSidecar(t, ea)
	time.Sleep(500 * time.Millisecond)
	sa.Kill()
	// The other pod fills the partition with far more than the bound.
	sb := harness.StartSidecar(t, b.env(k))
	lb := b.app.Logrus(true)
	for i := range 5000 {
		lb.WithField("seq", i).Info("the other pod's line, long enough to pass the bound soon")
	}
	sb.WaitFor(t, time.Minute, "the other pod's lines", func() bool { return k.Count(t, a.topic()) >= 5000 })
	sa = harness.StartSidecar(t, ea)
	wa.done.Wait()
	sa.WaitFor(t, time.Minute, "every line in Kafka", func() bool { return k.Count(t, a.topic()) >= total+5000 })
	time.Sleep(time.Second)
	var mine []harness.Message
	for _, m := range k.Read(t, a.topic(), total+5000, time.Minute) {
		if m.Key == "web-1" {
			mine = append(mine, m)
		}
	}
	count := map[int]int{}
	for _, r := range records(t, mine) {
		count[r.seq]++
	}
	for seq := range total {
		if count[seq] == 0 {
			t.Fatalf("line %d of web-1 never arrived", seq)
		}
	}
	if n := sa.Metric("loglet_kafka_readback_fallbacks_total", `reason="max_bytes"`); n <= 0 {
		t.Errorf(`loglet_kafka_readback_fallbacks_total{reason="max_bytes"} = %v, want > 0`, n)
	}
}
