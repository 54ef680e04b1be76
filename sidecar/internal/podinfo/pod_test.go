package podinfo

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
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
	runSource(t, s)

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

// kubeletWrite updates dir as the kubelet's atomic writer does: the files go
// into a new hidden directory, the `..data` link is swapped to it by a
// rename, and the visible names are links through `..data`.
func kubeletWrite(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	ts, err := os.MkdirTemp(dir, "..ts_")
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(ts, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for name := range files {
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
			t.Fatal(err)
		}
	}
}

// runSource runs s until the test ends.
func runSource(t *testing.T, s *Source) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// waitLabel waits until s's pod has label app=want.
func waitLabel(t *testing.T, s *Source, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.Pod().Labels["app"] != want {
		if time.Now().After(deadline) {
			t.Fatalf("labels not reloaded: have %v, want app=%q", s.Pod().Labels, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The watch reloads a kubelet-style update at once: polling, an hour
// apart, cannot be what finds it.
func TestSourceWatchesKubeletUpdates(t *testing.T) {
	dir := t.TempDir()
	kubeletWrite(t, dir, map[string]string{"labels": "app=\"a\"\n", "annotations": ""})
	s := &Source{Env: Env{Name: "p"}, Dir: dir, Refresh: time.Hour}
	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	runSource(t, s)
	time.Sleep(50 * time.Millisecond) // the watch is in place
	for _, app := range []string{"b", "c"} {
		kubeletWrite(t, dir, map[string]string{"labels": "app=\"" + app + "\"\n", "annotations": "note=\"x\"\n"})
		waitLabel(t, s, app)
	}
}

// Where the directory cannot be watched (it does not exist yet) or the
// watch ends (the directory is removed), the files are polled.
func TestSourcePollsWithoutWatch(t *testing.T) {
	t.Run("missing at start", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "podinfo")
		s := &Source{Env: Env{Name: "p"}, Dir: dir, Refresh: 10 * time.Millisecond}
		if err := s.Load(); err != nil {
			t.Fatal(err)
		}
		runSource(t, s)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		kubeletWrite(t, dir, map[string]string{"labels": "app=\"late\"\n"})
		waitLabel(t, s, "late")
	})
	t.Run("removed", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "podinfo")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		kubeletWrite(t, dir, map[string]string{"labels": "app=\"a\"\n"})
		s := &Source{Env: Env{Name: "p"}, Dir: dir, Refresh: 10 * time.Millisecond}
		if err := s.Load(); err != nil {
			t.Fatal(err)
		}
		runSource(t, s)
		time.Sleep(50 * time.Millisecond) // the watch is in place
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // the watch ends
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		kubeletWrite(t, dir, map[string]string{"labels": "app=\"again\"\n"})
		waitLabel(t, s, "again")
	})
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

func TestExpandStrict(t *testing.T) {
	p := New(Env{Name: "web-1", Namespace: "shop"}, map[string]string{"team": "payments", "blank": ""}, nil)
	tests := []struct {
		tmpl, want  string
		placeholder string // the missing one; "" for success
		mentions    string // what the message must name
	}{
		{"logs.{namespace}", "logs.shop", "", ""},
		{"{pod}-{label:team}", "web-1-payments", "", ""},
		{"logs.{container}", "", "container", "CONTAINER_NAME"},
		{"logs.{label:tier}", "", "label:tier", `label "tier"`},
		{"logs.{label:blank}", "", "label:blank", `label "blank"`},
		{"logs.{annotation:topic}", "", "annotation:topic", `annotation "topic"`},
		{"{node}", "", "node", "NODE_NAME"},
		{"{uid}", "", "uid", "POD_UID"},
	}
	for _, tt := range tests {
		got, err := p.ExpandStrict(tt.tmpl)
		if tt.placeholder == "" {
			if err != nil || got != tt.want {
				t.Errorf("ExpandStrict(%q) = %q, %v; want %q", tt.tmpl, got, err, tt.want)
			}
			continue
		}
		var me *MissingError
		if !errors.As(err, &me) || me.Placeholder != tt.placeholder || me.Template != tt.tmpl {
			t.Errorf("ExpandStrict(%q) = %q, %v; want a MissingError for {%s}", tt.tmpl, got, err, tt.placeholder)
			continue
		}
		if !strings.Contains(err.Error(), tt.mentions) {
			t.Errorf("ExpandStrict(%q) error %q does not name %s", tt.tmpl, err, tt.mentions)
		}
	}
	ns := New(Env{Name: "web-1"}, nil, nil)
	if got, err := ns.ExpandStrict("logs.{namespace}"); err == nil || !strings.Contains(err.Error(), "POD_NAMESPACE") {
		t.Errorf(`ExpandStrict("logs.{namespace}") without a namespace = %q, %v; want an error naming POD_NAMESPACE`, got, err)
	}
	if _, err := ns.ExpandStrict("{nope}"); !errors.Is(err, ErrTemplate) {
		t.Errorf("unknown placeholder: %v, want ErrTemplate", err)
	}
}

func TestReadEnv(t *testing.T) {
	shell := map[string]string{"POD_NAME": "p", "POD_NAMESPACE": "ns", "POD_UID": "u", "POD_IP": "10.0.0.1",
		"HOSTNAME": "laptop", "NODE_NAME": "jenkins-agent-3", "CONTAINER_NAME": "toolbox"}
	lookup := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	if diff := cmp.Diff(Env{Name: "p", Namespace: "ns", UID: "u", IP: "10.0.0.1"}, ReadEnv(lookup(shell))); diff != "" {
		t.Errorf("outside Kubernetes the generic names leaked in (-want +got):\n%s", diff)
	}
	pod := maps.Clone(shell)
	pod[InKubernetesEnv] = "10.96.0.1"
	want := Env{Name: "p", Hostname: "laptop", Namespace: "ns", UID: "u", IP: "10.0.0.1", Node: "jenkins-agent-3", Container: "toolbox"}
	if diff := cmp.Diff(want, ReadEnv(lookup(pod))); diff != "" {
		t.Errorf("in Kubernetes (-want +got):\n%s", diff)
	}
	var names []string
	for _, v := range EnvVariables {
		names = append(names, v.Name)
	}
	if diff := cmp.Diff([]string{"POD_NAME", "HOSTNAME", "POD_NAMESPACE", "POD_UID", "POD_IP", "NODE_NAME", "CONTAINER_NAME"}, names); diff != "" {
		t.Errorf("EnvVariables (-want +got):\n%s", diff)
	}
}
