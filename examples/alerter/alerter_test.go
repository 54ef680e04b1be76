package main

// These tests run the alerter against an in-process Kafka-protocol broker
// (kfake) over real TCP and an httptest server standing in for the Slack
// webhook.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/loglet/loglet/sidecar/kafkasec"
)

// kafkaTimeout bounds each request the tests make to the broker.
const kafkaTimeout = 30 * time.Second

// testKafka is a kfake cluster and a kafka-go client for setting it up and
// inspecting it.
type testKafka struct {
	t      *testing.T
	addrs  []string
	client *kafka.Client
	sec    *kafkasec.Client // how the test itself connects
}

func startKafka(t *testing.T) *testKafka {
	t.Helper()
	return startKafkaWith(t, &kafkasec.Client{})
}

// startKafkaWith starts a kfake cluster with opts, to which the test
// connects with sec.
func startKafkaWith(t *testing.T, sec *kafkasec.Client, opts ...kfake.Opt) *testKafka {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.Ports(0)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	tr := sec.Transport("test")
	k := &testKafka{t: t, addrs: c.ListenAddrs(), sec: sec, client: &kafka.Client{Addr: kafka.TCP(c.ListenAddrs()...), Timeout: 10 * time.Second, Transport: tr}}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		c.Close()
	})
	return k
}

func (k *testKafka) createTopic(name string, partitions int) {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kafkaTimeout)
	defer cancel()
	resp, err := k.client.CreateTopics(ctx, &kafka.CreateTopicsRequest{
		Topics: []kafka.TopicConfig{{Topic: name, NumPartitions: partitions, ReplicationFactor: 1}},
	})
	if err == nil {
		err = resp.Errors[name]
	}
	if err != nil {
		k.t.Fatalf("create topic %s: %v", name, err)
	}
}

// produce writes values to topic, keyed by pod as loglet does, and waits for
// the broker's acknowledgement.
func (k *testKafka) produce(topic string, recs ...testRecord) {
	k.t.Helper()
	tr := k.sec.Transport("test")
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{Addr: kafka.TCP(k.addrs...), Balancer: &kafka.Hash{}, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll, Transport: tr}
	defer w.Close()
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		msgs[i] = kafka.Message{Topic: topic, Key: []byte(r.pod), Value: r.value()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), kafkaTimeout)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		k.t.Fatalf("produce to %s: %v", topic, err)
	}
}

// committed returns the group's committed offset and the end offset of each
// partition of topic, as "partition:committed/end".
func (k *testKafka) committed(group, topic string, partitions int) []string {
	k.t.Helper()
	ps := make([]int, partitions)
	reqs := make([]kafka.OffsetRequest, partitions)
	for i := range ps {
		ps[i], reqs[i] = i, kafka.LastOffsetOf(i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), kafkaTimeout)
	defer cancel()
	of, err := k.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: ps}})
	if err != nil {
		k.t.Fatalf("offset fetch: %v", err)
	}
	lo, err := k.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		k.t.Fatalf("list offsets: %v", err)
	}
	end := map[int]int64{}
	for _, p := range lo.Topics[topic] {
		end[p.Partition] = p.LastOffset
	}
	var out []string
	for _, p := range of.Topics[topic] {
		out = append(out, fmt.Sprintf("%d:%d/%d", p.Partition, p.CommittedOffset, end[p.Partition]))
	}
	slices.Sort(out)
	return out
}

// allCommitted reports whether the group committed every partition of topic
// up to its end (an empty partition needs no commit).
func (k *testKafka) allCommitted(group, topic string, partitions int) bool {
	k.t.Helper()
	got := k.committed(group, topic, partitions)
	for _, p := range got {
		var part int
		var committed, end int64
		if _, err := fmt.Sscanf(p, "%d:%d/%d", &part, &committed, &end); err != nil {
			k.t.Fatalf("committed offsets %q: %v", p, err)
		}
		if committed != end && !(committed == -1 && end == 0) {
			return false
		}
	}
	return len(got) == partitions
}

// testRecord is a log record as loglet produces it.
type testRecord struct {
	pod, level, msg string
	raw             string // if set, the value instead of a record
}

func (r testRecord) value() []byte {
	if r.raw != "" {
		return []byte(r.raw)
	}
	v, err := json.Marshal(map[string]any{
		"@timestamp": "2026-03-02T09:22:24.5Z",
		"level":      r.level,
		"msg":        r.msg,
		"fields":     map[string]any{"count": 1, "file": "main.go:16"},
		"kubernetes": map[string]any{"pod_name": r.pod, "namespace_name": "shop", "pod_id": "uid-" + r.pod, "pod_ip": "10.0.0.7",
			"host": "node-1", "container_name": "app", "labels": map[string]string{"app": "shop"}},
		"log": map[string]any{"file": r.pod + ".log", "offset": 0, "format": "json"},
	})
	if err != nil {
		panic(err)
	}
	return v
}

// testHook is the webhook: it answers 503 while down and records the texts
// it accepted.
type testHook struct {
	down     atomic.Bool
	failures atomic.Int64
	mu       sync.Mutex
	accepted []string
}

func (h *testHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct{ Text string }
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Text == "" {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	if h.down.Load() {
		h.failures.Add(1)
		http.Error(w, "service unavailable", http.StatusServiceUnavailable)
		return
	}
	h.mu.Lock()
	h.accepted = append(h.accepted, body.Text)
	h.mu.Unlock()
	w.Write([]byte("ok"))
}

var (
	alertPod     = regexp.MustCompile("in pod `([^`]*)` \\(namespace `shop`, container `app`, node `node-1`\\)")
	alertQuote   = regexp.MustCompile("(?s)\n```\n(.*)\n```\n")
	alertDropped = regexp.MustCompile(`_(\d+) earlier alert`)
)

// alerts summarizes each accepted alert as "pod: message", with " (+N
// dropped)" when it reports rate-limited ones, sorted.
func (h *testHook) alerts() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, text := range h.accepted {
		s := "unparsed alert: " + text
		if p, q := alertPod.FindStringSubmatch(text), alertQuote.FindStringSubmatch(text); p != nil && q != nil {
			s = p[1] + ": " + q[1]
			if d := alertDropped.FindStringSubmatch(text); d != nil {
				s += " (+" + d[1] + " dropped)"
			}
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func startHook(t *testing.T) (*testHook, string) {
	h := &testHook{}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv.URL
}

// runAlerter starts an alerter on cfg with short test intervals; the returned
// stop (also run at cleanup) cancels it and waits for run to return.
func runAlerter(t *testing.T, k *testKafka, hookURL string, cfg config, now func() time.Time) (stop func()) {
	t.Helper()
	cfg.WebhookURL, cfg.Brokers = hookURL, k.addrs
	cfg.GroupID = "alerter-" + t.Name()
	if cfg.TopicRefresh == 0 {
		cfg.TopicRefresh = 100 * time.Millisecond
	}
	cfg.RetryMin, cfg.RetryMax = 5*time.Millisecond, 50*time.Millisecond
	a, err := newAlerter(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	a.maxWait = 100 * time.Millisecond
	if now != nil {
		a.now = now
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("alerter did not stop within 30s of cancellation")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// eventually polls cond until it holds, failing after 30s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAlertsForErrorsAndExceptions(t *testing.T) {
	t.Parallel()
	k := startKafka(t)
	k.createTopic("logs.shop", 3)
	k.createTopic("logs.pay", 1)
	k.createTopic("metrics", 1)
	k.createTopic("logs-archive", 1)
	k.produce("logs.shop",
		testRecord{pod: "cart-1", level: "info", msg: "started"},
		testRecord{pod: "cart-1", level: "warning", msg: "slow request"},
		testRecord{pod: "cart-1", level: "error", msg: "db down"},
		testRecord{pod: "cart-1", level: "info", msg: "java.lang.IllegalStateException: closed"},
		testRecord{pod: "web-2", level: "info", msg: "ok"},
		testRecord{pod: "web-2", raw: "not a loglet record"},
		testRecord{pod: "web-2", level: "fatal", msg: "cannot bind :8080"},
		testRecord{pod: "web-2", level: "debug", msg: "panic: assignment to entry in nil map"},
		testRecord{pod: "web-2", level: "info", msg: "bye"},
	)
	k.produce("logs.pay",
		testRecord{pod: "pay-0", level: "info", msg: "paid"},
		testRecord{pod: "pay-0", level: "critical", msg: "ledger mismatch"},
	)
	k.produce("metrics", testRecord{pod: "cart-1", level: "error", msg: "not a logs topic"})
	k.produce("logs-archive", testRecord{pod: "cart-1", level: "error", msg: "not a logs. topic"})

	hook, url := startHook(t)
	stop := runAlerter(t, k, url, config{}, nil)
	want := []string{
		"cart-1: db down",
		"cart-1: java.lang.IllegalStateException: closed",
		"pay-0: ledger mismatch",
		"web-2: cannot bind :8080",
		"web-2: panic: assignment to entry in nil map",
	}
	eventually(t, "five alerts", func() bool { return len(hook.alerts()) >= len(want) })
	// Every record was handled, so every offset gets committed. Records
	// needing no alert follow the last alert, so the test waits for that
	// rather than stopping the alerter before it read them.
	group := "alerter-" + t.Name()
	eventually(t, "every offset of logs.shop and logs.pay committed", func() bool {
		return k.allCommitted(group, "logs.shop", 3) && k.allCommitted(group, "logs.pay", 1)
	})
	stop()
	if diff := cmp.Diff(want, hook.alerts()); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
	// The topics the pattern does not match were never read.
	for _, topic := range []string{"metrics", "logs-archive"} {
		if diff := cmp.Diff([]string{"0:-1/1"}, k.committed(group, topic, 1)); diff != "" {
			t.Errorf("%s committed/end offsets (-want +got):\n%s", topic, diff)
		}
	}
}

// TestWebhookDownLosesNoAlert stops the alerter while the webhook is failing,
// checks that the offset of the alert it could not post was not committed,
// and then lets a new alerter post it once the webhook is back.
func TestWebhookDownLosesNoAlert(t *testing.T) {
	t.Parallel()
	k := startKafka(t)
	k.createTopic("logs.shop", 1)
	k.produce("logs.shop",
		testRecord{pod: "cart-1", level: "info", msg: "started"},
		testRecord{pod: "cart-1", level: "info", msg: "serving"},
		testRecord{pod: "cart-1", level: "error", msg: "db down"},
		testRecord{pod: "cart-1", level: "info", msg: "retrying"},
		testRecord{pod: "cart-1", level: "error", msg: "NullPointerException in checkout"},
	)
	hook, url := startHook(t)
	hook.down.Store(true)
	group := "alerter-" + t.Name()

	stop := runAlerter(t, k, url, config{}, nil)
	eventually(t, "five failed posts", func() bool { return hook.failures.Load() >= 5 })
	stop()
	if diff := cmp.Diff([]string{"0:2/5"}, k.committed(group, "logs.shop", 1)); diff != "" {
		t.Errorf("committed/end offsets after stopping with the webhook down (-want +got):\n%s", diff)
	}

	// A new alerter in the same group finds the webhook down for a while,
	// then up.
	failed := hook.failures.Load()
	stop = runAlerter(t, k, url, config{}, nil)
	eventually(t, "five more failed posts", func() bool { return hook.failures.Load() >= failed+5 })
	hook.down.Store(false)
	want := []string{"cart-1: NullPointerException in checkout", "cart-1: db down"}
	eventually(t, "two alerts", func() bool { return len(hook.alerts()) >= len(want) })
	stop()
	if diff := cmp.Diff(want, hook.alerts()); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"0:5/5"}, k.committed(group, "logs.shop", 1)); diff != "" {
		t.Errorf("committed/end offsets at the end (-want +got):\n%s", diff)
	}
}

// TestFindsNewTopics starts with no logs.* topic at all, then creates two,
// one after the other, while the alerter runs.
func TestFindsNewTopics(t *testing.T) {
	t.Parallel()
	k := startKafka(t)
	k.createTopic("metrics", 1)
	hook, url := startHook(t)
	stop := runAlerter(t, k, url, config{}, nil)

	k.createTopic("logs.late", 2)
	k.produce("logs.late", testRecord{pod: "late-0", level: "error", msg: "first"})
	eventually(t, "the alert from logs.late", func() bool { return len(hook.alerts()) >= 1 })

	// The consumer restarts for the new topic; logs.late's offset was
	// committed, so its alert is not posted again.
	k.createTopic("logs.later", 1)
	k.produce("logs.later", testRecord{pod: "later-0", level: "panic", msg: "second"})
	k.produce("logs.late", testRecord{pod: "late-0", level: "error", msg: "third"})
	eventually(t, "three alerts", func() bool { return len(hook.alerts()) >= 3 })
	stop()
	want := []string{"late-0: first", "late-0: third", "later-0: second"}
	if diff := cmp.Diff(want, hook.alerts()); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
}

// testClock is a clock the test moves by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestRateLimitPerPod(t *testing.T) {
	t.Parallel()
	k := startKafka(t)
	k.createTopic("logs.shop", 1)
	var recs []testRecord
	for i := range 5 {
		recs = append(recs, testRecord{pod: "noisy-0", level: "error", msg: fmt.Sprint("noisy ", i)})
	}
	recs = append(recs, testRecord{pod: "quiet-0", level: "error", msg: "quiet"})
	k.produce("logs.shop", recs...)

	clock := &testClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	hook, url := startHook(t)
	stop := runAlerter(t, k, url, config{PodBurst: 2, PodInterval: time.Hour}, clock.Now)
	// One partition, so the quiet pod's alert comes after all noisy records
	// were handled.
	eventually(t, "the quiet pod's alert", func() bool { return slices.Contains(hook.alerts(), "quiet-0: quiet") })
	clock.Add(time.Hour)
	k.produce("logs.shop", testRecord{pod: "noisy-0", level: "error", msg: "noisy again"})
	eventually(t, "four alerts", func() bool { return len(hook.alerts()) >= 4 })
	stop()
	want := []string{"noisy-0: noisy 0", "noisy-0: noisy 1", "noisy-0: noisy again (+3 dropped)", "quiet-0: quiet"}
	if diff := cmp.Diff(want, hook.alerts()); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
}

// stuckCloser is a Kafka reader whose Close blocks until released, as
// kafka-go's has been seen to.
type stuckCloser struct{ release, closed chan struct{} }

func (c stuckCloser) Close() error {
	<-c.release
	close(c.closed)
	return nil
}

// TestCloseReaderGivesUp checks that a reader that does not close cannot
// keep the alerter from stopping.
func TestCloseReaderGivesUp(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	a := &alerter{
		log: slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			return logs.Write(p)
		}), nil)),
		closeTimeout: 10 * time.Millisecond,
	}
	c := stuckCloser{make(chan struct{}), make(chan struct{})}
	returned := make(chan struct{})
	go func() {
		a.closeReader(c)
		close(returned)
	}()
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("closeReader still waiting 10s after its 10ms timeout")
	}
	close(c.release)
	select {
	case <-c.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not finish once released")
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "did not close in time") {
		t.Errorf("logs %q, want the reader named as not closed", logs.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
