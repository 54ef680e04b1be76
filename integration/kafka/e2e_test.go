package kafka_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/loglet/loglet/integration/internal/harness"
)

// wantRecord is a record as the test expects it, built from what the app
// was asked to log, never from loglet's output.
type wantRecord struct {
	offset int64
	rec    map[string]any
}

// writeMixed makes the pod's app write logrus JSON, logrus logfmt and plain
// lines, and returns the records loglet must make of them.
func (p *pod) writeMixed(labels map[string]string) []wantRecord {
	t0 := time.Date(2020, 3, 2, 9, 22, 24, 0, time.UTC)
	js, lf := p.app.Logrus(true), p.app.Logrus(false)
	k8s := map[string]any{"pod_name": p.name, "namespace_name": p.namespace, "pod_id": "uid-" + p.name, "pod_ip": "10.1.2.3",
		"host": "node-1", "container_name": "app", "labels": toAny(labels)}
	var want []wantRecord
	add := func(format string, at time.Time, level, msg string, fields map[string]any) {
		lines := p.app.Lines()
		off := lines[len(lines)-1].Offset
		rec := map[string]any{"@timestamp": at.Format(time.RFC3339Nano), "msg": msg, "kubernetes": k8s,
			"log": map[string]any{"file": p.name + ".log", "offset": float64(off), "format": format}}
		if level != "" {
			rec["level"] = level
		}
		if level == "warn" {
			rec["level_original"] = "warning" // logrus' name, normalised (LOGLET_NORMALIZE_LEVELS)
		}
		if len(fields) > 0 {
			rec["fields"] = fields
		}
		want = append(want, wantRecord{off, rec})
	}
	for i := range 5 {
		at := t0.Add(time.Duration(i) * time.Second)
		js.WithTime(at).WithFields(logrus.Fields{"count": i, "latency_ms": 12.5 + float64(i), "ok": i%2 == 0, "text_sample": "fooooo"}).
			Info("sample log")
		add("json", at, "info", "sample log", map[string]any{"count": float64(i), "latency_ms": 12.5 + float64(i), "ok": i%2 == 0, "text_sample": "fooooo"})

		at = at.Add(500 * time.Millisecond)
		lf.WithTime(at).WithFields(logrus.Fields{"attempt": i, "ratio": 0.25, "user": "ann smith"}).Warn("retrying upstream")
		add("logfmt", at, "warn", "retrying upstream", map[string]any{"attempt": float64(i), "ratio": 0.25, "user": "ann smith"})

		at = at.Add(250 * time.Millisecond)
		p.app.Print(at.Format("2006/01/02 15:04:05.000000") + " plain line " + strconv.Itoa(i))
		add("plain", at, "", "plain line "+strconv.Itoa(i), nil)
	}
	return want
}

func toAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestEndToEnd: logrus JSON, logfmt and plain lines from pods in two
// namespaces land in logs.<namespace>, keyed by pod, typed fields intact,
// with every compression codec; kcat, an independent client, reads the same.
func TestEndToEnd(t *testing.T) {
	k := harness.StartKafka(t, false, kfake.NumBrokers(3))
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			labels := map[string]string{"app": "shop", "tier": "web"}
			pods := []*pod{newPod(t, "web-1", uniq("shop"), labels), newPod(t, "teller-1", uniq("bank"), labels)}
			for _, p := range pods {
				k.CreateTopic(t, p.topic(), 3)
				want := p.writeMixed(labels)
				sc := harness.StartSidecar(t, p.env(k, "LOGLET_KAFKA_COMPRESSION="+codec))
				got := k.Read(t, p.topic(), len(want), 30*time.Second)
				checkRecords(t, p, want, got)
				t.Run("kcat", func(t *testing.T) { checkKcat(t, k, p.topic(), got) })
				sc.WaitFor(t, 10*time.Second, "/status 200", func() bool { s, _ := sc.Get("/status"); return s == 200 })
				if _, err := sc.Stop(15 * time.Second); err != nil {
					t.Errorf("stop: %v", err)
				}
			}
		})
	}
}

// checkRecords compares, field by field, the records read from the pod's
// topic with those expected, and checks each message's key, timestamp and
// headers.
func checkRecords(t *testing.T, p *pod, want []wantRecord, got []harness.Message) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d records, want %d", p.topic(), len(got), len(want))
	}
	file := got[0].Headers["loglet-file"]
	fi, err := os.Stat(p.app.Path)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range got {
		var rec map[string]any
		if err := json.Unmarshal([]byte(m.Value), &rec); err != nil {
			t.Fatalf("record %d is not JSON: %v\n%s", i, err, m.Value)
		}
		w := want[i]
		if diff := cmp.Diff(w.rec, rec); diff != "" {
			t.Errorf("record %d (-want +got):\n%s", i, diff)
		}
		ts, _ := time.Parse(time.RFC3339Nano, w.rec["@timestamp"].(string))
		end := fi.Size() // a record ends where the next one starts, the last one at the file's end
		if i+1 < len(want) {
			end = want[i+1].offset
		}
		wantHdr := map[string]string{"content-type": "application/json", "loglet-file": file, "loglet-offset": strconv.FormatInt(w.offset, 10),
			"loglet-end": strconv.FormatInt(end, 10)}
		if m.Key != p.name || !m.Time.Equal(ts.Truncate(time.Millisecond)) || !cmp.Equal(wantHdr, m.Headers) || file == "" {
			t.Errorf("record %d: key %q time %s headers %v; want %q %s %v", i, m.Key, m.Time, m.Headers, p.name, ts, wantHdr)
		}
		if m.Partition != got[0].Partition {
			t.Errorf("record %d on partition %d, the first on %d: one pod's records must share a partition", i, m.Partition, got[0].Partition)
		}
	}
}

// checkKcat reads topic with kcat and compares each message with the one
// kafka-go read.
func checkKcat(t *testing.T, k *harness.Kafka, topic string, want []harness.Message) {
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Fatal("kcat is not installed (apt-get install kcat; .ci/run installs it)")
	}
	out, err := exec.Command("kcat", "-C", "-b", k.Addrs[0], "-t", topic, "-o", "beginning", "-e", "-q", "-J").Output()
	if err != nil {
		t.Fatalf("kcat: %v", err)
	}
	type kcatMsg struct {
		Partition int      `json:"partition"`
		Offset    int64    `json:"offset"`
		TS        int64    `json:"ts"`
		Headers   []string `json:"headers"`
		Key       string   `json:"key"`
		Payload   string   `json:"payload"`
	}
	var got []kcatMsg
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		var m kcatMsg
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("kcat output %q: %v", line, err)
		}
		got = append(got, m)
	}
	var exp []kcatMsg
	for _, m := range want {
		exp = append(exp, kcatMsg{m.Partition, m.Offset, m.Time.UnixMilli(),
			[]string{"content-type", m.Headers["content-type"], "loglet-file", m.Headers["loglet-file"], "loglet-offset", m.Headers["loglet-offset"],
				"loglet-end", m.Headers["loglet-end"]},
			m.Key, m.Value})
	}
	if diff := cmp.Diff(exp, got); diff != "" {
		t.Errorf("kcat read (-kafka-go +kcat):\n%s", diff)
	}
}
