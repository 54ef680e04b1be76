package kafka

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/loglet/loglet/sidecar/internal/podinfo"
	"github.com/loglet/loglet/sidecar/internal/sink"
)

// otlpRecord is one decoded OTLP log record with its resource, in plain Go
// values (pcommon's AsRaw: string, bool, int64, float64, []any,
// map[string]any, nil), for cmp.Diff.
type otlpRecord struct {
	Resource     map[string]any
	Scope        string
	Time         int64
	Observed     int64
	SeverityNum  int32
	SeverityText string
	Body         any
	Attributes   map[string]any
}

// decodeOTLP decodes one message value with the Collector's own
// unmarshalers and checks it holds exactly one record.
func decodeOTLP(t *testing.T, proto bool, v []byte) otlpRecord {
	t.Helper()
	var logs plog.Logs
	var err error
	if proto {
		logs, err = (&plog.ProtoUnmarshaler{}).UnmarshalLogs(v)
	} else {
		logs, err = (&plog.JSONUnmarshaler{}).UnmarshalLogs(v)
	}
	if err != nil {
		t.Fatalf("unmarshal (proto %v): %v\n%q", proto, err, v)
	}
	if logs.ResourceLogs().Len() != 1 || logs.ResourceLogs().At(0).ScopeLogs().Len() != 1 ||
		logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().Len() != 1 {
		t.Fatalf("want one resource, scope and record; got %d records", logs.LogRecordCount())
	}
	rl := logs.ResourceLogs().At(0)
	sl := rl.ScopeLogs().At(0)
	lr := sl.LogRecords().At(0)
	return otlpRecord{
		Resource:     rl.Resource().Attributes().AsRaw(),
		Scope:        sl.Scope().Name(),
		Time:         int64(lr.Timestamp()),
		Observed:     int64(lr.ObservedTimestamp()),
		SeverityNum:  int32(lr.SeverityNumber()),
		SeverityText: lr.SeverityText(),
		Body:         lr.Body().AsRaw(),
		Attributes:   lr.Attributes().AsRaw(),
	}
}

var (
	otlpPod = podinfo.New(podinfo.Env{Name: "web-1", Namespace: "shop", UID: "uid-1", IP: "10.1.2.3", Node: "node-1", Container: "app"},
		map[string]string{"app": "shop", "mycompany.io/arch": "x64", "empty": ""}, map[string]string{"team": "pay"})
	otlpResource = map[string]any{
		"k8s.pod.name": "web-1", "k8s.namespace.name": "shop", "k8s.pod.uid": "uid-1", "k8s.pod.ip": "10.1.2.3",
		"k8s.node.name": "node-1", "k8s.container.name": "app",
		"k8s.pod.label.app": "shop", "k8s.pod.label.mycompany.io/arch": "x64", "k8s.pod.label.empty": "",
		"k8s.pod.annotation.team": "pay",
	}
	otlpTime = time.Date(2020, 3, 2, 9, 22, 24, 123456789, time.UTC)
	otlpRead = time.Date(2020, 3, 2, 9, 22, 25, 5, time.UTC)
)

// TestOTLPEncoding encodes loglet records in both OTLP encodings and
// decodes them with pdata, the Collector's unmarshalers, comparing every
// field with what the mapping in the README promises.
func TestOTLPEncoding(t *testing.T) {
	pos := sink.Position{File: "2049:131:9f86d081", Offset: 1234}
	logAttrs := func(format string, extra map[string]any) map[string]any {
		m := map[string]any{"log.file.name": "web-1.log", "loglet.format": format, "loglet.file": "2049:131:9f86d081", "loglet.offset": int64(1234)}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name  string
		value string
		rec   sink.Record // Value and Pos are filled in
		want  otlpRecord  // Resource and Scope are filled in
	}{
		{
			name: "typed fields",
			value: `{"@timestamp":"2020-03-02T09:22:24.123456789Z","level":"warning","msg":"retrying \"upstream\"\n\u00e9\ud83d\ude00",` +
				`"fields":{"count":7,"neg":-9223372036854775808,"big":12345678901234567890,"ratio":0.25,"exp":1e300,"tiny":1e-400,"ok":true,"no":false,"nothing":null,` +
				`"user":{"name":"ann","ids":[1,"two",[3.5],{}],"empty":{}},"list":[],"esc\"key":"v"},` +
				`"kubernetes":{"pod_name":"stale"},"log":{"file":"web-1.log","offset":1234,"format":"json"}}`,
			rec: sink.Record{Time: otlpTime, ReadTime: otlpRead},
			want: otlpRecord{
				Time: otlpTime.UnixNano(), Observed: otlpRead.UnixNano(), SeverityNum: 13, SeverityText: "warning",
				Body: "retrying \"upstream\"\né😀",
				Attributes: logAttrs("json", map[string]any{
					"count": int64(7), "neg": int64(-9223372036854775808), "big": "12345678901234567890", "ratio": 0.25, "exp": 1e300, "tiny": 0.0,
					"ok": true, "no": false, "nothing": nil,
					"user": map[string]any{"name": "ann", "ids": []any{int64(1), "two", []any{3.5}, map[string]any{}}, "empty": map[string]any{}},
					"list": []any{}, `esc"key`: "v",
				}),
			},
		},
		{
			name: "markers and type errors",
			value: `{"@timestamp":"2020-03-02T09:22:24.123456789Z","level":"PANIC","msg":"x","type_errors":{"n":"1e400"},"truncated":true,` +
				`"parse_error":"json: bad","time_source":"read","kubernetes":{},"log":{"file":"web-1.log","offset":1234,"format":"plain"}}`,
			rec: sink.Record{Time: otlpTime},
			want: otlpRecord{
				Time: otlpTime.UnixNano(), SeverityNum: 21, SeverityText: "PANIC", Body: "x",
				Attributes: logAttrs("plain", map[string]any{
					"loglet.type_errors": map[string]any{"n": "1e400"}, "loglet.truncated": true,
					"loglet.parse_error": "json: bad", "loglet.time_source": "read",
				}),
			},
		},
		{
			name:  "no level, no message, time from the JSON",
			value: `{"@timestamp":"2020-03-02T09:22:24.123456789Z","fields":{"a":"b"},"log":{"file":"web-1.log","offset":1234,"format":"logfmt"}}`,
			want: otlpRecord{
				Time: otlpTime.UnixNano(), Body: nil,
				Attributes: logAttrs("logfmt", map[string]any{"a": "b"}),
			},
		},
		{
			name:  "not a record",
			value: `{"a":1,` + "\x00",
			rec:   sink.Record{Time: otlpTime},
			want: otlpRecord{
				Time: otlpTime.UnixNano(), Body: `{"a":1,` + "\x00",
				Attributes: map[string]any{"loglet.file": "2049:131:9f86d081", "loglet.offset": int64(1234)},
			},
		},
	}
	for _, tt := range tests {
		for _, enc := range []encoding{encodingOTLPProto, encodingOTLPJSON} {
			name := tt.name + "/otlp_json"
			if enc == encodingOTLPProto {
				name = tt.name + "/otlp_proto"
			}
			t.Run(name, func(t *testing.T) {
				r := tt.rec
				r.Value, r.Pos = []byte(tt.value), pos
				e := newOTLPEncoder(enc)
				got := decodeOTLP(t, enc == encodingOTLPProto, e.encode(otlpPod, &r, r.Value))
				want := tt.want
				want.Resource, want.Scope = otlpResource, "loglet"
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestOTLPSeverity checks the level to SeverityNumber mapping, as
// OpenTelemetry's data model gives it (and its appendix for syslog and
// zap's levels).
func TestOTLPSeverity(t *testing.T) {
	for level, want := range map[string]int32{
		"trace": 1, "debug": 5, "info": 9, "notice": 10, "warn": 13, "warning": 13, "error": 17, "err": 17,
		"critical": 18, "dpanic": 18, "alert": 19, "fatal": 21, "panic": 21, "WARN": 13, "Info": 9, "emergency": 21, "verbose": 0, "": 0,
	} {
		if got := severity([]byte(level)); got != want {
			t.Errorf("severity(%q) = %d, want %d", level, got, want)
		}
	}
}

// TestOTLPResourceFollowsPod: a new pod identity (a label changed) gives
// the next request the new resource.
func TestOTLPResourceFollowsPod(t *testing.T) {
	e := newOTLPEncoder(encodingOTLPProto)
	r := sink.Record{Value: []byte(`{"msg":"x"}`), Time: otlpTime}
	first := decodeOTLP(t, true, e.encode(testPod, &r, r.Value))
	pod2 := podinfo.New(podinfo.Env{Name: "web-1", Namespace: "shop", Container: "app"}, map[string]string{"v": "2"}, nil)
	second := decodeOTLP(t, true, e.encode(pod2, &r, r.Value))
	want1 := map[string]any{"k8s.pod.name": "web-1", "k8s.namespace.name": "shop", "k8s.container.name": "app"}
	want2 := map[string]any{"k8s.pod.name": "web-1", "k8s.namespace.name": "shop", "k8s.container.name": "app", "k8s.pod.label.v": "2"}
	if diff := cmp.Diff(want1, first.Resource); diff != "" {
		t.Errorf("first (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want2, second.Resource); diff != "" {
		t.Errorf("after the label change (-want +got):\n%s", diff)
	}
}

// TestOTLPValueFitsLimit: a record whose OTLP request would exceed the
// message limit is shortened (its JSON, as for the json encoding) until
// the request fits, and marked loglet.truncated.
func TestOTLPValueFitsLimit(t *testing.T) {
	for _, enc := range []string{"otlp_proto", "otlp_json"} {
		t.Run(enc, func(t *testing.T) {
			s, err := New(Config{Brokers: []string{"127.0.0.1:9"}, Encoding: enc}, func() *podinfo.Pod { return otlpPod }, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			big := strings.Repeat("é", 6000)
			r := sink.Record{Value: []byte(`{"@timestamp":"2020-03-02T09:22:24Z","level":"info","msg":"` + big + `","fields":{"a":"` + big + `","n":1},"log":{"file":"f.log","offset":0,"format":"json"}}`), Time: otlpTime}
			rt := route{pod: otlpPod, topic: "t", key: []byte("k")}
			whole, cut := s.value(rt, &r, 1<<20)
			if cut {
				t.Fatal("shortened a record within the limit")
			}
			const limit = 4000
			v, cut := s.value(rt, &r, limit)
			if !cut || len(v) > limit || len(v) >= len(whole) {
				t.Fatalf("shortened = %v, %d bytes (whole %d), want at most %d", cut, len(v), len(whole), limit)
			}
			got := decodeOTLP(t, enc == "otlp_proto", v)
			if got.Attributes["loglet.truncated"] != true || got.SeverityText != "info" || got.Attributes["log.file.name"] != "f.log" {
				t.Errorf("shortened record lost its markers: %+v", got.Attributes)
			}
			if body, _ := got.Body.(string); body == "" || !strings.HasPrefix(big, body) {
				t.Errorf("body %q is not a prefix of the message", body)
			}
		})
	}
}

// FuzzOTLPEncode: whatever a record's value holds, both encodings give a
// request the Collector's unmarshalers read, with exactly one record.
func FuzzOTLPEncode(f *testing.F) {
	for _, s := range []string{
		`{"@timestamp":"2020-03-02T09:22:24Z","level":"info","msg":"a\u00e9\ud800","fields":{"n":1,"f":1.5,"o":{"a":[1,{"b":null}]},"big":1e400},"log":{"file":"x","offset":1,"format":"json"}}`,
		`{"msg":1}`, `{"level":5,"fields":[],"log":"x"}`, `[`, `{"a":tru}`, `{"a":"\u12"}`, `{"a":[1,]}`, `{"a":-}`, `"x"`, ``,
		`{"fields":{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		r := sink.Record{Value: v, Time: otlpTime, ReadTime: otlpRead, Pos: sink.Position{File: "1:2:3", Offset: 5}}
		for _, enc := range []encoding{encodingOTLPProto, encodingOTLPJSON} {
			got := decodeOTLP(t, enc == encodingOTLPProto, newOTLPEncoder(enc).encode(otlpPod, &r, v))
			if got.Attributes["loglet.offset"] != int64(5) || got.Time != otlpTime.UnixNano() {
				t.Errorf("encoding %d lost the position or the time: %+v", enc, got)
			}
			checkUTF8(t, got.Body)
			checkUTF8(t, got.Attributes)
		}
	})
}

// checkUTF8 fails the test for a string, or a key, that is not valid
// UTF-8: protobuf consumers other than pdata refuse such a message.
func checkUTF8(t *testing.T, v any) {
	t.Helper()
	switch v := v.(type) {
	case string:
		if !utf8.ValidString(v) {
			t.Errorf("invalid UTF-8: %q", v)
		}
	case []any:
		for _, x := range v {
			checkUTF8(t, x)
		}
	case map[string]any:
		for k, x := range v {
			checkUTF8(t, k)
			checkUTF8(t, x)
		}
	}
}

// TestOTLPRecordTooLargeForBroker: with otlp_proto, a request the broker
// refuses as too large is split and a lone record shortened, as with json,
// until it fits; the shortened record is still one request the Collector
// reads, marked truncated, and the records after it follow in order.
func TestOTLPRecordTooLargeForBroker(t *testing.T) {
	c := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "logs.shop"),
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": "2000"}))
	h := newSink(t, Config{Brokers: c.ListenAddrs(), Compression: "none", MaxMessageBytes: 8192, Encoding: "otlp_proto"}, nil)
	h.run(t)
	text := strings.Repeat("x", 5000)
	b := newBatch("f", 0, append([]string{`{"level":"error","msg":"` + text + `","log":{"file":"a.log","offset":0}}`}, seqValues("after", 0, 20)...)...)
	if err := h.Send(context.Background(), b.Batch); err != nil {
		t.Fatal(err)
	}
	waitAcked(t, b)
	got := newConsumer(t, c.ListenAddrs(), nil, nil).read(t, "logs.shop", 21)
	if len(got) != 21 {
		t.Fatalf("%d records, want 21", len(got))
	}
	first := decodeOTLP(t, true, []byte(got[0].Value))
	body, _ := first.Body.(string)
	if len(got[0].Value) > 2000 || first.Attributes["loglet.truncated"] != true || first.SeverityNum != 17 ||
		first.Attributes["log.file.name"] != "a.log" || !strings.HasPrefix(text, body) || len(body) < 500 {
		t.Errorf("shortened record (%d bytes): %+v", len(got[0].Value), first)
	}
	for i, m := range got[1:] {
		rec := decodeOTLP(t, true, []byte(m.Value))
		if want := fmt.Sprintf("after %d", i); rec.Body != want || rec.Attributes["n"] != int64(i) || rec.Attributes["loglet.offset"] != int64(100*(i+1)) {
			t.Errorf("record %d: %+v, want body %q", i+1, rec, want)
		}
	}
	if n := h.metric(t, "loglet_kafka_records_truncated_total"); n != 1 {
		t.Errorf("truncated metric = %v, want 1", n)
	}
}
