package topicname

import (
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"logs.shop", true},
		{"a", true},
		{"A-b_c.9", true},
		{"logs.", true},
		{"...", true},
		{strings.Repeat("x", 249), true},
		{"", false},
		{".", false},
		{"..", false},
		{"logs/shop", false},
		{"logs shop", false},
		{"logs.é", false},
		{"logs{x}", false},
		{strings.Repeat("x", 250), false},
	}
	for _, tt := range tests {
		err := Check(tt.name)
		if tt.ok && err != nil {
			t.Errorf("Check(%q): %v", tt.name, err)
		}
		if !tt.ok && !errors.Is(err, ErrIllegal) {
			t.Errorf("Check(%q) = %v, want an error matching ErrIllegal", tt.name, err)
		}
	}
}

func TestCheckTemplate(t *testing.T) {
	tests := []struct {
		tmpl string
		want string // "" for legal; else a part of the message
	}{
		{"logs.{namespace}", ""},
		{"logs.{namespace}.{label:app}", ""},
		{"{label:team}", ""},
		{"logs", ""},
		{".{namespace}", ""}, // ".x" is a legal topic
		{strings.Repeat("x", 248) + "{pod}", ""},
		// What the sidecar would refuse for any pod, caught before the pod runs.
		{"logs/{namespace}", `'/' cannot be in a Kafka topic name`},
		{"logs.é.{namespace}", `'é' cannot be in a Kafka topic name`},
		{".", `illegal topic name "."`},
		{"..", `illegal topic name ".."`},
		{strings.Repeat("x", 250), "250 characters, at most 249"},
		{strings.Repeat("x", 249) + "{pod}", "at least 250 characters"},
		{strings.Repeat("x", 240) + strings.Repeat("{pod}", 10), "at least 250 characters"},
		{"logs.{namespace", "unclosed {"},
		{"logs.{nmespace}", "unknown placeholder {nmespace}"},
		{"logs.{a{pod}}", "unknown placeholder {a{pod}"},
	}
	for _, tt := range tests {
		err := CheckTemplate(tt.tmpl)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("CheckTemplate(%q): %v", tt.tmpl, err)
		case tt.want != "" && (!errors.Is(err, ErrIllegal) || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("CheckTemplate(%q) = %v, want an error matching ErrIllegal containing %q", tt.tmpl, err, tt.want)
		}
	}
}

func TestCheckPrefix(t *testing.T) {
	for _, p := range []string{"shared.", ".", "..", "a"} {
		if err := CheckPrefix(p); err != nil {
			t.Errorf("CheckPrefix(%q): %v", p, err)
		}
	}
	for _, p := range []string{"", "shared/", "ü", strings.Repeat("x", 250)} {
		if err := CheckPrefix(p); !errors.Is(err, ErrIllegal) {
			t.Errorf("CheckPrefix(%q) = %v, want an error matching ErrIllegal", p, err)
		}
	}
}

// Every name Check accepts is accepted by CheckTemplate as a template
// without placeholders, and the other way round: one rule.
func FuzzCheckAgreesWithTemplate(f *testing.F) {
	for _, s := range []string{"logs.shop", ".", "..", "", "a b", strings.Repeat("x", 250)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ContainsAny(s, "{}") {
			return
		}
		if (Check(s) == nil) != (CheckTemplate(s) == nil) {
			t.Fatalf("Check(%q) = %v but CheckTemplate = %v", s, Check(s), CheckTemplate(s))
		}
	})
}
