package kafka

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestShorten(t *testing.T) {
	long := strings.Repeat("a", 3000)
	tests := []struct {
		name  string
		in    string
		limit int
		want  string
	}{
		{"msg cut", `{"@timestamp":"t","level":"info","msg":"` + long + `","log":{"file":"f","offset":1}}`, 120,
			`{"@timestamp":"t","level":"info","msg":"` + strings.Repeat("a", 31) + `","log":{"file":"f","offset":1},"truncated":true}`},
		{"existing marker kept in place", `{"msg":"` + long + `","truncated":true}`, 40,
			`{"msg":"` + strings.Repeat("a", 13) + `","truncated":true}`},
		{"multibyte not split", `{"msg":"` + strings.Repeat("é", 100) + `"}`, 40,
			`{"msg":"` + strings.Repeat("é", 6) + `","truncated":true}`},
		{"escapes not split", `{"msg":"` + strings.Repeat(`\"`, 100) + `"}`, 40,
			`{"msg":"` + strings.Repeat(`\"`, 6) + `","truncated":true}`},
		{"largest value cut first", `{"msg":"hello","fields":{"big":"` + long + `","n":1}}`, 80,
			`{"msg":"hello","fields":{"big":"` + strings.Repeat("a", 22) + `","n":1},"truncated":true}`},
		{"fields dropped when cutting is not enough", `{"msg":"m","fields":{"a":[` + strings.Repeat("1,", 500) + `1]}}`, 60,
			`{"msg":"m","fields":{},"truncated":true}`},
		{"kept members stay", `{"@timestamp":"2020","level":"info","msg":"x","kubernetes":{"annotations":{"a":"` + long + `"}},"log":{"offset":5}}`, 90,
			`{"@timestamp":"2020","level":"info","msg":"x","log":{"offset":5},"truncated":true}`},
		{"not an object", `not json ` + long, 40, `{"truncated":true,"msg":"not json ` + strings.Repeat("a", 4) + `"}`},
		{"not an object, control characters escaped", "x\x01" + long, 40, `{"truncated":true,"msg":"x\u0001` + strings.Repeat("a", 6) + `"}`},
		{"surrogate pair not split", `{"msg":"` + strings.Repeat(`\ud83d\ude00`, 10) + `"}`, 60,
			`{"msg":"` + strings.Repeat(`\ud83d\ude00`, 2) + `","truncated":true}`},
		{"unicode escape not split", `{"msg":"` + strings.Repeat(`\u00e9`, 10) + `"}`, 40,
			`{"msg":"` + strings.Repeat(`\u00e9`, 2) + `","truncated":true}`},
		{"escaped key and spaces", `{ "m\u0073g" : "` + long + `" , "n" : 1 }`, 50,
			`{"m\u0073g":"` + strings.Repeat("a", 12) + `","n":1,"truncated":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(shorten([]byte(tt.in), tt.limit))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
			if len(got) > tt.limit {
				t.Errorf("len %d > limit %d", len(got), tt.limit)
			}
		})
	}
}

// TestShortenProperties checks on random records that the result is valid
// JSON within the limit, marked truncated, and keeps a prefix of msg.
func TestShortenProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	str := func(n int) string {
		var sb strings.Builder
		for range n {
			switch r.IntN(10) {
			case 0:
				sb.WriteString("é")
			case 1:
				sb.WriteString("\n")
			case 2:
				sb.WriteString(`"`)
			case 3:
				sb.WriteString("\U0001F600")
			default:
				sb.WriteByte(byte('a' + r.IntN(26)))
			}
		}
		return sb.String()
	}
	for i := range 300 {
		fields := map[string]any{}
		for j := range r.IntN(6) {
			switch r.IntN(3) {
			case 0:
				fields[fmt.Sprint("s", j)] = str(r.IntN(2000))
			case 1:
				fields[fmt.Sprint("n", j)] = r.Float64()
			default:
				fields[fmt.Sprint("o", j)] = map[string]any{"x": str(r.IntN(500)), "y": []int{1, 2, 3}}
			}
		}
		rec := map[string]any{"@timestamp": "2020-03-02T09:22:24Z", "level": "info", "msg": str(r.IntN(5000)),
			"fields": fields, "kubernetes": map[string]any{"pod_name": "p", "labels": map[string]string{"a": str(300)}},
			"log": map[string]any{"file": "f", "offset": i}}
		in, _ := json.Marshal(rec)
		limit := 300 + r.IntN(3000)
		out := shorten(in, limit)
		var got map[string]any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("case %d: invalid JSON %s: %v", i, out, err)
		}
		if len(out) > limit {
			t.Fatalf("case %d: len %d > limit %d: %s", i, len(out), limit, out)
		}
		if got["truncated"] != true {
			t.Fatalf("case %d: no truncated marker: %s", i, out)
		}
		if msg, _ := got["msg"].(string); !strings.HasPrefix(rec["msg"].(string), msg) {
			t.Fatalf("case %d: msg %q is not a prefix of the original", i, msg)
		}
		if want, got := fmt.Sprint(rec["log"]), fmt.Sprint(got["log"]); want != got {
			t.Fatalf("case %d: log changed: %s, want %s", i, got, want)
		}
	}
}

// hugeRecord returns a record like the parser's with a msg of n bytes, and
// with a big nested field too when nested.
func hugeRecord(n int, nested bool) []byte {
	fields := `"n":1`
	if nested {
		fields = `"n":1,"body":"` + strings.Repeat("b", n/2) + `"`
		n /= 2
	}
	return []byte(`{"@timestamp":"2020-03-02T09:22:24Z","level":"error","msg":"` + strings.Repeat("stack trace é\\n\\t", n/16) +
		`","fields":{` + fields + `},"kubernetes":{"pod_name":"p"},"log":{"file":"f","offset":0,"format":"json"}}`)
}

// BenchmarkShortenHuge shortens a 16 MiB record to 1 MiB and reports the
// bytes allocated per shortening (B/op): the memory a huge record costs.
func BenchmarkShortenHuge(b *testing.B) {
	for _, tc := range []struct {
		name   string
		nested bool
	}{{"msg", false}, {"nested", true}} {
		b.Run(tc.name, func(b *testing.B) {
			v := hugeRecord(16<<20, tc.nested)
			b.ReportAllocs()
			b.SetBytes(int64(len(v)))
			for b.Loop() {
				shorten(v, 1<<20)
			}
		})
	}
}

// TestShortenMemoryBounded: shortening a 16 MiB record to 1 MiB allocates a
// small multiple of the limit, not of the record (it allocated about 12
// times the record, 230 MB, when it decoded the record).
func TestShortenMemoryBounded(t *testing.T) {
	const size, limit = 16 << 20, 1 << 20
	for name, v := range map[string][]byte{
		"msg":        hugeRecord(size, false),
		"nested":     hugeRecord(size, true),
		"not json":   []byte(strings.Repeat("plain é\t", size/10)),
		"many small": []byte(`{"msg":"m","fields":{` + strings.Repeat(`"k":"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv",`, size/40) + `"z":1}}`),
	} {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			out := shorten(v, limit)
			runtime.ReadMemStats(&after)
			if len(out) > limit || !json.Valid(out) {
				t.Fatalf("result of %d bytes, valid %v", len(out), json.Valid(out))
			}
			// "many small" holds 400,000 members: their slice of member
			// headers costs 73 bytes per member, in proportion to the record.
			bound := uint64(4 * limit)
			if name == "many small" {
				bound = uint64(len(v)) * 3
			}
			got := after.TotalAlloc - before.TotalAlloc
			t.Logf("shortening %d bytes to %d allocated %d bytes", len(v), limit, got)
			if got > bound {
				t.Errorf("allocated more than %d bytes", bound)
			}
		})
	}
}
