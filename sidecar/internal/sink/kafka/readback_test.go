package kafka

import (
	"github.com/loglet/loglet/sidecar/kafkasec"

	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/loglet/loglet/sidecar/internal/podinfo"
	"github.com/loglet/loglet/sidecar/internal/sink"
)

// endBatch is newBatch with each record's End set: records of 100 bytes
// back to back, the i-th at off+100*i.
func endBatch(file string, off int64, values ...string) *tracked {
	b := newBatch(file, off, values...)
	for i := range b.Records {
		b.Records[i].Pos.End = b.Records[i].Pos.Offset + 100
	}
	return b
}

// sendAll sends the batches through h and waits for their acknowledgement.
func sendAll(t *testing.T, h *harness, bs ...*tracked) {
	t.Helper()
	for _, b := range bs {
		if err := h.Send(context.Background(), b.Batch); err != nil {
			t.Fatal(err)
		}
	}
	waitAcked(t, bs...)
}

// TestReadBackFindsOnlyThisFile: on a one-partition topic where other pods
// write too, one with another key but the same file identity and one with
// the same key but other files, ReadBack finds exactly this file's last
// end after the saved offset, and nothing for a file with no records
// there. Batch.Landed names the offset after each batch's last record.
func TestReadBackFindsOnlyThisFile(t *testing.T) {
	c := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "logs.shop"))
	cfg := Config{Brokers: c.ListenAddrs(), ReadBack: true, Linger: time.Millisecond}
	h := newSink(t, cfg, nil)
	h.run(t)
	otherKey := newSink(t, cfg, func() *podinfo.Pod {
		return podinfo.New(podinfo.Env{Name: "web-2", Namespace: "shop"}, nil, nil)
	})
	otherKey.run(t)
	sameKeyCfg := cfg
	sameKeyCfg.Key = "web-1" // a pod elsewhere whose key collides exactly
	sameKey := newSink(t, sameKeyCfg, func() *podinfo.Pod {
		return podinfo.New(podinfo.Env{Name: "api-7", Namespace: "shop"}, nil, nil)
	})
	sameKey.run(t)

	const fileA, fileB = "1:10:aaaa", "1:11:bbbb"
	first := endBatch(fileA, 0, seqValues("a", 0, 5)...)
	sendAll(t, h, first)
	saved := first.Landed // what the checkpoint would hold
	if saved.Topic != "logs.shop" || saved.Partition != 0 || saved.NextOffset != 5 {
		t.Fatalf("Landed = %+v, want logs.shop/0 next offset 5", saved)
	}
	sendAll(t, otherKey, endBatch(fileA, 0, seqValues("x", 0, 20)...)) // same file identity, other key: ends up to 2000
	a2 := endBatch(fileA, 500, seqValues("a", 5, 3)...)                // this file's: ends 600, 700, 800
	b1 := endBatch(fileB, 0, seqValues("b", 0, 2)...)
	sendAll(t, h, a2, b1)
	sendAll(t, sameKey, endBatch("1:99:cccc", 0, seqValues("y", 0, 20)...), endBatch("1:98:dddd", 4000, seqValues("z", 0, 3)...))
	sendAll(t, otherKey, endBatch(fileA, 5000, seqValues("x", 20, 3)...))

	// Landed agrees with what a consumer reads.
	got := newConsumer(t, c.ListenAddrs(), nil, nil).read(t, "logs.shop", 5+20+3+2+20+3+3)
	offsetOf := map[string]int64{}
	for _, m := range got {
		offsetOf[m.Value] = m.Offset
	}
	for _, b := range []*tracked{first, a2, b1} {
		last := string(b.Records[len(b.Records)-1].Value)
		want := sink.Landed{Topic: "logs.shop", Partition: 0, NextOffset: offsetOf[last] + 1}
		if b.Landed != want {
			t.Errorf("Landed = %+v, want %+v", b.Landed, want)
		}
		if got := findMessage(got, last).Headers[HeaderEnd]; got != strconv.FormatInt(b.Records[len(b.Records)-1].Pos.End, 10) {
			t.Errorf("loglet-end header %q", got)
		}
	}

	res, err := h.ReadBack(context.Background(), []ReadBackRequest{
		{FileID: fileA, Topic: saved.Topic, Partition: saved.Partition, FromOffset: saved.NextOffset},
		{FileID: fileB, Topic: saved.Topic, Partition: saved.Partition, FromOffset: saved.NextOffset},
		{FileID: "1:12:none", Topic: saved.Topic, Partition: saved.Partition, FromOffset: saved.NextOffset},
		{FileID: fileA, Partition: -1, FromOffset: b1.Landed.NextOffset}, // nothing of A after b1
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []ReadBackResult{
		{FileID: fileA, Found: true, End: 800, Records: 3, Landed: a2.Landed},
		{FileID: fileB, Found: true, End: 200, Records: 2, Landed: b1.Landed},
		{FileID: "1:12:none", Landed: saved},
		{FileID: fileA, Landed: b1.Landed},
	}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("ReadBack (-want +got):\n%s", diff)
	}
	if n := h.metric(t, "loglet_kafka_readback_skipped_records_total", "when=start"); n != 5 {
		t.Errorf("skipped records = %v, want 5", n)
	}
	if n := h.metric(t, "loglet_kafka_readback_bytes_total"); n <= 0 {
		t.Errorf("read-back bytes = %v", n)
	}
	if n := h.metric(t, "loglet_kafka_readbacks_total", "when=start"); n != 1 {
		t.Errorf("read-backs = %v, want 1 (one partition)", n)
	}
}

func findMessage(ms []message, value string) message {
	for _, m := range ms {
		if m.Value == value {
			return m
		}
	}
	return message{}
}

// loseAnswers makes the broker store the records of produce requests but
// lose the answer, for lose of them (every other one): the control calls
// during (when not nil), stores the request through a client of its own,
// holds the answer for hold, then closes the connection instead of
// answering. It returns how many answers were lost so far.
func loseAnswers(t *testing.T, c *kfake.Cluster, lose int, hold time.Duration, during func()) *atomic.Int32 {
	t.Helper()
	// Before Kafka 4.0, produce requests name topics (kafka-go's do).
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.MaxVersions(kversion.V3_9_0()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	var active atomic.Bool
	var seen, lost atomic.Int32
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if active.Load() {
			return nil, nil, false // the stored copy, or a request while an answer is held
		}
		if lost.Load() >= int32(lose) {
			c.DropControl()
			return nil, nil, false
		}
		c.KeepControl()
		if seen.Add(1)%2 == 0 {
			return nil, nil, false
		}
		active.Store(true)
		c.SleepControl(func() {
			defer active.Store(false)
			if during != nil {
				during()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			resp, err := cl.Request(ctx, req)
			if err != nil {
				t.Errorf("store the request: %v", err)
				return
			}
			for _, tp := range resp.(*kmsg.ProduceResponse).Topics {
				for _, p := range tp.Partitions {
					if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
						t.Errorf("store the request: %v", err)
					}
				}
			}
			time.Sleep(hold)
		})
		lost.Add(1)
		return nil, errors.New("answer lost"), true
	})
	return &lost
}

// TestLostProduceAnswers: the broker stores produce requests but their
// answers are lost (the connection closes, the answer comes after the
// request timeout, or the broker answers REQUEST_TIMED_OUT after
// appending), several times. Every record arrives exactly once, and the
// retries' read-backs find the records already there. With read-back off
// (the behaviour before), the same run duplicates records.
func TestLostProduceAnswers(t *testing.T) {
	for _, tt := range []struct {
		name     string
		readBack bool
		lose     func(t *testing.T, c *kfake.Cluster)
	}{
		{"connection closed", true, func(t *testing.T, c *kfake.Cluster) { loseAnswers(t, c, 4, 0, nil) }},
		{"answer after the timeout", true, func(t *testing.T, c *kfake.Cluster) { loseAnswers(t, c, 3, 700*time.Millisecond, nil) }},
		{"request timed out", true, func(t *testing.T, c *kfake.Cluster) {
			c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "logs.shop", Err: kerr.RequestTimedOut, Count: 4})
		}},
		{"read-back off", false, func(t *testing.T, c *kfake.Cluster) { loseAnswers(t, c, 4, 0, nil) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "logs.shop"))
			h := newSink(t, Config{Brokers: c.ListenAddrs(), ReadBack: tt.readBack, BatchBytes: 2048, Linger: time.Millisecond}, nil)
			h.reqTimeout = 300 * time.Millisecond
			h.minBackoff, h.maxBackoff = 10*time.Millisecond, 50*time.Millisecond
			tt.lose(t, c)
			h.run(t)
			var batches []*tracked
			var want []string
			for i := range 20 {
				vs := seqValues("r", i*10, 10)
				want = append(want, vs...)
				batches = append(batches, endBatch("1:2:ffff", int64(i*1000), vs...))
			}
			sendAll(t, h, batches...)
			got := newConsumer(t, c.ListenAddrs(), nil, nil).read(t, "logs.shop", len(want))
			if !tt.readBack {
				if len(got) <= len(want) {
					t.Fatalf("read-back off: %d records for %d sent; the test did not lose answers", len(got), len(want))
				}
				return
			}
			if diff := cmp.Diff(want, values(got)); diff != "" {
				t.Fatalf("records (-want +got):\n%s", diff)
			}
			for i, b := range batches {
				last := string(b.Records[len(b.Records)-1].Value)
				if m := findMessage(got, last); b.Landed.NextOffset != m.Offset+1 || b.Landed.Partition != m.Partition {
					t.Errorf("batch %d: Landed %+v, last record at %d/%d", i, b.Landed, m.Partition, m.Offset)
				}
			}
			if n := h.metric(t, "loglet_kafka_readback_skipped_records_total", "when=retry"); n < 4 {
				t.Errorf("records skipped on retry = %v, want at least one request's", n)
			}
			if n := h.metric(t, "loglet_kafka_readback_fallbacks_total"); n != 0 {
				t.Errorf("fall-backs = %v:\n%s", n, h.logs)
			}
		})
	}
}

// TestReadBackDenied: the user may write and describe the topic but not
// read it. ReadBack falls back to at-least-once with the reason, the sink
// warns once naming the topic and READ, and counts every fall-back; a lost
// produce answer is then sent again, so every record still arrives.
func TestReadBackDenied(t *testing.T) {
	acl := func(op kmsg.ACLOperation) kfake.ACL {
		return kfake.ACL{Resource: kmsg.ACLResourceTypeTopic, Name: "logs.shop", Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: op, Allow: true}
	}
	c := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "logs.shop"), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("PLAIN", "admin", "admin"),
		kfake.User("PLAIN", "shop", "pw", acl(kmsg.ACLOperationWrite), acl(kmsg.ACLOperationDescribe)))
	pw := writeFile(t, t.TempDir(), "pw", "pw")
	cfg := Config{Brokers: c.ListenAddrs(), Security: kafkasec.Security{SASLMechanism: "PLAIN", SASLUsername: "shop", SASLPasswordFile: pw}, ReadBack: true}
	h := newSink(t, cfg, nil)
	h.minBackoff, h.maxBackoff = 10*time.Millisecond, 50*time.Millisecond
	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "logs.shop", Err: kerr.RequestTimedOut, Count: 1})
	h.run(t)
	b := endBatch("1:2:ffff", 0, seqValues("r", 0, 5)...)
	sendAll(t, h, b)
	if n := h.metric(t, "loglet_kafka_readback_fallbacks_total", "reason=denied"); n != 1 {
		t.Errorf("denied fall-backs after the lost answer = %v, want 1", n)
	}

	req := []ReadBackRequest{{FileID: "1:2:ffff", Topic: "logs.shop", FromOffset: 0}}
	for range 2 {
		res, err := h.ReadBack(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1 || res[0].Fallback != FallbackDenied || res[0].Found || !errors.Is(res[0].Err, kafka.TopicAuthorizationFailed) {
			t.Errorf("ReadBack = %+v, want a denied fall-back", res)
		}
	}
	if n := h.metric(t, "loglet_kafka_readback_fallbacks_total", "reason=denied"); n != 3 {
		t.Errorf("denied fall-backs = %v, want 3", n)
	}
	logs := h.logs.String()
	if n := strings.Count(logs, "may not READ topic logs.shop"); n != 1 {
		t.Errorf("%d warnings naming the topic and READ, want 1:\n%s", n, logs)
	}
	if !strings.Contains(logs, `user \"shop\"`) {
		t.Errorf("the warning does not name the user:\n%s", logs)
	}
	got := newConsumer(t, c.ListenAddrs(), nil, mustMechanism(t, Config{Security: kafkasec.Security{SASLMechanism: "PLAIN", SASLUsername: "admin", SASLPasswordFile: writeFile(t, t.TempDir(), "apw", "admin")}})).
		read(t, "logs.shop", 10)
	if len(got) != 10 || values(got)[0] != values(got)[5] {
		t.Errorf("got %d records, want the five twice (at least once)", len(got))
	}
	if err := h.Ready(); err != nil {
		t.Errorf("Ready = %v: a denied read-back must not fail the output", err)
	}
}

// TestReadBackBound: other pods wrote more than
// LOGLET_KAFKA_READBACK_MAX_BYTES since the saved offset. ReadBack falls
// back (and says nothing was found, so the file is re-read from its
// checkpoint: nothing lost), counting it; within the bound the same
// request is exact. The retry path falls back the same way and sends the
// records again: all arrive.
func TestReadBackBound(t *testing.T) {
	c := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "logs.shop"))
	cfg := Config{Brokers: c.ListenAddrs(), ReadBack: true, ReadBackMaxBytes: 32 << 10, Compression: "none", Linger: time.Millisecond}
	h := newSink(t, cfg, nil)
	h.run(t)
	other := newSink(t, cfg, func() *podinfo.Pod { return podinfo.New(podinfo.Env{Name: "web-2", Namespace: "shop"}, nil, nil) })
	other.run(t)

	first := endBatch("1:2:ffff", 0, seqValues("a", 0, 3)...)
	sendAll(t, h, first)
	sendAll(t, other, endBatch("1:3:eeee", 0, seqValues(strings.Repeat("o", 500), 0, 200)...)) // ~100 KiB
	sendAll(t, h, endBatch("1:2:ffff", 300, seqValues("a", 3, 3)...))

	req := []ReadBackRequest{{FileID: "1:2:ffff", Topic: "logs.shop", FromOffset: first.Landed.NextOffset}}
	res, err := h.ReadBack(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Fallback != FallbackMaxBytes || res[0].Found || res[0].End != 0 {
		t.Fatalf("ReadBack = %+v, want a max_bytes fall-back", res)
	}
	if n := h.metric(t, "loglet_kafka_readback_fallbacks_total", "reason=max_bytes"); n != 1 {
		t.Errorf("max_bytes fall-backs = %v", n)
	}
	if n := h.metric(t, "loglet_kafka_readback_bytes_total"); n < 32<<10 || n > 2<<20 {
		t.Errorf("read-back bytes = %v, want the bound and a fetch at most", n)
	}
	if !strings.Contains(h.logs.String(), "LOGLET_KAFKA_READBACK_MAX_BYTES") {
		t.Errorf("no warning naming LOGLET_KAFKA_READBACK_MAX_BYTES:\n%s", h.logs)
	}

	big := newSink(t, Config{Brokers: c.ListenAddrs(), ReadBack: true, ReadBackMaxBytes: 8 << 20}, nil)
	res, err = big.ReadBack(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Fallback != "" || !res[0].Found || res[0].End != 600 {
		t.Errorf("within the bound: ReadBack = %+v, want End 600", res)
	}

	// The retry path: while an answer is lost, another pod writes past
	// the bound; the retry falls back and sends again, losing nothing.
	loseAnswers(t, c, 1, 0, func() {
		if err := other.Send(context.Background(), endBatch("1:3:eeee", 1e6, seqValues(strings.Repeat("p", 500), 0, 200)...).Batch); err != nil {
			t.Error(err)
		}
		time.Sleep(500 * time.Millisecond) // for other's records to land
	})
	last := endBatch("1:2:ffff", 600, seqValues("a", 6, 3)...)
	sendAll(t, h, last)
	got := newConsumer(t, c.ListenAddrs(), nil, nil).read(t, "logs.shop", 3+200+3+200+6)
	n := 0
	for _, m := range got {
		if m.Headers[HeaderFile] == "1:2:ffff" {
			n++
		}
	}
	if n != 12 {
		t.Errorf("%d records of this file, want 12 (the last three twice)", n)
	}
	if n := h.metric(t, "loglet_kafka_readback_fallbacks_total", "reason=max_bytes"); n != 2 {
		t.Errorf("max_bytes fall-backs = %v, want 2", n)
	}
}

// TestReadBackOffAndTimeout: with read-back off every file falls back
// without a word; a time limit passed before the high watermark (here a
// broker that never answers the fetch) falls back too.
func TestReadBackOffAndTimeout(t *testing.T) {
	c := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "logs.shop"))
	off := newSink(t, Config{Brokers: c.ListenAddrs()}, nil)
	res, err := off.ReadBack(context.Background(), []ReadBackRequest{{FileID: "f"}, {FileID: "g"}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]ReadBackResult{{FileID: "f", Fallback: FallbackDisabled}, {FileID: "g", Fallback: FallbackDisabled}}, res); diff != "" {
		t.Errorf("ReadBack off (-want +got):\n%s", diff)
	}
	if off.logs.String() != "" {
		t.Errorf("logs with read-back off:\n%s", off.logs)
	}

	off.run(t)
	sendAll(t, off, endBatch("f", 0, "{}"))
	c.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		return nil, nil, true // never answered
	})
	slow := newSink(t, Config{Brokers: c.ListenAddrs(), ReadBack: true, ReadBackTimeout: 100 * time.Millisecond}, nil)
	res, err = slow.ReadBack(context.Background(), []ReadBackRequest{{FileID: "f", Topic: "logs.shop", FromOffset: 0}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Fallback != FallbackTimeout {
		t.Errorf("ReadBack = %+v, want a timeout fall-back", res)
	}
}

// TestReadBackEdges: a record without loglet-end (an older loglet, or a
// pipeline that does not say) places the file at the record's start, so it
// is sent again rather than skipped on a guess; a saved offset beyond the
// partition's end (a topic deleted and created again) falls back.
func TestReadBackEdges(t *testing.T) {
	c := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "logs.shop"))
	h := newSink(t, Config{Brokers: c.ListenAddrs(), ReadBack: true}, nil)
	h.run(t)
	sendAll(t, h, newBatch("1:2:ffff", 0, seqValues("r", 0, 3)...)) // offsets 0, 100, 200; no End
	res, err := h.ReadBack(context.Background(), []ReadBackRequest{
		{FileID: "1:2:ffff", Topic: "logs.shop", FromOffset: 0},
		{FileID: "1:3:eeee", Topic: "logs.shop", FromOffset: 1000},
		{FileID: "1:2:ffff", Topic: "logs.shop", Partition: -1, FromOffset: -1}, // from the first offset
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := res[0]; r.Fallback != "" || !r.Found || r.End != 200 || r.Records != 3 {
		t.Errorf("without loglet-end: %+v, want End 200 (the last record's start)", r)
	}
	if r := res[1]; r.Fallback != FallbackOutOfRange || !errors.Is(r.Err, kafka.OffsetOutOfRange) {
		t.Errorf("beyond the end: %+v, want out_of_range", r)
	}
	if r := res[2]; r.Fallback != "" || r.End != 200 || r.Landed.NextOffset != 3 {
		t.Errorf("from the first offset: %+v", r)
	}
}

// TestOutcomeUnknown: which produce errors leave open whether the broker
// stored the records.
func TestOutcomeUnknown(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"deadline", fmt.Errorf("produce: %w", context.DeadlineExceeded), true},
		{"connection lost", &net.OpError{Op: "read", Err: io.ErrUnexpectedEOF}, true},
		{"eof", io.EOF, true},
		{"request timed out", kafka.RequestTimedOut, true},
		{"not enough replicas after append", kafka.NotEnoughReplicasAfterAppend, true},
		{"not leader", kafka.NotLeaderForPartition, false},
		{"denied", kafka.TopicAuthorizationFailed, false},
		{"too large", kafka.MessageSizeTooLarge, false},
		{"no connection", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, false},
	} {
		if got := outcomeUnknown(tt.err); got != tt.want {
			t.Errorf("%s: outcomeUnknown = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// FuzzPositionOf: header values of any bytes never panic, and a position
// is reported only with a file and a non-negative offset.
func FuzzPositionOf(f *testing.F) {
	f.Add("1:2:ab", "0", "10")
	f.Add("", "-1", "x")
	f.Add("f", "9223372036854775808", "")
	f.Fuzz(func(t *testing.T, file, off, end string) {
		hs := []kafka.Header{{Key: HeaderFile, Value: []byte(file)}, {Key: HeaderOffset, Value: []byte(off)}, {Key: HeaderEnd, Value: []byte(end)}}
		gotFile, pos, e, ok := positionOf(hs)
		n, err := strconv.ParseInt(off, 10, 64)
		if ok != (err == nil && n >= 0) {
			t.Fatalf("ok = %v for offset %q", ok, off)
		}
		if ok && (gotFile != file || pos != n || e < -1) {
			t.Fatalf("positionOf = %q %d %d", gotFile, pos, e)
		}
	})
}
