package kafka_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/loglet/loglet/integration/internal/harness"
)

// otlpRecord is one OTLP log record as the Collector's kafkareceiver
// decodes it, with its resource and scope, in plain Go values (pcommon's
// AsRaw) for cmp.Diff.
type otlpRecord struct {
	Resource     map[string]any
	Scope        string
	Time         time.Time
	SeverityNum  int32
	SeverityText string
	Body         any
	Attributes   map[string]any
}

// TestOTLPEncodings: with LOGLET_KAFKA_ENCODING=otlp_proto or otlp_json,
// every Kafka message the real loglet produces is one
// ExportLogsServiceRequest that pdata's unmarshalers (the kafkareceiver's)
// read, holding one record: the pod's identity as semantic-convention
// resource attributes, the level as severity, the message as body, the
// typed fields as attributes (big integers, nested objects, booleans and
// floats keeping their types), the file and position, @timestamp and the
// read time. The expectations come from what the app logged.
func TestOTLPEncodings(t *testing.T) {
	k := harness.StartKafka(t, false)
	for _, enc := range []string{"otlp_proto", "otlp_json"} {
		t.Run(enc, func(t *testing.T) {
			labels := map[string]string{"app": "shop", "tier": "web"}
			p := newPod(t, "web-1", uniq("shop"), labels)
			annotations := "team=\"payments\"\nmycompany.io/owner=\"ann\"\n"
			if err := os.WriteFile(filepath.Join(p.dir, "podinfo", "annotations"), []byte(annotations), 0o644); err != nil {
				t.Fatal(err)
			}
			k.CreateTopic(t, p.topic(), 1)

			resource := map[string]any{
				"k8s.pod.name": "web-1", "k8s.namespace.name": p.namespace, "k8s.pod.uid": "uid-web-1", "k8s.pod.ip": "10.1.2.3",
				"k8s.node.name": "node-1", "k8s.container.name": "app",
				"k8s.pod.label.app": "shop", "k8s.pod.label.tier": "web",
				"k8s.pod.annotation.team": "payments", "k8s.pod.annotation.mycompany.io/owner": "ann",
			}
			t0 := time.Date(2020, 3, 2, 9, 22, 24, 123456000, time.UTC)
			var want []otlpRecord
			var offsets []int64
			add := func(at time.Time, num int32, level string, body any, format string, attrs map[string]any) {
				lines := p.app.Lines()
				off := lines[len(lines)-1].Offset
				offsets = append(offsets, off)
				attrs["log.file.name"] = "web-1.log"
				attrs["loglet.format"] = format
				attrs["loglet.offset"] = off
				want = append(want, otlpRecord{Resource: resource, Scope: "loglet", Time: at, SeverityNum: num, SeverityText: level, Body: body, Attributes: attrs})
			}
			js, lf := p.app.Logrus(true), p.app.Logrus(false)
			js.WithTime(t0).WithFields(logrus.Fields{
				"count": 7, "big": uint64(12345678901234567890), "latency_ms": 12.5, "ok": true,
				"user": map[string]any{"name": "ann", "roles": []any{"admin", 2}, "active": false},
			}).Warn("sample log")
			// Levels are normalised (LOGLET_NORMALIZE_LEVELS), the original kept.
			add(t0, 13, "warn", "sample log", "json", map[string]any{
				"loglet.level_original": "warning",
				"count":                 int64(7), "big": "12345678901234567890", "latency_ms": 12.5, "ok": true,
				"user": map[string]any{"name": "ann", "roles": []any{"admin", int64(2)}, "active": false},
			})
			at := t0.Add(time.Second)
			lf.WithTime(at).WithFields(logrus.Fields{"attempt": 3, "ratio": 0.25, "user": "ann smith"}).Error("upstream failed")
			add(at, 17, "error", "upstream failed", "logfmt", map[string]any{"attempt": int64(3), "ratio": 0.25, "user": "ann smith"})
			at = at.Add(time.Second)
			p.app.Print(at.Format("2006/01/02 15:04:05.000000") + " plain line")
			add(at, 0, "", "plain line", "plain", map[string]any{})
			p.app.Print(`{"level":"PANIC","msg":"out of range","n":1e400,"time":"` + at.Format(time.RFC3339Nano) + `"}`)
			add(at, 21, "fatal", "out of range", "json", map[string]any{"loglet.type_errors": map[string]any{"n": "1e400"}, "loglet.level_original": "PANIC"})

			before := time.Now()
			sc := harness.StartSidecar(t, p.env(k, "LOGLET_KAFKA_ENCODING="+enc))
			got := k.Read(t, p.topic(), len(want), 30*time.Second)
			after := time.Now()
			if len(got) != len(want) {
				t.Fatalf("%d messages, want %d", len(got), len(want))
			}
			ctype := map[string]string{"otlp_proto": "application/x-protobuf", "otlp_json": "application/json"}[enc]
			for i, m := range got {
				var logs plog.Logs
				var err error
				if enc == "otlp_proto" {
					logs, err = (&plog.ProtoUnmarshaler{}).UnmarshalLogs([]byte(m.Value))
				} else {
					logs, err = (&plog.JSONUnmarshaler{}).UnmarshalLogs([]byte(m.Value))
				}
				if err != nil {
					t.Fatalf("message %d: %v\n%q", i, err, m.Value)
				}
				if n := logs.LogRecordCount(); n != 1 || logs.ResourceLogs().Len() != 1 {
					t.Fatalf("message %d holds %d records in %d resources, want 1 in 1", i, n, logs.ResourceLogs().Len())
				}
				rl := logs.ResourceLogs().At(0)
				sl := rl.ScopeLogs().At(0)
				lr := sl.LogRecords().At(0)
				rec := otlpRecord{
					Resource: rl.Resource().Attributes().AsRaw(), Scope: sl.Scope().Name(), Time: lr.Timestamp().AsTime(),
					SeverityNum: int32(lr.SeverityNumber()), SeverityText: lr.SeverityText(), Body: lr.Body().AsRaw(),
					Attributes: lr.Attributes().AsRaw(),
				}
				file, _ := rec.Attributes["loglet.file"].(string)
				delete(rec.Attributes, "loglet.file")
				if diff := cmp.Diff(want[i], rec); diff != "" {
					t.Errorf("message %d (-want +got):\n%s", i, diff)
				}
				if obs := lr.ObservedTimestamp().AsTime(); obs.Before(before.Add(-time.Second)) || obs.After(after) {
					t.Errorf("message %d: observed time %s outside the run [%s, %s]", i, obs, before, after)
				}
				end := int64(-1) // a record ends where the next one starts; the last one's end is checked only for presence
				if i+1 < len(offsets) {
					end = offsets[i+1]
				}
				wantHdr := map[string]string{"content-type": ctype, "loglet-file": file, "loglet-offset": strconv.FormatInt(offsets[i], 10),
					"loglet-end": strconv.FormatInt(end, 10)}
				if end < 0 {
					wantHdr["loglet-end"] = m.Headers["loglet-end"]
					if m.Headers["loglet-end"] == "" {
						t.Errorf("message %d: no loglet-end header", i)
					}
				}
				if file == "" || m.Key != "web-1" || !cmp.Equal(wantHdr, m.Headers) || !m.Time.Equal(want[i].Time.Truncate(time.Millisecond)) {
					t.Errorf("message %d: key %q time %s headers %v; want web-1, %s, %v", i, m.Key, m.Time, m.Headers, want[i].Time, wantHdr)
				}
			}
			if _, err := sc.Stop(15 * time.Second); err != nil {
				t.Errorf("stop: %v", err)
			}
		})
	}
}
