package kafka

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
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

// BenchmarkRecordEncoding encodes produce requests' record sets, as Run
// does before handing a request to kafka-go to write to the
// connection, for each codec, and reports the cost per record: loglet's
// record set encoder and the codec's compression, without the network.
// Each record has an end offset, as the pipeline's do, so the loglet-end
// header is counted.
func BenchmarkRecordEncoding(b *testing.B) {
	for _, codec := range []string{"none", "lz4", "snappy", "zstd", "gzip"} {
		b.Run(codec, func(b *testing.B) { benchmarkRecordEncoding(b, codec) })
	}
}

func benchmarkRecordEncoding(b *testing.B, codec string) {
	cfg := Config{Brokers: []string{"127.0.0.1:9092"}, Compression: codec}
	c, err := cfg.compression()
	if err != nil {
		b.Fatal(err)
	}
	if c == kafka.Lz4 {
		useLZ4Codec() // as New does
	}
	const perRequest = 1500 // about LOGLET_KAFKA_BATCH_BYTES of typical records
	recs := make([]sink.Record, perRequest)
	entries := make([]entry, perRequest)
	size := 0
	for i := range recs {
		v := fmt.Appendf(nil, `{"@timestamp":"2020-03-02T09:22:24.%03dZ","level":"info","msg":"sample log %d","fields":{"count":%d,"text_sample":"fooooo","file":"main.go:16","func":"main.main"},"kubernetes":{"pod_name":"web-1","namespace_name":"shop","pod_id":"6f0c3b1e-2a4d-4c8e-9b7f-1d2e3f4a5b6c","pod_ip":"10.244.1.17","host":"kind-worker","container_name":"app","labels":{"app":"shop-web","team":"checkout"}},"log":{"file":"web-1.log","offset":%d,"format":"json"}}`, i%1000, i, i, i*250)
		recs[i] = sink.Record{Value: v, Time: recTime, Pos: sink.Position{File: "2049:131:9f86d081884c7d65", Offset: int64(i) * 250, End: int64(i+1) * 250}}
		entries[i] = entry{rec: &recs[i], value: v}
		size += len(v)
	}
	key := []byte("web-1")
	b.SetBytes(int64(size / perRequest))
	b.ReportAllocs()
	var enc recordSetEncoder
	for done := 0; done < b.N; done += perRequest {
		n := min(perRequest, b.N-done)
		if _, err := enc.encode(key, contentTypeJSON, entries[:n], c); err != nil {
			b.Fatal(err)
		}
	}
}
