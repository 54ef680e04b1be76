package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loglet/loglet/sidecar/internal/podinfo"
)

// alternatingPods gives another pod identity at every look, as if the
// kubelet rewrote the Downward API files between any two reads.
type alternatingPods struct {
	pods  [2]*podinfo.Pod
	calls atomic.Int64
}

func (a *alternatingPods) Pod() *podinfo.Pod { return a.pods[a.calls.Add(1)%2] }

// Every record of a batch is encoded with the pod identity the batch
// carries (sink.Batch.Pod), however often the identity changes while a
// file is read: an output that routes by the batch's pod routes each
// record by the identity its metadata came from.
func TestBatchCarriesThePodItsRecordsWereEncodedWith(t *testing.T) {
	e := newEnv(t, "", nil)
	env := podinfo.Env{Name: "web-1", Namespace: "shop"}
	pods := &alternatingPods{pods: [2]*podinfo.Pod{
		podinfo.New(env, map[string]string{"n": "0"}, nil),
		podinfo.New(env, map[string]string{"n": "1"}, nil),
	}}
	const lines = 3000 // several reads of tail.DefaultReadSize, one batch's worth
	e.write("app.log", jsonLines(0, lines))
	held := newHeldSink()
	p, err := New(e.cfg, held, pods, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	total := func() int {
		held.mu.Lock()
		defer held.mu.Unlock()
		return len(held.values)
	}
	eventually(t, "every record", func() bool { return total() >= lines })

	// The batches are inspected before they are acknowledged: the pipeline
	// reuses an acknowledged batch.
	held.mu.Lock()
	defer func() {
		n := len(held.batches)
		held.mu.Unlock()
		for i := range n {
			held.ack(i)
		}
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	if len(held.batches) < 2 {
		t.Fatalf("%d batches for %d reads with a new pod identity each: want one batch per identity", len(held.batches), pods.calls.Load())
	}
	seq := 0
	for bi, b := range held.batches {
		if b.Pod == nil {
			t.Fatalf("batch %d carries no pod identity", bi)
		}
		want := b.Pod.Labels["n"]
		for _, r := range b.Records {
			var rec struct {
				Msg        string
				Kubernetes struct{ Labels map[string]string }
			}
			if err := json.Unmarshal(r.Value, &rec); err != nil {
				t.Fatal(err)
			}
			if got := rec.Kubernetes.Labels["n"]; got != want {
				t.Fatalf("batch %d carries pod n=%s but record %q was encoded with n=%s", bi, want, rec.Msg, got)
			}
			if want := fmt.Sprintf("line %d", seq); rec.Msg != want {
				t.Fatalf("record %q where %q was expected: records lost or reordered", rec.Msg, want)
			}
			seq++
		}
	}
	if seq != lines {
		t.Fatalf("%d records, want %d", seq, lines)
	}
}
