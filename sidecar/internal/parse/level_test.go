package parse

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLevels(t *testing.T) {
	tests := []struct {
		name, line      string
		raw             bool
		level, original string
	}{
		{"logrus warning", `{"level":"warning","msg":"m"}`, false, "warn", "warning"},
		{"zap upper WARN folds without original", `{"level":"WARN","msg":"m"}`, false, "warn", ""},
		{"slog WARN", `{"level":"WARN","msg":"m"}`, false, "warn", ""},
		{"python CRITICAL", `{"level":"CRITICAL","msg":"m"}`, false, "fatal", "CRITICAL"},
		{"dotnet Information", `{"level":"Information","msg":"m"}`, false, "info", "Information"},
		{"unknown stays", `{"level":"audit","msg":"m"}`, false, "audit", ""},
		{"switch off", `{"level":"warning","msg":"m"}`, true, "warning", ""},
		{"logfmt", `level=panic msg=m`, false, "fatal", "panic"},
		{"logback plain", `2020-03-02 18:22:24.123 ERROR [main] com.example.App - x`, false, "error", ""},
		{"bracketed after thread", `2020-03-02 18:22:24.123 [main] WARNING x`, false, "warn", "WARNING"},
		{"spring boot", `2024-01-15T10:00:00.123Z  INFO 1 --- [main] c.e.App : started`, false, "info", ""},
		{"python default", `ERROR:root:boom`, false, "error", ""},
		{"bracketed first", `[WARN] disk almost full`, false, "warn", ""},
		{"serilog", `2020-03-02 18:22:24.123 +00:00 [WRN] slow`, false, "warn", "WRN"},
		{"winston", `2020-03-02T18:22:24.123Z error: failed`, false, "error", ""},
		{"dotnet console", `fail: Api[0]`, false, "error", "fail"},
		{"lower-case word is not a level", `error while reading`, false, "", ""},
		{"upper-case word late in the line", `2020-03-02 18:22:24 a b c d ERROR`, false, "", ""},
		{"only the first line", "starting\nERROR in line two", false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewParser(Options{RawLevels: tt.raw})
			in := Input{Text: []byte(tt.line), Lines: 1 + countNL(tt.line), ReadTime: readTime}
			out, _ := p.Append(nil, &in, nil)
			m := decode(t, out)
			got := [2]any{m["level"], m["level_original"]}
			want := [2]any{nil, nil}
			if tt.level != "" {
				want[0] = tt.level
			}
			if tt.original != "" {
				want[1] = tt.original
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: (-want +got):\n%s\n%s", tt.line, diff, out)
			}
		})
	}
}

func countNL(s string) int {
	n := 0
	for i := range len(s) {
		if s[i] == '\n' {
			n++
		}
	}
	return n
}

func TestPlainTimes(t *testing.T) {
	tests := []struct{ line, want string }{
		{"2020-03-02 18:22:24.123 +02:00 [INF] x", "2020-03-02T16:22:24.123Z"},
		{"2020-03-02 18:22:24.123 -0130 x", "2020-03-02T19:52:24.123Z"},
		{"2020-03-02 18:22:24 +1 errors", "2020-03-02T18:22:24Z"},
		{"11:59:00.5 [main] INFO x", "2026-11-21T11:59:00.5Z"},
		{"18:22:26,002 [main] INFO x", "2026-11-20T18:22:26.002Z"},
		{"25:00:00 not a time", "2026-11-21T12:00:00Z"},
	}
	for _, tt := range tests {
		p := NewParser(Options{})
		out, _ := p.Append(nil, &Input{Text: []byte(tt.line), Lines: 1, ReadTime: readTime}, nil)
		if got := decode(t, out)["@timestamp"]; got != tt.want {
			t.Errorf("%q: @timestamp %v, want %s", tt.line, got, tt.want)
		}
	}
}
