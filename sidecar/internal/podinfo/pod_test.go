package podinfo

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseDownwardFile(t *testing.T) {
	in := "app=\"counter\"\npod-template-hash=\"5d8f\"\nquoted=\"say \\\"hi\\\"\\nbye\"\n\n"
	got, err := ParseDownwardFile([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"app": "counter", "pod-template-hash": "5d8f", "quoted": "say \"hi\"\nbye"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"novalue\n", "k=unquoted\n"} {
		if _, err := ParseDownwardFile([]byte(bad)); err == nil {
			t.Errorf("ParseDownwardFile(%q): no error", bad)
		}
	}
}

func TestPodJSON(t *testing.T) {
	tests := []struct {
		name string
		env  Env
		l, a map[string]string
		want string
	}{
		{"empty", Env{}, nil, nil, `{}`},
		{"hostname fallback", Env{Hostname: "h1"}, nil, nil, `{"pod_name":"h1"}`},
		{"full", Env{Name: "p", Hostname: "h", Namespace: "ns", UID: "u", IP: "10.0.0.1", Node: "n1", Container: "app"},
			map[string]string{"b": "2", "a": "1"}, map[string]string{"x": "y\"z"},
			`{"pod_name":"p","namespace_name":"ns","pod_id":"u","pod_ip":"10.0.0.1","host":"n1","container_name":"app","labels":{"a":"1","b":"2"},"annotations":{"x":"y\"z"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(New(tt.env, tt.l, tt.a).JSON())
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
			if !json.Valid([]byte(got)) {
				t.Errorf("invalid JSON %s", got)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	p := New(Env{Name: "web-1", Namespace: "shop", Container: "app", Node: "n1"},
		map[string]string{"team": "payments"}, map[string]string{"topic": "audit"})
	tests := []struct {
		tmpl, want string
		err        bool
	}{
		{"logs.{namespace}", "logs.shop", false},
		{"{pod}*.log", "web-1*.log", false},
		{"{namespace}.{container}.{node}", "shop.app.n1", false},
		{"t-{label:team}-{annotation:topic}-{label:none}", "t-payments-audit-", false},
		{"plain", "plain", false},
		{"{nope}", "", true},
		{"logs.{namespace", "", true},
	}
	for _, tt := range tests {
		got, err := p.Expand(tt.tmpl)
		if tt.err {
			if !errors.Is(err, ErrTemplate) {
				t.Errorf("Expand(%q) err = %v, want ErrTemplate", tt.tmpl, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Expand(%q) = %q, %v; want %q", tt.tmpl, got, err, tt.want)
		}
	}
}

func TestSourceReloads(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("labels", "app=\"a\"\n")
	s := &Source{Env: Env{Name: "p"}, Dir: dir, Refresh: 10 * time.Millisecond}
	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"app": "a"}, s.Pod().Labels); diff != "" {
		t.Fatal(diff)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()

	write("labels", "app=\"b\"\nversion=\"2\"\n")
	write("annotations", "note=\"x\"\n")
	deadline := time.Now().Add(5 * time.Second)
	for s.Pod().Labels["app"] != "b" || s.Pod().Annotations["note"] != "x" {
		if time.Now().After(deadline) {
			t.Fatalf("labels not reloaded: %v %v", s.Pod().Labels, s.Pod().Annotations)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSourceMissingDir(t *testing.T) {
	s := &Source{Env: Env{Name: "p"}, Dir: filepath.Join(t.TempDir(), "absent")}
	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	if got := string(s.Pod().JSON()); got != `{"pod_name":"p"}` {
		t.Errorf("got %s", got)
	}
}
