package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/loglet/loglet/sidecar/internal/podinfo"
)

// TestDeliver sends batches from two files and reads them back: every record
// once, in order, on the key's partition, with the key, timestamp and
// headers, and only then acknowledged.
func TestDeliver(t *testing.T) {
	c := startKfake(t, kfake.NumBrokers(3), kfake.SeedTopics(4, "logs.shop"))
	h := newSink(t, Config{Brokers: c.ListenAddrs(), BatchBytes: 16 << 10}, nil)
	h.run(t)

	var batches []*tracked
	var want []string
	for i := range 20 {
		file := fmt.Sprintf("1:%d:abc", i%2)
		vs := seqValues(file, i*50, 50)
		want = append(want, vs...)
		b := newBatch(file, int64(i*5000), vs...)
		batches = append(batches, b)
		if err := h.Send(context.Background(), b.Batch); err != nil {
			t.Fatal(err)
		}
	}
	waitAcked(t, batches...)

	got := newConsumer(t, c.ListenAddrs(), nil, nil).read(t, "logs.shop", len(want))
	if diff := cmp.Diff(want, values(got)); diff != "" {
		t.Fatalf("records (-want +got):\n%s", diff)
	}
	wantPart := kafka.Murmur2Balancer{}.Balance(kafka.Message{Key: []byte("web-1")}, 0, 1, 2, 3)
	for i, m := range got {
		b := batches[i/50]
		r := b.Records[i%50]
		wantHdr := map[string]string{"content-type": "application/json", "loglet-file": r.Pos.File, "loglet-offset": strconv.FormatInt(r.Pos.Offset, 10)}
		if m.Partition != wantPart || m.Key != "web-1" || !m.Time.Equal(r.Time) || !cmp.Equal(wantHdr, m.Headers) {
			t.Fatalf("record %d: partition %d key %q time %s headers %v; want %d %q %s %v",
				i, m.Partition, m.Key, m.Time, m.Headers, wantPart, "web-1", r.Time, wantHdr)
		}
	}
	if n := h.metric(t, "loglet_kafka_records_acked_total"); n != float64(len(want)) {
		t.Errorf("acked metric = %v, want %d", n, len(want))
	}
	if n := h.metric(t, "loglet_kafka_queued_bytes"); n != 0 {
		t.Errorf("queued bytes = %v after all acks", n)
	}
	if n := h.metric(t, "loglet_kafka_produce_requests_total"); n < 2 {
		t.Errorf("%v produce requests: BatchBytes did not split the records", n)
	}
	if err := h.Ready(); err != nil {
		t.Errorf("Ready: %v", err)
	}
}

// TestCompressionCodecs delivers with every codec (and, with gzip, acks=one).
func TestCompressionCodecs(t *testing.T) {
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			c := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "logs.shop"))
			acks := "all"
			if codec == "gzip" {
				acks = "one"
			}
			h := newSink(t, Config{Brokers: c.ListenAddrs(), Compression: codec, Acks: acks}, nil)
			h.run(t)
			vs := seqValues(strings.Repeat("compressible ", 20), 0, 300)
			b := newBatch("f", 0, vs...)
			if err := h.Send(context.Background(), b.Batch); err != nil {
				t.Fatal(err)
			}
			waitAcked(t, b)
			got := newConsumer(t, c.ListenAddrs(), nil, nil).read(t, "logs.shop", len(vs))
			if diff := cmp.Diff(vs, values(got)); diff != "" {
				t.Fatalf("records (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRetriableErrors makes the broker refuse produce requests with
// retriable errors: the batch is acknowledged only once a request succeeds,
// and nothing is lost or duplicated.
func TestRetriableErrors(t *testing.T) {
	c := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "logs.shop"))
	h := newSink(t, Config{Brokers: c.ListenAddrs()}, nil)
	h.staleAfter = 0 // report the outage at once
	h.maxBackoff = 50 * time.Millisecond
	fault := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.NotEnoughReplicas, Count: -1})
	h.run(t)

	b1 := newBatch("f", 0, seqValues("a", 0, 10)...)
	if err := h.Send(context.Background(), b1.Batch); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := fault.Wait(ctx, 4); err != nil {
		t.Fatal(err)
	}
	if b1.acks.Load() != 0 {
		t.Fatal("acknowledged while the broker refuses")
	}
	if err := h.Ready(); err == nil {
		t.Error("Ready while every request fails")
	}
	fault.Remove()
	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.NotLeaderForPartition, Count: 2})
	b2 := newBatch("f", 1000, seqValues("a", 10, 10)...)
	if err := h.Send(context.Background(), b2.Batch); err != nil {
		t.Fatal(err)
	}
	waitAcked(t, b1, b2)

	got := newConsumer(t, c.ListenAddrs(), nil, nil).read(t, "logs.shop", 20)
	if diff := cmp.Diff(seqValues("a", 0, 20), values(got)); diff != "" {
		t.Fatalf("records (-want +got):\n%s", diff)
	}
	if n := h.metric(t, "loglet_kafka_send_errors_total", "kind=broker"); n < 4 {
		t.Errorf("broker errors counted: %v, want >= 4", n)
	}
	if n := h.metric(t, "loglet_kafka_send_errors_total", "kind=leader"); n < 1 {
		t.Errorf("leader errors counted: %v, want >= 1", n)
	}
	if err := h.Ready(); err != nil {
		t.Errorf("Ready after recovery: %v", err)
	}
	if !strings.Contains(h.logs.String(), "Kafka requests succeed again") {
		t.Errorf("no recovery log:\n%s", h.logs)
	}
}

// TestNonRetriableErrors: errors the operator must fix are logged with the
// topic and reason, counted, fail Ready, and keep the records, which are
// delivered once the cause is fixed.
func TestNonRetriableErrors(t *testing.T) {
	tests := []struct {
		name   string
		opts   []kfake.Opt
		break_ func(*kfake.Cluster) (fix func(*testing.T, *kfake.Cluster))
		kind   string
	}{
		{"authorization", []kfake.Opt{kfake.SeedTopics(1, "logs.shop")}, func(c *kfake.Cluster) func(*testing.T, *kfake.Cluster) {
			f := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.TopicAuthorizationFailed, Count: -1})
			return func(*testing.T, *kfake.Cluster) { f.Remove() }
		}, "authorization"},
		{"topic missing", nil, func(*kfake.Cluster) func(*testing.T, *kfake.Cluster) {
			return func(t *testing.T, c *kfake.Cluster) {
				cl := newConsumer(t, c.ListenAddrs(), nil, nil)
				res, err := cl.client.CreateTopics(context.Background(), &kafka.CreateTopicsRequest{
					Topics: []kafka.TopicConfig{{Topic: "logs.shop", NumPartitions: 2, ReplicationFactor: 1}}})
				if err != nil || res.Errors["logs.shop"] != nil {
					t.Fatalf("create topic: %v %v", err, res)
				}
			}
		}, "topic_missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := startKfake(t, append([]kfake.Opt{kfake.NumBrokers(1)}, tt.opts...)...)
			fix := tt.break_(c)
			h := newSink(t, Config{Brokers: c.ListenAddrs()}, nil)
			h.run(t)
			b := newBatch("f", 0, seqValues("x", 0, 5)...)
			if err := h.Send(context.Background(), b.Batch); err != nil {
				t.Fatal(err)
			}
			eventually(t, 10*time.Second, "a non-retriable error", func() bool {
				return h.metric(t, "loglet_kafka_send_errors_total", "kind="+tt.kind) >= 2
			})
			err := h.Ready()
			if err == nil || !strings.Contains(err.Error(), "topic logs.shop: "+tt.kind) {
				t.Errorf("Ready = %v, want the topic and %s", err, tt.kind)
			}
			if logs := h.logs.String(); !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "topic=logs.shop kind="+tt.kind) {
				t.Errorf("logs lack the error, topic and kind:\n%s", logs)
			}
			if b.acks.Load() != 0 {
				t.Fatal("acknowledged a refused batch")
			}
			fix(t, c)
			waitAcked(t, b)
			if err := h.Ready(); err != nil {
				t.Errorf("Ready after the fix: %v", err)
			}
			got := newConsumer(t, c.ListenAddrs(), nil, nil).read(t, "logs.shop", 5)
			if diff := cmp.Diff(seqValues("x", 0, 5), values(got)); diff != "" {
				t.Fatalf("records (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRecordTooLargeForBroker: a record under LOGLET_KAFKA_MAX_MESSAGE_BYTES
// that the broker refuses as too large is shortened until the broker takes
// it, marked and counted, and the records after it follow; it used to be
// retried as it was, for ever, holding up every record behind it.
func TestRecordTooLargeForBroker(t *testing.T) {
	c := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "logs.shop"),
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": "2000"}))
	h := newSink(t, Config{Brokers: c.ListenAddrs(), Compression: "none", MaxMessageBytes: 8192}, nil)
	h.run(t)
	text := strings.Repeat("x", 5000)
	b := newBatch("f", 0, append([]string{`{"level":"error","msg":"` + text + `","log":{"offset":0}}`}, seqValues("after", 0, 20)...)...)
	if err := h.Send(context.Background(), b.Batch); err != nil {
		t.Fatal(err)
	}
	waitAcked(t, b)
	got := newConsumer(t, c.ListenAddrs(), nil, nil).read(t, "logs.shop", 21)
	if len(got) != 21 {
		t.Fatalf("%d records, want 21", len(got))
	}
	var rec struct {
		Level     string         `json:"level"`
		Msg       string         `json:"msg"`
		Log       map[string]any `json:"log"`
		Truncated bool           `json:"truncated"`
	}
	if err := json.Unmarshal([]byte(got[0].Value), &rec); err != nil {
		t.Fatalf("shortened record is not JSON: %v\n%s", err, got[0].Value)
	}
	if len(got[0].Value) > 2000 || !rec.Truncated || rec.Level != "error" || rec.Log["offset"] != 0.0 ||
		!strings.HasPrefix(text, rec.Msg) || len(rec.Msg) < 500 {
		t.Errorf("shortened record (%d bytes): %+v", len(got[0].Value), rec)
	}
	if diff := cmp.Diff(seqValues("after", 0, 20), values(got[1:])); diff != "" {
		t.Errorf("records after it (-want +got):\n%s", diff)
	}
	if n := h.metric(t, "loglet_kafka_records_truncated_total"); n != 1 {
		t.Errorf("truncated metric = %v, want 1", n)
	}
	if !strings.Contains(h.logs.String(), "LOGLET_KAFKA_MAX_MESSAGE_BYTES") {
		t.Errorf("no warning naming LOGLET_KAFKA_MAX_MESSAGE_BYTES:\n%s", h.logs)
	}
}

// TestRecordTooLargeToShorten: a record whose members kept whole (here its
// log) are over the broker's limit cannot be shortened enough; it is a
// non-retriable error and stays unacknowledged.
func TestRecordTooLargeToShorten(t *testing.T) {
	c := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "logs.shop"),
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": "2000"}))
	h := newSink(t, Config{Brokers: c.ListenAddrs(), Compression: "none", MaxMessageBytes: 8192}, nil)
	h.run(t)
	b := newBatch("f", 0, `{"msg":"m","log":{"file":"`+strings.Repeat("x", 5000)+`"}}`)
	if err := h.Send(context.Background(), b.Batch); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "message_too_large", func() bool {
		return h.metric(t, "loglet_kafka_send_errors_total", "kind=message_too_large") >= 1
	})
	if err := h.Ready(); err == nil || !strings.Contains(err.Error(), "LOGLET_KAFKA_MAX_MESSAGE_BYTES") {
		t.Errorf("Ready = %v, want a hint at LOGLET_KAFKA_MAX_MESSAGE_BYTES", err)
	}
	if b.acks.Load() != 0 {
		t.Fatal("acknowledged a refused record")
	}
}

// TestRequestSizeRecovers: after the broker refused requests as too large
// until they held two records, the request size grows back with the
// requests it takes. It used to stay at one record per request for the
// life of the process.
func TestRequestSizeRecovers(t *testing.T) {
	c := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "logs.shop"))
	const batch = 64 << 10
	h := newSink(t, Config{Brokers: c.ListenAddrs(), Compression: "none", BatchBytes: batch}, nil)
	vs := seqValues("r", 0, 20000)
	b := newBatch("f", 0, vs...)
	// A request of 64 KiB holds about 700 records: nine halvings bring
	// it to two.
	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.MessageTooLarge, Count: 9})
	if err := h.Send(context.Background(), b.Batch); err != nil {
		t.Fatal(err)
	}
	h.run(t)
	waitAcked(t, b)
	got := newConsumer(t, c.ListenAddrs(), nil, nil).read(t, "logs.shop", len(vs))
	if diff := cmp.Diff(vs, values(got)); diff != "" {
		t.Fatalf("records (-want +got):\n%s", diff)
	}
	// 20,000 records of about 90 bytes are 28 full requests. On top come
	// the nine refused, the refusedFor requests of one record (requests
	// stay under three quarters of the smallest refused, two records, as
	// long as the broker's limit might be that low) and about ten while
	// the size doubles back. Before, all 20,000 took a request each.
	n := h.metric(t, "loglet_kafka_produce_requests_total")
	t.Logf("%v produce requests", n)
	if n > 200 {
		t.Errorf("%v produce requests for %d records, want at most 200", n, len(vs))
	}
	if n := h.metric(t, "loglet_kafka_request_limit_bytes"); n != batch {
		t.Errorf("request limit %v, want LOGLET_KAFKA_BATCH_BYTES again, %d", n, batch)
	}
}

// TestSplitRequestsForBrokerLimit: when the broker's message.max.bytes is
// below LOGLET_KAFKA_BATCH_BYTES, requests are split, nothing is refused.
func TestSplitRequestsForBrokerLimit(t *testing.T) {
	c := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "logs.shop"),
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": "20000"}))
	h := newSink(t, Config{Brokers: c.ListenAddrs(), Compression: "none", Linger: 50 * time.Millisecond}, nil)
	vs := seqValues(strings.Repeat("p", 400), 0, 500)
	b := newBatch("f", 0, vs...)
	if err := h.Send(context.Background(), b.Batch); err != nil {
		t.Fatal(err)
	}
	h.run(t)
	waitAcked(t, b)
	got := newConsumer(t, c.ListenAddrs(), nil, nil).read(t, "logs.shop", len(vs))
	if diff := cmp.Diff(vs, values(got)); diff != "" {
		t.Fatalf("records (-want +got):\n%s", diff)
	}
	if !strings.Contains(h.logs.String(), "sending smaller ones") {
		t.Errorf("no warning about the request size:\n%s", h.logs)
	}
}

// TestShortenOversizedRecord: a record over LOGLET_KAFKA_MAX_MESSAGE_BYTES
// is delivered shortened and marked, and counted.
func TestShortenOversizedRecord(t *testing.T) {
	c := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "logs.shop"))
	h := newSink(t, Config{Brokers: c.ListenAddrs(), MaxMessageBytes: 2048}, nil)
	h.run(t)
	big := `{"@timestamp":"2020-03-02T09:22:24Z","level":"error","msg":"` + strings.Repeat("stack ", 2000) + `","log":{"file":"f","offset":0}}`
	b := newBatch("f", 0, `{"msg":"small"}`, big)
	if err := h.Send(context.Background(), b.Batch); err != nil {
		t.Fatal(err)
	}
	waitAcked(t, b)
	got := newConsumer(t, c.ListenAddrs(), nil, nil).read(t, "logs.shop", 2)
	if len(got) != 2 || got[0].Value != `{"msg":"small"}` {
		t.Fatalf("got %v", got)
	}
	var rec struct {
		Level     string `json:"level"`
		Msg       string `json:"msg"`
		Truncated bool   `json:"truncated"`
	}
	if err := json.Unmarshal([]byte(got[1].Value), &rec); err != nil {
		t.Fatalf("shortened record is not JSON: %v", err)
	}
	if len(got[1].Value) > 2048 || !rec.Truncated || rec.Level != "error" || !strings.HasPrefix(strings.Repeat("stack ", 2000), rec.Msg) || len(rec.Msg) < 1000 {
		t.Errorf("shortened record (%d bytes): %+v", len(got[1].Value), rec)
	}
	if n := h.metric(t, "loglet_kafka_records_truncated_total"); n != 1 {
		t.Errorf("truncated metric = %v", n)
	}
}

// TestBrokerOutage stops the cluster while records are sent, restarts it
// on the same ports and data directory, and checks everything arrives in
// order and the batches sent during the outage are acknowledged only after.
func TestBrokerOutage(t *testing.T) {
	dir := t.TempDir()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(1, "logs.shop"), kfake.DataDir(dir)}
	c := startKfake(t, opts...)
	addrs := c.ListenAddrs()
	h := newSink(t, Config{Brokers: addrs}, nil)
	h.staleAfter = 0
	h.run(t)

	b1 := newBatch("f", 0, seqValues("o", 0, 100)...)
	if err := h.Send(context.Background(), b1.Batch); err != nil {
		t.Fatal(err)
	}
	waitAcked(t, b1)
	c.Close()

	b2 := newBatch("f", 10000, seqValues("o", 100, 100)...)
	b3 := newBatch("f", 20000, seqValues("o", 200, 100)...)
	for _, b := range []*tracked{b2, b3} {
		if err := h.Send(context.Background(), b.Batch); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 10*time.Second, "network errors", func() bool {
		return h.metric(t, "loglet_kafka_send_errors_total", "kind=network") >= 3
	})
	if b2.acks.Load()+b3.acks.Load() != 0 {
		t.Fatal("acknowledged during the outage")
	}
	if err := h.Ready(); err == nil {
		t.Error("Ready during the outage")
	}

	var ports []int
	for _, a := range addrs {
		_, p, _ := net.SplitHostPort(a)
		n, _ := strconv.Atoi(p)
		ports = append(ports, n)
	}
	startKfake(t, append(opts, kfake.Ports(ports...))...)
	waitAcked(t, b2, b3)
	got := newConsumer(t, addrs, nil, nil).read(t, "logs.shop", 300)
	if diff := cmp.Diff(seqValues("o", 0, 300), values(got)); diff != "" {
		t.Fatalf("records (-want +got):\n%s", diff)
	}
	if err := h.Ready(); err != nil {
		t.Errorf("Ready after the outage: %v", err)
	}
}

// TestStopWhileUnreachable: Run returns promptly when its context ends even
// though Kafka cannot be reached, and leaves the batch unacknowledged.
func TestStopWhileUnreachable(t *testing.T) {
	h := newSink(t, Config{Brokers: []string{"127.0.0.1:1"}}, nil)
	stop := h.run(t)
	b := newBatch("f", 0, seqValues("u", 0, 3)...)
	if err := h.Send(context.Background(), b.Batch); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "a failed attempt", func() bool {
		return h.metric(t, "loglet_kafka_send_errors_total") >= 1
	})
	start := time.Now()
	stop()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Run took %s to stop", d)
	}
	if b.acks.Load() != 0 {
		t.Error("acknowledged without Kafka")
	}
	if err := h.Send(context.Background(), newBatch("f", 0).Batch); !errors.Is(err, ErrStopped) {
		t.Errorf("Send after Run = %v, want ErrStopped", err)
	}
	if err := h.Ready(); err == nil || !strings.Contains(err.Error(), "not reachable") {
		t.Errorf("Ready = %v", err)
	}
}

// TestSendBackpressure: Send blocks while the queue is full and gives up
// when its context ends.
func TestSendBackpressure(t *testing.T) {
	h := newSink(t, Config{Brokers: []string{"127.0.0.1:1"}}, nil)
	h.maxQueued = 4000
	big := strings.Repeat("x", 3000)
	if err := h.Send(context.Background(), newBatch("f", 0, big).Batch); err != nil {
		t.Fatal(err) // an empty queue takes any batch
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := h.Send(ctx, newBatch("f", 0, big).Batch); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send to a full queue = %v, want DeadlineExceeded", err)
	}
}

// TestRouteFollowsPodChanges: when the pod's labels change, records go to
// the topic the template now gives; when it gives an illegal topic, they
// keep going to the last good one and the problem is logged once.
func TestRouteFollowsPodChanges(t *testing.T) {
	c := startKfake(t, kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1))
	var cur atomic.Pointer[podinfo.Pod]
	withTeam := func(team string) *podinfo.Pod {
		return podinfo.New(podinfo.Env{Name: "web-1", Namespace: "shop"}, map[string]string{"team": team}, nil)
	}
	cur.Store(withTeam("pay"))
	h := newSink(t, Config{Brokers: c.ListenAddrs(), Topic: "logs.{namespace}.{label:team}"}, cur.Load)
	h.run(t)
	send := func(prefix string) {
		t.Helper()
		b := newBatch("f", 0, seqValues(prefix, 0, 3)...)
		if err := h.Send(context.Background(), b.Batch); err != nil {
			t.Fatal(err)
		}
		waitAcked(t, b)
	}
	send("pay")
	cur.Store(withTeam("search"))
	send("search")
	cur.Store(withTeam("bad/name"))
	send("still search")
	send("still search, logged once")

	cons := newConsumer(t, c.ListenAddrs(), nil, nil)
	if diff := cmp.Diff(seqValues("pay", 0, 3), values(cons.read(t, "logs.shop.pay", 3))); diff != "" {
		t.Errorf("logs.shop.pay (-want +got):\n%s", diff)
	}
	want := append(append(seqValues("search", 0, 3), seqValues("still search", 0, 3)...), seqValues("still search, logged once", 0, 3)...)
	if diff := cmp.Diff(want, values(cons.read(t, "logs.shop.search", 9))); diff != "" {
		t.Errorf("logs.shop.search (-want +got):\n%s", diff)
	}
	if n := strings.Count(h.logs.String(), "no longer expands to a usable value"); n != 1 {
		t.Errorf("bad template logged %d times, want once:\n%s", n, h.logs)
	}
	if h.Topic() != "logs.shop.search" {
		t.Errorf("Topic = %q", h.Topic())
	}
}

// A batch handed over at the end of its file is sent at once: the linger
// (an hour here) waits only for batches more may follow.
func TestFinalBatchIsNotLingered(t *testing.T) {
	c := startKfake(t, kfake.SeedTopics(1, "logs.shop"))
	h := newSink(t, Config{Brokers: c.ListenAddrs(), Compression: "none", Linger: time.Hour}, nil)
	h.run(t)
	b := newBatch("1:2:abc", 0, seqValues("1:2:abc", 0, 3)...)
	b.Final = true
	if err := h.Send(context.Background(), b.Batch); err != nil {
		t.Fatal(err)
	}
	waitAcked(t, b)
	if got := newConsumer(t, c.ListenAddrs(), nil, nil).read(t, "logs.shop", 3); len(got) != 3 {
		t.Fatalf("%d records in Kafka, want 3", len(got))
	}
}
