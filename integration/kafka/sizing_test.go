package kafka_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/segmentio/kafka-go"

	"github.com/loglet/loglet/integration/internal/harness"
)

// createTopicWithLimit creates topic with one partition and the given
// max.message.bytes, the topic-level limit on a produce request's batch.
func createTopicWithLimit(t *testing.T, k *harness.Kafka, topic string, maxMessageBytes int) {
	t.Helper()
	res, err := k.Client().CreateTopics(context.Background(), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: topic, NumPartitions: 1, ReplicationFactor: 1,
		ConfigEntries: []kafka.ConfigEntry{{ConfigName: "max.message.bytes", ConfigValue: strconv.Itoa(maxMessageBytes)}},
	}}})
	if err == nil {
		err = res.Errors[topic]
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// sizingRecord is the part of a record these tests look at.
type sizingRecord struct {
	Msg        string         `json:"msg"`
	Truncated  bool           `json:"truncated"`
	Fields     map[string]any `json:"fields"`
	TypeErrors map[string]any `json:"type_errors"`
}

func decodeRecord(t *testing.T, i int, m harness.Message) sizingRecord {
	t.Helper()
	var r sizingRecord
	if err := json.Unmarshal([]byte(m.Value), &r); err != nil {
		t.Fatalf("record %d does not decode with encoding/json: %v\n%.300s", i, err, m.Value)
	}
	return r
}

// TestProduceSizingRecovers: a record the topic's
// max.message.bytes refuses, although it is under
// LOGLET_KAFKA_MAX_MESSAGE_BYTES, is shortened until the broker takes it,
// and the 50,000 ordinary lines behind it then go in requests about as large
// as the topic takes, not one request per record. Before, the refused record
// was retried as it was for ever and nothing behind it arrived; and after
// refusals the request size stayed at half the last one refused for the life
// of the process.
func TestProduceSizingRecovers(t *testing.T) {
	const (
		topicLimit = 1048588 // Kafka's default message.max.bytes
		lines      = 50_000
	)
	k := harness.StartKafka(t, false)
	p := newPod(t, "web-1", uniq("sizing"), nil)
	createTopicWithLimit(t, k, p.topic(), topicLimit)

	big := strings.Repeat("0123456789abcdef", 3<<20/16) // 3 MiB: under the sidecar's limits, over the topic's
	p.app.Print(`{"level":"error","msg":"` + big + `"}`)
	var sb strings.Builder
	for i := range lines {
		fmt.Fprintf(&sb, `{"level":"info","msg":"ordinary line %d","n":%d}`+"\n", i, i)
	}
	p.app.Write([]byte(sb.String()))

	sc := harness.StartSidecar(t, p.env(k,
		"LOGLET_KAFKA_COMPRESSION=none", // so that request sizes are what the broker measures
		"LOGLET_MAX_LINE_BYTES=4MiB",
		"LOGLET_KAFKA_MAX_MESSAGE_BYTES=4194304"))
	sc.WaitFor(t, 90*time.Second, "every line in Kafka", func() bool { return k.Count(t, p.topic()) >= lines+1 })

	got := k.Read(t, p.topic(), lines+1, time.Minute)
	if len(got) != lines+1 {
		t.Fatalf("%d records, want %d", len(got), lines+1)
	}
	first := decodeRecord(t, 0, got[0])
	if !first.Truncated || len(got[0].Value) > topicLimit || len(first.Msg) < 1<<18 || !strings.HasPrefix(big, first.Msg) {
		t.Errorf("the big record arrived with %d bytes, truncated %v, a msg of %d bytes: want it shortened under %d bytes, a prefix of at least 256 KiB",
			len(got[0].Value), first.Truncated, len(first.Msg), topicLimit)
	}
	for i, m := range got[1:] {
		if r := decodeRecord(t, i+1, m); r.Msg != fmt.Sprintf("ordinary line %d", i) || r.Truncated {
			t.Fatalf("record %d: msg %q truncated %v, want ordinary line %d", i+1, r.Msg, r.Truncated, i)
		}
	}

	// The ordinary records total about 17 MB: 17 requests at the topic's
	// limit. Allow the refusals, the halving, the doubling back and slack:
	// one request per record would be 50,000.
	requests := sc.Metric("loglet_kafka_produce_requests_total")
	t.Logf("%v produce requests for %d records; request limit now %v bytes", requests, lines+1, sc.Metric("loglet_kafka_request_limit_bytes"))
	if requests > 200 {
		t.Errorf("%v produce requests for %d records, want at most 200", requests, lines+1)
	}
	if n := sc.Metric("loglet_kafka_records_truncated_total"); n != 1 {
		t.Errorf("loglet_kafka_records_truncated_total = %v, want 1", n)
	}
}

// TestOutOfRangeNumberArrives: a JSON line with a
// number beyond float64's range reaches Kafka as a record encoding/json
// decodes, the number as the string "1e400" in type_errors, counted as a type
// error; the record behind it arrives too. Before, 1e400 was copied verbatim
// and encoding/json refused the whole record.
func TestOutOfRangeNumberArrives(t *testing.T) {
	k := harness.StartKafka(t, false)
	p := newPod(t, "web-1", uniq("numbers"), nil)
	k.CreateTopic(t, p.topic(), 1)
	p.app.Print(`{"level":"info","msg":"overflow","n":1e400,"ok":12.5}`)
	p.app.Print(`msg=logfmt n=-1e400`)
	sc := harness.StartSidecar(t, p.env(k))
	got := k.Read(t, p.topic(), 2, 30*time.Second)
	if len(got) != 2 {
		t.Fatalf("%d records, want 2", len(got))
	}
	for i, want := range []sizingRecord{
		{Msg: "overflow", Fields: map[string]any{"ok": 12.5}, TypeErrors: map[string]any{"n": "1e400"}},
		{Msg: "logfmt", TypeErrors: map[string]any{"n": "-1e400"}},
	} {
		if diff := cmp.Diff(want, decodeRecord(t, i, got[i])); diff != "" {
			t.Errorf("record %d (-want +got):\n%s", i, diff)
		}
	}
	sc.WaitFor(t, 10*time.Second, "loglet_type_errors_total 2", func() bool { return sc.Metric("loglet_type_errors_total") == 2 })
}

// TestShortenHugeRecordMemory: with
// LOGLET_MAX_LINE_BYTES at 32 MiB, a 16 MiB JSON line arrives shortened to
// LOGLET_KAFKA_MAX_MESSAGE_BYTES, and the sidecar's peak RSS stays under 8
// times the line. Before, shortening decoded the whole record and the
// sidecar peaked at about 25 times the line (408 MB).
func TestShortenHugeRecordMemory(t *testing.T) {
	const size, limit = 16 << 20, 1 << 20
	k := harness.StartKafka(t, false)
	p := newPod(t, "web-1", uniq("huge"), nil)
	createTopicWithLimit(t, k, p.topic(), 2*limit)
	msg := strings.Repeat("stack frame é\\n\\t", size/16)
	p.app.Print(`{"level":"error","msg":"` + msg + `","fields_after":"x"}`)
	p.app.Print(`{"level":"info","msg":"after"}`)
	sc := harness.StartSidecar(t, p.env(k, "LOGLET_MAX_LINE_BYTES=32MiB", "LOGLET_MAX_BUFFER_BYTES=64MiB",
		"LOGLET_KAFKA_MAX_MESSAGE_BYTES="+strconv.Itoa(limit)))
	got := k.Read(t, p.topic(), 2, time.Minute)
	if len(got) != 2 {
		t.Fatalf("%d records, want 2", len(got))
	}
	peak := sc.PeakRSS(t)
	r := decodeRecord(t, 0, got[0])
	if !r.Truncated || len(got[0].Value) > limit || len(r.Msg) < limit/2 {
		t.Errorf("the huge record arrived with %d bytes, truncated %v, a msg of %d bytes: want it shortened to %d bytes", len(got[0].Value), r.Truncated, len(r.Msg), limit)
	}
	if r := decodeRecord(t, 1, got[1]); r.Msg != "after" {
		t.Errorf("record 1: msg %q, want after", r.Msg)
	}
	t.Logf("peak RSS %d MiB for a %d MiB line (%.1fx)", peak>>20, size>>20, float64(peak)/size)
	if peak > 8*size {
		t.Errorf("peak RSS %d MiB > 8 x the %d MiB line", peak>>20, size>>20)
	}
}
