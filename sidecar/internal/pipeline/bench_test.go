package pipeline

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loglet/loglet/sidecar/internal/podinfo"
	"github.com/loglet/loglet/sidecar/internal/sink"
)

// discardSink acknowledges every batch as it is handed over and counts its
// records; done is closed when want records were seen.
type discardSink struct {
	want    int64
	records atomic.Int64
	done    chan struct{}
}

func (s *discardSink) Send(_ context.Context, b *sink.Batch) error {
	if s.records.Add(int64(len(b.Records))) == s.want {
		defer close(s.done)
	}
	b.Ack()
	return nil
}

func (s *discardSink) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// fixedPod is a PodSource that never changes.
type fixedPod struct{ pod *podinfo.Pod }

func (f fixedPod) Pod() *podinfo.Pod { return f.pod }

// BenchmarkPipeline measures loglet's whole per-line path but the Kafka
// output: reading a file, splitting and joining lines, parsing, encoding
// the record with the pod's metadata, batching, handing batches to a sink
// that acknowledges them at once, and moving the checkpoint. b.N lines of
// about 180 bytes are written before the timer starts; the pipeline runs
// until the sink has seen them all.
func BenchmarkPipeline(b *testing.B) {
	for _, format := range []string{"json", "logfmt"} {
		b.Run(format, func(b *testing.B) { benchmarkPipeline(b, format) })
	}
}

func benchmarkPipeline(b *testing.B, format string) {
	dir := b.TempDir()
	size := writeBenchLines(b, filepath.Join(dir, "web-1.log"), format, b.N)
	pod := podinfo.New(podinfo.Env{Name: "web-1", Namespace: "shop", UID: "6f0c3b1e-2a4d-4c8e-9b7f-1d2e3f4a5b6c",
		IP: "10.244.1.17", Node: "kind-worker", Container: "app"},
		map[string]string{"app": "shop-web", "pod-template-hash": "5d8f7c9b4", "team": "checkout"},
		map[string]string{"prometheus.io/scrape": "true"})
	s := &discardSink{want: int64(b.N), done: make(chan struct{})}
	cfg := Config{
		LogDir: dir, StateDir: filepath.Join(dir, ".loglet"), Include: "*.log", ActiveFile: "web-1.log",
		PollInterval: 250 * time.Millisecond, RotateWait: 5 * time.Second,
		MultilineTimeout:   time.Millisecond, // the last logfmt line waits for it
		CheckpointInterval: time.Second, ShutdownTimeout: 5 * time.Second,
		MaxLineBytes: 1 << 20, MaxOpenFiles: 100, MaxBufferBytes: 8 << 20,
	}
	p, err := New(cfg, s, fixedPod{pod}, nil, prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	b.SetBytes(size / int64(b.N))
	b.ReportAllocs()
	b.ResetTimer()
	go func() { done <- p.Run(ctx) }()
	select {
	case <-s.done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("%d of %d records after 5 minutes", s.records.Load(), b.N)
	}
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

// writeBenchLines writes n logrus lines of about 180 bytes and returns the
// bytes written.
func writeBenchLines(b *testing.B, path, format string, n int) int64 {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	t0 := time.Date(2020, 3, 2, 18, 22, 24, 0, time.FixedZone("JST", 9*3600))
	msgs := []string{"sample log", "request served", "cache miss", "order placed"}
	levels := []string{"info", "info", "info", "warning", "error", "debug"}
	var total int64
	for i := range n {
		t := t0.Add(time.Duration(i) * time.Millisecond).Format("2006-01-02T15:04:05.000Z07:00")
		var k int
		switch format {
		case "logfmt":
			k, err = fmt.Fprintf(w, "time=%q level=%s msg=%q count=%d file=\"main.go:%d\" func=main.main latency_ms=%d.%02d text_sample=fooooo user_id=%d\n",
				t, levels[i%len(levels)], msgs[i%len(msgs)], i, 10+i%300, i%1000, i%100, i%99991)
		default:
			k, err = fmt.Fprintf(w, `{"count":%d,"file":"main.go:%d","func":"main.main","latency_ms":%d.%02d,"level":%q,"msg":%q,"text_sample":"fooooo","time":%q,"user_id":%d}`+"\n",
				i, 10+i%300, i%1000, i%100, levels[i%len(levels)], msgs[i%len(msgs)], t, i%99991)
		}
		if err != nil {
			b.Fatal(err)
		}
		total += int64(k)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	return total
}
