package kafka_test

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/loglet/loglet/integration/internal/harness"
)

// TestShutdownTimeoutIsHonest: a shutdown that
// times out during an outage names each file and the byte range left
// unacknowledged, and says that those records are lost if the pod is being
// deleted (its emptyDir goes with it), instead of promising that they will
// be sent after a restart that a deleted pod never has.
func TestShutdownTimeoutIsHonest(t *testing.T) {
	k := harness.StartKafka(t, true, kfake.NumBrokers(1))
	p := newPod(t, "web-1", uniq("shutdown"), nil)
	k.CreateTopic(t, p.topic(), 1)
	sc := harness.StartSidecar(t, p.env(k, "LOGLET_SHUTDOWN_TIMEOUT=2s"))
	log := p.app.Logrus(true)
	for i := range 10 {
		log.WithField("seq", i).Info("before the outage")
	}
	sc.WaitFor(t, 30*time.Second, "the first lines in Kafka", func() bool { return k.Count(t, p.topic()) >= 10 })
	k.Stop(t) // the outage
	for i := range 200 {
		log.WithField("seq", 10+i).Info("during the outage")
	}
	sc.WaitFor(t, 30*time.Second, "the new lines read", func() bool {
		return sc.Metric("loglet_lines_read_total") >= 210
	})
	code, err := sc.Stop(30 * time.Second)
	if err != nil || code != 0 {
		t.Fatalf("SIGTERM: exit %d, %v", code, err)
	}
	out := sc.Output()
	var named, lost bool
	for line := range strings.Lines(out) {
		if strings.Contains(line, "were not acknowledged") && strings.Contains(line, "web-1.log") &&
			strings.Contains(line, `"from_offset"`) && strings.Contains(line, `"to_offset"`) {
			named = true
		}
		if strings.Contains(line, "lost if the pod is being deleted") {
			lost = true
		}
	}
	if !named {
		t.Errorf("no log line names web-1.log and the unacknowledged byte range:\n%s", out)
	}
	if !lost {
		t.Errorf("no log line says the unacknowledged records are lost if the pod is deleted:\n%s", out)
	}
}
