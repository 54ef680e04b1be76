package kafka

import (
	"context"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/loglet/loglet/sidecar/internal/podinfo"
)

// Batches encoded with different pod identities, queued together, go each
// where its own pod routes it, in requests of their own, whatever the
// current identity is when they are delivered; a batch without a pod goes
// where the current identity routes it.
func TestBatchesGoWhereTheirPodRoutesThem(t *testing.T) {
	c := startKfake(t, kfake.SeedTopics(1, "logs.a", "logs.b", "logs.now"))
	team := func(v string) *podinfo.Pod {
		return podinfo.New(podinfo.Env{Name: "web-1", Namespace: "shop"}, map[string]string{"team": v}, nil)
	}
	a, b, now := team("a"), team("b"), team("now")
	h := newSink(t, Config{Brokers: c.ListenAddrs(), Topic: "logs.{label:team}", Key: "{label:team}"}, func() *podinfo.Pod { return now })
	batches := []*tracked{
		newBatch("1:2:00000000000000aa", 0, seqValues("a", 0, 3)...),
		newBatch("1:2:00000000000000aa", 300, seqValues("b", 3, 2)...),
		newBatch("1:2:00000000000000aa", 500, seqValues("a", 5, 1)...),
		newBatch("1:2:00000000000000aa", 600, seqValues("now", 6, 1)...),
	}
	batches[0].Pod, batches[1].Pod, batches[2].Pod = a, b, a // batches[3] has none
	// Queued before Run starts, so that one request could take them all.
	for _, tb := range batches {
		if err := h.Send(context.Background(), tb.Batch); err != nil {
			t.Fatal(err)
		}
	}
	h.run(t)
	waitAcked(t, batches...)
	cons := newConsumer(t, c.ListenAddrs(), nil, nil)
	for topic, want := range map[string]int{"logs.a": 4, "logs.b": 2, "logs.now": 1} {
		msgs := cons.read(t, topic, want)
		if len(msgs) != want {
			t.Errorf("%s holds %d records, want %d", topic, len(msgs), want)
		}
		prefix := strings.TrimPrefix(topic, "logs.")
		for _, m := range msgs {
			if !strings.HasPrefix(m.Value, `{"msg":"`+prefix+` `) || m.Key != prefix {
				t.Errorf("%s holds %s with key %q: a record of another pod identity", topic, m.Value, m.Key)
			}
		}
	}
}
