package kafka_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/loglet/loglet/integration/internal/harness"
)

// TestReadinessIgnoresKafka runs the real binary through three Kafka
// failures that the sidecar's own staleness rule (15 s without a successful
// request) used to turn into a failing /readyz, which a native sidecar's
// readinessProbe would have turned into an unready Pod: a broker that goes
// away, a broker address where nothing ever listened, and a missing topic.
// /readyz must answer 200 throughout, while /status/kafka, the metric
// loglet_kafka_ready and the logs report the failure.
func TestReadinessIgnoresKafka(t *testing.T) {
	const watch = 18 * time.Second // past the 15 s after which Kafka counts as down

	// steady polls /readyz for watch and fails on any answer but 200, then
	// checks what /status/kafka says.
	steady := func(t *testing.T, sc *harness.Sidecar, kafkaSays string) {
		t.Helper()
		sc.WaitFor(t, 10*time.Second, "/healthz", func() bool { s, _ := sc.Get("/healthz"); return s == 200 })
		end := time.Now().Add(watch)
		for time.Now().Before(end) {
			if code, body := sc.Get("/readyz"); code != 200 {
				t.Fatalf("/readyz %d while Kafka fails:\n%s", code, body)
			}
			time.Sleep(250 * time.Millisecond)
		}
		code, body := sc.Get("/status/kafka")
		if code != 503 || !strings.Contains(body, kafkaSays) {
			t.Errorf("/status/kafka = %d %q, want 503 mentioning %q", code, body, kafkaSays)
		}
		if code, body := sc.Get("/status"); code != 503 || !strings.Contains(body, "checkpoints: ok") || !strings.Contains(body, "kafka: ") {
			t.Errorf("/status = %d %q", code, body)
		}
		if v := sc.Metric("loglet_kafka_ready"); v != 0 {
			t.Errorf("loglet_kafka_ready = %v, want 0", v)
		}
	}

	t.Run("broker goes away", func(t *testing.T) {
		t.Parallel()
		k := harness.StartKafka(t, false, kfake.NumBrokers(1))
		k.Fake(t)
		p := newPod(t, "web-1", uniq("ready-stop"), nil)
		k.CreateTopic(t, p.topic(), 1)
		n := len(p.writeMixed(nil))
		sc := harness.StartSidecar(t, p.env(k))
		sc.WaitFor(t, 30*time.Second, "delivery", func() bool { return k.Count(t, p.topic()) >= int64(n) })
		sc.WaitFor(t, 10*time.Second, "/status/kafka 200", func() bool { s, _ := sc.Get("/status/kafka"); return s == 200 })
		k.Stop(t)
		p.writeMixed(nil) // the app goes on writing during the outage
		steady(t, sc, "no successful request for")
		if logs := sc.Output(); !strings.Contains(logs, "Kafka request failed; retrying") {
			t.Errorf("no log line about the failing requests:\n%s", logs)
		}
	})
	t.Run("nothing listens", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		p := newPod(t, "web-1", uniq("ready-none"), nil)
		p.writeMixed(nil)
		sc := harness.StartSidecar(t, p.env(&harness.Kafka{Addrs: []string{addr}}))
		steady(t, sc, "not reachable")
	})
	t.Run("missing topic", func(t *testing.T) {
		t.Parallel()
		k := harness.StartKafka(t, false, kfake.NumBrokers(1)) // no auto-creation
		k.Fake(t)
		p := newPod(t, "web-1", uniq("ready-topic"), nil)
		p.writeMixed(nil)
		sc := harness.StartSidecar(t, p.env(k))
		steady(t, sc, "topic_missing")
		if logs := sc.Output(); !strings.Contains(logs, `"level":"ERROR"`) || !strings.Contains(logs, p.topic()) {
			t.Errorf("no error log naming the topic:\n%s", logs)
		}
	})
}
