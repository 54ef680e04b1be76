package kafka

import (
	"strconv"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/loglet/loglet/sidecar/internal/podinfo"
	"github.com/loglet/loglet/sidecar/internal/sink"
)

// benchRecord is a typical record as loglet's parser writes it for a
// logrus JSON line (the parse package's BenchmarkAppend line), with a
// pod of six identity fields and two labels.
const benchRecord = `{"@timestamp":"2020-03-02T09:22:24.123456789Z","level":"info","msg":"sample log with some text",` +
	`"fields":{"count":12345,"file":"main.go:16","func":"main.main","text_sample":"fooooo","latency_ms":1.25,"ok":true,"user":{"id":42,"roles":["a","b"]}},` +
	`"kubernetes":{"pod_name":"web-1","namespace_name":"shop","pod_id":"6f0c3b1e-2a4d-4c8e-9b7f-1d2e3f4a5b6c","pod_ip":"10.244.1.17","host":"kind-worker","container_name":"app","labels":{"app":"shop-web","team":"checkout"}},` +
	`"log":{"file":"web-1.log","offset":1234,"format":"json"}}`

var benchPod = podinfo.New(podinfo.Env{Name: "web-1", Namespace: "shop", UID: "6f0c3b1e-2a4d-4c8e-9b7f-1d2e3f4a5b6c", IP: "10.244.1.17", Node: "kind-worker", Container: "app"},
	map[string]string{"app": "shop-web", "team": "checkout"}, nil)

// BenchmarkOTLPEncode measures the cost per record of each encoding of a
// message value: json (the record as it is, what loglet did before), the
// hand-written otlp_proto and otlp_json encoders, and, for comparison, the
// same mapping built with pdata (plog.Logs) and marshalled with its
// ProtoMarshaler and JSONMarshaler, which is the alternative the hand-written
// encoders were measured against.
func BenchmarkOTLPEncode(b *testing.B) {
	r := sink.Record{Value: []byte(benchRecord), Time: otlpTime, ReadTime: otlpRead, Pos: sink.Position{File: "2049:131:9f86d081884c7d65", Offset: 1234}}
	rt := route{pod: benchPod, topic: "logs.shop", key: []byte("web-1")}
	for _, enc := range []string{"json", "otlp_proto", "otlp_json"} {
		b.Run(enc, func(b *testing.B) {
			s, err := New(Config{Brokers: []string{"127.0.0.1:9"}, Encoding: enc}, func() *podinfo.Pod { return benchPod }, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(r.Value)))
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if s.otlp != nil && n%1500 == 0 {
					s.otlp.reset() // as take does once per request
				}
				n++
				v, _ := s.value(rt, &r, 1<<20)
				if len(v) == 0 {
					b.Fatal("empty value")
				}
			}
		})
	}
	for _, enc := range []string{"pdata_proto", "pdata_json"} {
		b.Run(enc, func(b *testing.B) {
			var m plog.Marshaler = &plog.ProtoMarshaler{}
			if enc == "pdata_json" {
				m = &plog.JSONMarshaler{}
			}
			b.SetBytes(int64(len(r.Value)))
			b.ReportAllocs()
			for b.Loop() {
				v, err := m.MarshalLogs(pdataLogs(benchPod, &r))
				if err != nil || len(v) == 0 {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestPdataEncoderAgrees keeps the benchmark's pdata encoder honest: it
// gives the record the hand-written encoder gives.
func TestPdataEncoderAgrees(t *testing.T) {
	r := sink.Record{Value: []byte(benchRecord), Time: otlpTime, ReadTime: otlpRead, Pos: sink.Position{File: "2049:131:9f86d081884c7d65", Offset: 1234}}
	v, err := (&plog.ProtoMarshaler{}).MarshalLogs(pdataLogs(benchPod, &r))
	if err != nil {
		t.Fatal(err)
	}
	got := decodeOTLP(t, true, v)
	want := decodeOTLP(t, true, newOTLPEncoder(encodingOTLPProto).encode(benchPod, &r, r.Value))
	if got.Attributes["user"] == nil || len(got.Attributes) != len(want.Attributes) || got.Body != want.Body || len(got.Resource) != len(want.Resource) {
		t.Errorf("pdata encoder: %+v\nhand-written: %+v", got, want)
	}
}

// pdataLogs builds r's OTLP form with pdata, from the same JSON walk.
func pdataLogs(pod *podinfo.Pod, r *sink.Record) plog.Logs {
	logs := plog.NewLogs()
	rl := logs.ResourceLogs().AppendEmpty()
	res := rl.Resource().Attributes()
	for _, a := range resourceAttrs(pod) {
		res.PutStr(a[0], a[1])
	}
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName(scopeName)
	lr := sl.LogRecords().AppendEmpty()
	attrs := lr.Attributes()
	var e otlpEncoder
	sc := jscan{b: r.Value}
	lr.SetTimestamp(pcommon.Timestamp(recordTime(r, nil)))
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(r.ReadTime))
	put := func(key string) { pdataValue(&e, attrs.PutEmpty(key), &sc) }
	walk(&sc, pod.JSON(), &handlers{
		level: func(raw []byte) {
			lvl := e.unquote(nil, raw)
			lr.SetSeverityText(string(lvl))
			lr.SetSeverityNumber(plog.SeverityNumber(severity(lvl)))
		},
		msg:  func() { pdataValue(&e, lr.Body(), &sc) },
		attr: func(prefix string, rawKey []byte) { put(prefix + string(e.unquote(nil, rawKey))) },
	})
	attrs.PutStr("loglet.file", r.Pos.File)
	attrs.PutInt("loglet.offset", r.Pos.Offset)
	return logs
}

func pdataValue(e *otlpEncoder, v pcommon.Value, s *jscan) {
	s.space()
	start := s.i
	switch c := s.b[s.i]; {
	case c == '"':
		end, _ := s.stringEnd()
		v.SetStr(string(e.unquote(nil, s.b[start:end])))
		s.i = end
	case c == 't' || c == 'f':
		s.literal()
		v.SetBool(c == 't')
	case c == 'n':
		s.literal()
	case c == '{':
		m := v.SetEmptyMap()
		s.object(func(rawKey []byte) bool {
			pdataValue(e, m.PutEmpty(string(e.unquote(nil, rawKey))), s)
			return true
		})
	case c == '[':
		sl := v.SetEmptySlice()
		s.array(func() bool {
			pdataValue(e, sl.AppendEmpty(), s)
			return true
		})
	default:
		num := s.number()
		switch kind, i, f := numberKind(num); kind {
		case numInt:
			v.SetInt(i)
		case numDouble:
			v.SetDouble(f)
		default:
			v.SetStr(strconv.Quote(string(num)))
		}
	}
}
