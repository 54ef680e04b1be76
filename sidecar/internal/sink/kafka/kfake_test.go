package kafka

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/goleak"

	"github.com/loglet/loglet/sidecar/internal/podinfo"
	"github.com/loglet/loglet/sidecar/internal/sink"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testPod is the pod identity most tests run as.
var testPod = podinfo.New(podinfo.Env{Name: "web-1", Namespace: "shop", Container: "app"}, nil, nil)

// startKfake starts an in-process Kafka cluster, closed when the test ends.
func startKfake(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// harness is a Sink under test with its logs and metrics.
type harness struct {
	*Sink
	logs *syncBuffer
	reg  *prometheus.Registry
}

// newSink builds a Sink for cfg, logging to a buffer and registering its
// metrics on a fresh registry.
func newSink(t *testing.T, cfg Config, pods func() *podinfo.Pod) *harness {
	t.Helper()
	if pods == nil {
		pods = func() *podinfo.Pod { return testPod }
	}
	h := &harness{logs: &syncBuffer{}, reg: prometheus.NewRegistry()}
	s, err := New(cfg, pods, slog.New(slog.NewTextHandler(h.logs, nil)), h.reg)
	if err != nil {
		t.Fatal(err)
	}
	h.Sink = s
	return h
}

// run starts Run and returns a function that stops it and waits for it;
// the test's cleanup stops it too.
func (h *harness) run(t *testing.T) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// metric returns the value of a counter or gauge, summed over label values
// matching labels ("kind=leader").
func (h *harness) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			have := map[string]bool{}
			for _, p := range m.GetLabel() {
				have[p.GetName()+"="+p.GetValue()] = true
			}
			for _, l := range labels {
				if !have[l] {
					continue metrics
				}
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

// tracked is a batch and whether it was acknowledged.
type tracked struct {
	*sink.Batch
	acks atomic.Int32
}

// recTime is the @timestamp of the test records: millisecond precision,
// as Kafka keeps it.
var recTime = time.Date(2020, 3, 2, 9, 22, 24, 123e6, time.UTC)

// newBatch returns a batch of records from file, the i-th with value
// values[i] at offset off+100*i.
func newBatch(file string, off int64, values ...string) *tracked {
	tb := &tracked{}
	tb.Batch = sink.NewBatch(func() { tb.acks.Add(1) })
	for i, v := range values {
		tb.Records = append(tb.Records, sink.Record{
			Value: []byte(v),
			Time:  recTime.Add(time.Duration(i) * time.Millisecond),
			Pos:   sink.Position{File: file, Offset: off + 100*int64(i)},
		})
	}
	return tb
}

// seqValues returns n record values numbered from first.
func seqValues(prefix string, first, n int) []string {
	vs := make([]string, n)
	for i := range vs {
		vs[i] = fmt.Sprintf(`{"msg":"%s %d","fields":{"n":%d}}`, prefix, first+i, first+i)
	}
	return vs
}

// eventually polls cond until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitAcked(t *testing.T, bs ...*tracked) {
	t.Helper()
	for i, b := range bs {
		eventually(t, 20*time.Second, fmt.Sprintf("batch %d acknowledged", i), func() bool { return b.acks.Load() > 0 })
		if n := b.acks.Load(); n != 1 {
			t.Errorf("batch %d acknowledged %d times", i, n)
		}
	}
}

// message is a record read back from the cluster.
type message struct {
	Partition int
	Offset    int64
	Key       string
	Value     string
	Time      time.Time
	Headers   map[string]string
}

// consumer reads topics back with kafka-go's low-level client.
type consumer struct {
	tr     *kafka.Transport
	client *kafka.Client
}

func newConsumer(t *testing.T, brokers []string, tc *tls.Config, mech sasl.Mechanism) *consumer {
	tr := &kafka.Transport{TLS: tc, SASL: mech}
	t.Cleanup(tr.CloseIdleConnections)
	return &consumer{tr: tr, client: &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: tr}}
}

// read returns every record in topic, partition by partition, waiting up to
// ten seconds for at least want of them.
func (c *consumer) read(t *testing.T, topic string, want int) []message {
	t.Helper()
	var out []message
	deadline := time.Now().Add(10 * time.Second)
	for {
		out = out[:0]
		md, err := c.client.Metadata(context.Background(), &kafka.MetadataRequest{Topics: []string{topic}})
		if err == nil && len(md.Topics) == 1 && md.Topics[0].Error == nil {
			for _, p := range md.Topics[0].Partitions {
				out = append(out, c.readPartition(t, topic, p.ID)...)
			}
		}
		if len(out) >= want || time.Now().After(deadline) {
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *consumer) readPartition(t *testing.T, topic string, partition int) []message {
	t.Helper()
	var out []message
	for offset := int64(0); ; {
		res, err := c.client.Fetch(context.Background(), &kafka.FetchRequest{
			Topic: topic, Partition: partition, Offset: offset, MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 10 * time.Millisecond,
		})
		if err != nil {
			t.Fatalf("fetch %s/%d@%d: %v", topic, partition, offset, err)
		}
		if res.Error != nil {
			t.Fatalf("fetch %s/%d@%d: %v", topic, partition, offset, res.Error)
		}
		for {
			r, err := res.Records.ReadRecord()
			if err != nil {
				break
			}
			k, _ := kafka.ReadAll(r.Key)
			v, _ := kafka.ReadAll(r.Value)
			hs := map[string]string{}
			for _, h := range r.Headers {
				hs[h.Key] = string(h.Value)
			}
			out = append(out, message{partition, r.Offset, string(k), string(v), r.Time.UTC(), hs})
			offset = r.Offset + 1
		}
		if c, ok := res.Records.(interface{ Close() error }); ok {
			c.Close()
		}
		if offset >= res.HighWatermark {
			return out
		}
	}
}

func values(ms []message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Value
	}
	return out
}
