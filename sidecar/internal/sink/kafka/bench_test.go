package kafka

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/loglet/loglet/sidecar/internal/podinfo"
	"github.com/loglet/loglet/sidecar/internal/sink"
)

// BenchmarkSink produces b.N records of a typical size to an in-process
// cluster that discards them, through batches reused after their
// acknowledgement as the pipeline does, and reports records per second.
func BenchmarkSink(b *testing.B) {
	for _, codec := range []string{"none", "lz4"} {
		b.Run(codec, func(b *testing.B) { benchmarkSink(b, codec) })
	}
}

func benchmarkSink(b *testing.B, codec string) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "logs.shop"), kfake.BlackholeProduce())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	s, err := New(Config{Brokers: c.ListenAddrs(), Compression: codec, Linger: 5 * time.Millisecond}, func() *podinfo.Pod { return testPod }, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	const perBatch = 500
	values := make([][]byte, 64)
	for i := range values {
		values[i] = fmt.Appendf(nil, `{"@timestamp":"2020-03-02T09:22:24Z","level":"info","msg":"sample log %d","fields":{"count":%d,"text_sample":"fooooo","file":"main.go:16","func":"main.main"},"kubernetes":{"pod_name":"web-1","namespace_name":"shop"},"log":{"file":"app.log","offset":%d,"format":"json"}}`, i, i, i*250)
	}
	free := make(chan *sink.Batch, 16)
	for range cap(free) {
		var bt *sink.Batch
		bt = sink.NewBatch(func() { free <- bt })
		bt.Records = make([]sink.Record, 0, perBatch)
		free <- bt
	}
	b.SetBytes(int64(len(values[0])))
	b.ReportAllocs()
	b.ResetTimer()
	for sent := 0; sent < b.N; {
		bt := <-free
		bt.Reset()
		for i := 0; i < perBatch && sent < b.N; i++ {
			bt.Records = append(bt.Records, sink.Record{Value: values[sent%len(values)], Time: recTime, Pos: sink.Position{File: "1:2:abc", Offset: int64(sent) * 250}})
			sent++
		}
		if err := s.Send(ctx, bt); err != nil {
			b.Fatal(err)
		}
	}
	for range cap(free) {
		<-free
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
