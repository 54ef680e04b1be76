package config

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/loglet/loglet/sidecar/internal/parse"
	"github.com/loglet/loglet/sidecar/internal/podinfo"
)

func TestDefaults(t *testing.T) {
	cfg, err := Load([]string{"LOGLET_SINK=stdout", "POD_NAME=web-1"})
	if err != nil {
		t.Fatal(err)
	}
	pc := cfg.Pipeline(podinfo.New(cfg.Pod, nil, nil))
	if pc.LogDir != "/var/log/app" || pc.StateDir != "/var/log/app/.loglet" || pc.Include != "*.log" ||
		pc.ActiveFile != "web-1.log" || pc.StartAtEnd || pc.PollInterval != 250*time.Millisecond ||
		pc.MaxLineBytes != 1<<20 || pc.MaxBufferBytes != 8<<20 || pc.ShutdownTimeout != 25*time.Second ||
		pc.DeleteShipped || pc.Parse.Location != time.UTC {
		t.Errorf("defaults: %+v", pc)
	}
	if cfg.HTTPAddr != ":9110" || cfg.Kafka.Topic != "logs.{namespace}" {
		t.Errorf("defaults: http %q topic %q", cfg.HTTPAddr, cfg.Kafka.Topic)
	}
}

func TestExpansionAndParsing(t *testing.T) {
	cfg, err := Load([]string{
		"LOGLET_SINK=stdout", "HOSTNAME=web-2", "LOGLET_INCLUDE={pod}*.log", "LOGLET_STATE_DIR=/state",
		"LOGLET_MAX_BUFFER_BYTES=512KiB", "LOGLET_MAX_LINE_BYTES=4096", "LOGLET_FIELD_TYPES=count=int,ok=bool",
		"LOGLET_DEFAULT_TZ=Asia/Tokyo", "LOGLET_START_AT=end", "LOGLET_DELETE_SHIPPED=true",
	})
	if err != nil {
		t.Fatal(err)
	}
	pc := cfg.Pipeline(podinfo.New(cfg.Pod, nil, nil))
	if pc.Include != "web-2*.log" || pc.ActiveFile != "web-2.log" || pc.StateDir != "/state" ||
		pc.MaxBufferBytes != 512<<10 || pc.MaxLineBytes != 4096 || !pc.StartAtEnd || !pc.DeleteShipped ||
		pc.Parse.Location.String() != "Asia/Tokyo" {
		t.Errorf("config: %+v", pc)
	}
	if diff := cmp.Diff(map[string]parse.Type{"count": parse.TypeInt, "ok": parse.TypeBool}, pc.Parse.FieldTypes); diff != "" {
		t.Error(diff)
	}
}

func TestBadVariablesAreNamedTogether(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want []string // every variable the error must name
	}{
		{"many at once", []string{"LOGLET_SINK=stdout", "POD_NAME=p",
			"LOGLET_POLL_INTERVAL=fast", "LOGLET_START_AT=middle", "LOGLET_MAX_BUFFER_BYTES=lots",
			"LOGLET_FIELD_TYPES=count=number", "LOGLET_DEFAULT_TZ=Mars/Olympus", "LOGLET_LOG_DIR=relative"},
			[]string{"LOGLET_POLL_INTERVAL", "LOGLET_START_AT", "LOGLET_MAX_BUFFER_BYTES", "LOGLET_FIELD_TYPES", "LOGLET_DEFAULT_TZ", "LOGLET_LOG_DIR"}},
		{"kafka needs brokers", []string{"POD_NAME=p"}, []string{"LOGLET_KAFKA_BROKERS"}},
		{"unknown sink", []string{"LOGLET_SINK=files", "POD_NAME=p"}, []string{"LOGLET_SINK"}},
		{"pod needed for {pod}", []string{"LOGLET_SINK=stdout"}, []string{"LOGLET_ACTIVE_FILE"}},
		{"bad glob", []string{"LOGLET_SINK=stdout", "POD_NAME=p", "LOGLET_INCLUDE=[x"}, []string{"LOGLET_INCLUDE"}},
		{"bad template", []string{"LOGLET_SINK=stdout", "POD_NAME=p", "LOGLET_INCLUDE={nope}.log"}, []string{"LOGLET_INCLUDE"}},
		{"bad bool", []string{"LOGLET_SINK=stdout", "POD_NAME=p", "LOGLET_DELETE_SHIPPED=sure"}, []string{"LOGLET_DELETE_SHIPPED"}},
		{"non-positive", []string{"LOGLET_SINK=stdout", "POD_NAME=p", "LOGLET_SHUTDOWN_TIMEOUT=0s", "LOGLET_MAX_OPEN_FILES=0"},
			[]string{"LOGLET_SHUTDOWN_TIMEOUT", "LOGLET_MAX_OPEN_FILES"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.env)
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("Load = %v, want *Error", err)
			}
			for _, name := range tt.want {
				if !strings.Contains(err.Error(), name+":") {
					t.Errorf("error does not name %s:\n%v", name, err)
				}
			}
			if len(cerr.Problems) < len(tt.want) {
				t.Errorf("%d problems for %d bad variables", len(cerr.Problems), len(tt.want))
			}
		})
	}
}

func TestBytes(t *testing.T) {
	for in, want := range map[string]Bytes{"1048576": 1 << 20, "512KiB": 512 << 10, "8MiB": 8 << 20, "1GB": 1e9, "64 KiB": 64 << 10} {
		var b Bytes
		if err := b.UnmarshalText([]byte(in)); err != nil || b != want {
			t.Errorf("%q = %d, %v; want %d", in, b, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1.5MiB", "8XB", "MiB"} {
		var b Bytes
		if err := b.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("%q accepted as %d", in, b)
		}
	}
}

func TestUsageListsEveryVariable(t *testing.T) {
	u := Usage()
	vars := Variables()
	names := map[string]bool{}
	for _, v := range vars {
		names[v.Name] = true
		if !strings.Contains(u, v.Name) {
			t.Errorf("usage misses %s", v.Name)
		}
		if v.Help == "" {
			t.Errorf("%s has no help text", v.Name)
		}
	}
	for _, want := range []string{"LOGLET_LOG_DIR", "LOGLET_INCLUDE", "LOGLET_EXCLUDE", "LOGLET_STATE_DIR", "LOGLET_START_AT",
		"LOGLET_SINK", "LOGLET_POLL_INTERVAL", "LOGLET_MAX_LINE_BYTES", "LOGLET_DELETE_SHIPPED", "LOGLET_ACTIVE_FILE",
		"LOGLET_FIELD_TYPES", "LOGLET_DEFAULT_TZ", "LOGLET_PODINFO_DIR", "LOGLET_MAX_BUFFER_BYTES", "LOGLET_SHUTDOWN_TIMEOUT",
		"LOGLET_HTTP_ADDR", "LOGLET_KAFKA_BROKERS", "LOGLET_KAFKA_TOPIC", "LOGLET_KAFKA_SASL_PASSWORD_FILE",
		"POD_NAME", "POD_NAMESPACE", "POD_UID", "POD_IP", "NODE_NAME", "CONTAINER_NAME"} {
		if !names[want] {
			t.Errorf("Variables() misses %s", want)
		}
	}
	if !strings.Contains(u, "8MiB") || !strings.Contains(u, "logs.{namespace}") {
		t.Errorf("usage lacks defaults:\n%s", u)
	}
}

// TestREADMEDocumentsEveryVariable keeps the README's configuration tables
// from drifting away from the code.
func TestREADMEDocumentsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Variables() {
		row := "| `" + v.Name + "` |"
		if !strings.Contains(string(readme), row) {
			t.Errorf("README.md has no row for %s", v.Name)
		}
		if v.Default != "" && !strings.Contains(string(readme), row+" `"+v.Default+"` |") {
			t.Errorf("README.md row for %s does not give the default %q", v.Name, v.Default)
		}
	}
}
