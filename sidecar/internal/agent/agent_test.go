package agent

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/loglet/loglet/sidecar/internal/pipeline"
	"github.com/loglet/loglet/sidecar/internal/podinfo"
	"github.com/loglet/loglet/sidecar/internal/sink/kafka"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// radovskyb/watcher v1.0.7 leaks one goroutine per closed Watcher (see package tail).
		goleak.IgnoreTopFunction("github.com/radovskyb/watcher.(*Watcher).Start.func1"))
}

// flippingPods is a pod identity that changes right after the pipeline
// reads it: the pipeline encodes a read's records with pod a, and every
// later look (the Kafka output's) sees pod b, as when the kubelet rewrites
// the Downward API files between the two reads.
type flippingPods struct {
	a, b *podinfo.Pod
	cur  atomic.Pointer[podinfo.Pod]
}

func (f *flippingPods) Pod() *podinfo.Pod { // the pipeline's view
	p := f.cur.Load()
	f.cur.Store(f.b)
	return p
}

func (f *flippingPods) current() *podinfo.Pod { return f.cur.Load() } // the output's view

// A record's labels and its topic come from one read of the pod identity:
// the topic of the batch is expanded from the pod the batch was encoded
// with, not from whatever the identity is by the time the output routes it.
func TestLabelsAndTopicComeFromOnePodRead(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "logs.a", "logs.b"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	env := podinfo.Env{Name: "web-1", Namespace: "shop", Container: "app"}
	pods := &flippingPods{
		a: podinfo.New(env, map[string]string{"team": "a"}, nil),
		b: podinfo.New(env, map[string]string{"team": "b"}, nil),
	}
	pods.cur.Store(pods.a)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ks, err := kafka.New(kafka.Config{Brokers: cluster.ListenAddrs(), Topic: "logs.{label:team}", Linger: time.Millisecond},
		pods.current, log, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.log"), []byte(`{"msg":"one"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.New(pipeline.Config{
		LogDir: dir, StateDir: filepath.Join(dir, ".loglet"), Include: "*.log", ActiveFile: "app.log",
		PollInterval: 20 * time.Millisecond, RotateWait: 150 * time.Millisecond,
		MultilineTimeout: 100 * time.Millisecond, CheckpointInterval: 50 * time.Millisecond,
		ShutdownTimeout: 5 * time.Second, MaxLineBytes: 1 << 20, MaxOpenFiles: 4, MaxBufferBytes: 8 << 20, KeepGOMAXPROCS: true,
	}, ks, pods, log, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.ConsumeTopics("logs.a", "logs.b"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runPipeline(ctx, p, ks, log) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()

	fctx, fcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer fcancel()
	var got *kgo.Record
	for got == nil {
		fs := cl.PollFetches(fctx)
		if fctx.Err() != nil {
			t.Fatal("no record arrived")
		}
		fs.EachRecord(func(r *kgo.Record) { got = r })
	}
	var rec struct {
		Msg        string
		Kubernetes struct{ Labels map[string]string }
	}
	if err := json.Unmarshal(got.Value, &rec); err != nil {
		t.Fatalf("record %s: %v", got.Value, err)
	}
	if rec.Msg != "one" || "logs."+rec.Kubernetes.Labels["team"] != got.Topic {
		t.Fatalf("record %q with team label %q landed in topic %s: labels and topic come from two pod identities",
			rec.Msg, rec.Kubernetes.Labels["team"], got.Topic)
	}
}
