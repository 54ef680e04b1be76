package config

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/loglet/loglet/sidecar/bytesize"
	"github.com/loglet/loglet/sidecar/internal/parse"
	"github.com/loglet/loglet/sidecar/internal/podinfo"
)

// base is an environment Load accepts on any machine: a log dir that exists
// and no HTTP server. Entries added after it win.
func base(t *testing.T, env ...string) []string {
	t.Helper()
	return append([]string{"LOGLET_LOG_DIR=" + t.TempDir(), "LOGLET_HTTP_ADDR=", "LOGLET_PODINFO_DIR=" + t.TempDir()}, env...)
}

func TestDefaults(t *testing.T) {
	dir := t.TempDir()
	cfg, err := Load([]string{"LOGLET_SINK=stdout", "POD_NAME=web-1", "LOGLET_LOG_DIR=" + dir, "LOGLET_HTTP_ADDR=127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer cfg.HTTPListener.Close()
	pc := cfg.Pipeline(podinfo.New(cfg.Pod, nil, nil))
	if pc.LogDir != dir || pc.StateDir != dir+"/.loglet" || pc.Include != "*.log" ||
		pc.ActiveFile != "web-1.log" || pc.StartAtEnd || pc.PollInterval != 250*time.Millisecond ||
		pc.MaxLineBytes != 1<<20 || pc.MaxBufferBytes != 8<<20 || pc.ShutdownTimeout != 25*time.Second ||
		pc.DeleteShipped || pc.Parse.Location != time.UTC || pc.Coalesce != 300*time.Millisecond || pc.KeepGOMAXPROCS {
		t.Errorf("defaults: %+v", pc)
	}
	if cfg.Kafka.Topic != "logs.{namespace}" || cfg.Kafka.BatchBytes != 1<<20 || cfg.Kafka.MaxMessageBytes != 1<<20 {
		t.Errorf("defaults: topic %q batch %d max message %d", cfg.Kafka.Topic, cfg.Kafka.BatchBytes, cfg.Kafka.MaxMessageBytes)
	}
	if !cfg.Kafka.ReadBack || cfg.Kafka.ReadBackMaxBytes != 4<<20 || cfg.Kafka.ReadBackTimeout != 5*time.Second {
		t.Errorf("read-back defaults: on %v, %d bytes, %s", cfg.Kafka.ReadBack, cfg.Kafka.ReadBackMaxBytes, cfg.Kafka.ReadBackTimeout)
	}
	for _, v := range Variables() {
		if v.Name == "LOGLET_HTTP_ADDR" && v.Default != ":9110" {
			t.Errorf("LOGLET_HTTP_ADDR default %q", v.Default)
		}
	}
	if cfg.HTTPListener == nil || cfg.HTTPAddr != "127.0.0.1:0" {
		t.Errorf("HTTP: %q %v", cfg.HTTPAddr, cfg.HTTPListener)
	}
}

// A GOMAXPROCS in the environment is the user's: the pipeline keeps it.
func TestUserGOMAXPROCSIsKept(t *testing.T) {
	cfg, err := Load([]string{"LOGLET_SINK=stdout", "POD_NAME=web-1", "LOGLET_LOG_DIR=" + t.TempDir(), "LOGLET_HTTP_ADDR=", "GOMAXPROCS=2"})
	if err != nil {
		t.Fatal(err)
	}
	if pc := cfg.Pipeline(podinfo.New(cfg.Pod, nil, nil)); !pc.KeepGOMAXPROCS {
		t.Error("KeepGOMAXPROCS = false with GOMAXPROCS set")
	}
}

func TestExpansionAndParsing(t *testing.T) {
	cfg, err := Load(base(t,
		"LOGLET_SINK=stdout", "HOSTNAME=web-2", "KUBERNETES_SERVICE_HOST=10.96.0.1", "LOGLET_INCLUDE={pod}*.log", "LOGLET_STATE_DIR=/state",
		"LOGLET_MAX_BUFFER_BYTES=512KiB", "LOGLET_MAX_LINE_BYTES=4096", "LOGLET_FIELD_TYPES=count=int,ok=bool",
		"LOGLET_DEFAULT_TZ=Asia/Tokyo", "LOGLET_START_AT=end", "LOGLET_DELETE_SHIPPED=true",
		"LOGLET_KAFKA_BATCH_BYTES=512KiB", "LOGLET_KAFKA_MAX_MESSAGE_BYTES=2MB", "LOGLET_POLL_INTERVAL=", // empty: the default
	))
	if err != nil {
		t.Fatal(err)
	}
	pc := cfg.Pipeline(podinfo.New(cfg.Pod, nil, nil))
	if pc.Include != "web-2*.log" || pc.ActiveFile != "web-2.log" || pc.StateDir != "/state" ||
		pc.MaxBufferBytes != 512<<10 || pc.MaxLineBytes != 4096 || !pc.StartAtEnd || !pc.DeleteShipped ||
		pc.Parse.Location.String() != "Asia/Tokyo" || pc.PollInterval != 250*time.Millisecond {
		t.Errorf("config: %+v", pc)
	}
	if cfg.Kafka.BatchBytes != 512<<10 || cfg.Kafka.MaxMessageBytes != 2e6 {
		t.Errorf("kafka sizes: %d %d", cfg.Kafka.BatchBytes, cfg.Kafka.MaxMessageBytes)
	}
	if diff := cmp.Diff(map[string]parse.Type{"count": parse.TypeInt, "ok": parse.TypeBool}, pc.Parse.FieldTypes); diff != "" {
		t.Error(diff)
	}
}

// problems loads env, which must fail, and returns the problems' texts.
func problems(t *testing.T, env []string) []string {
	t.Helper()
	cfg, err := Load(env)
	var cerr *Error
	if !errors.As(err, &cerr) {
		if cfg != nil && cfg.HTTPListener != nil {
			cfg.HTTPListener.Close()
		}
		t.Fatalf("Load = %v, want *Error", err)
	}
	var out []string
	for _, p := range cerr.Problems {
		out = append(out, p.Error())
	}
	return out
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
		{"bad http address", []string{"LOGLET_SINK=stdout", "POD_NAME=p", "LOGLET_HTTP_ADDR=9110"}, []string{"LOGLET_HTTP_ADDR"}},
		{"bad shaping rules", []string{"LOGLET_SINK=stdout", "POD_NAME=p", "LOGLET_DROP_LEVELS=chatty", "LOGLET_DROP_IF=path",
			"LOGLET_SAMPLE=1:a=b", "LOGLET_REDACT=msg~(", "LOGLET_REMOVE_FIELDS=msg", "LOGLET_KEEP_FIELDS=level",
			"LOGLET_METRICS=loglet_lines counter", "LOGLET_METRICS_MAX_SERIES=0", "LOGLET_NORMALIZE_LEVELS=maybe"},
			[]string{"LOGLET_DROP_LEVELS", "LOGLET_DROP_IF", "LOGLET_SAMPLE", "LOGLET_REDACT", "LOGLET_REMOVE_FIELDS",
				"LOGLET_KEEP_FIELDS", "LOGLET_METRICS", "LOGLET_METRICS_MAX_SERIES", "LOGLET_NORMALIZE_LEVELS"}},
		{"bad multiline rules", []string{"LOGLET_SINK=stdout", "POD_NAME=p", "LOGLET_MULTILINE=java,cobol",
			"LOGLET_MULTILINE_START=[", "LOGLET_MULTILINE_CONTINUE=(x"},
			[]string{"LOGLET_MULTILINE", "LOGLET_MULTILINE_START", "LOGLET_MULTILINE_CONTINUE"}},
		{"start without continuation", []string{"LOGLET_SINK=stdout", "POD_NAME=p", "LOGLET_MULTILINE_START=^x"},
			[]string{"LOGLET_MULTILINE_CONTINUE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problems(t, base(t, tt.env...))
			msg := strings.Join(got, "\n")
			for _, name := range tt.want {
				if !strings.Contains(msg, name+":") {
					t.Errorf("error does not name %s:\n%v", name, msg)
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("%d problems for %d bad variables:\n%s", len(got), len(tt.want), msg)
			}
		})
	}
}

// TestMessagesNameTheVariableAndTheForms: no raw Go errors, and one line
// per bad variable (a bad duration was also reported as "0s is not
// positive").
func TestMessagesNameTheVariableAndTheForms(t *testing.T) {
	tests := []struct{ env, want string }{
		{"LOGLET_DELETE_SHIPPED=yes", `LOGLET_DELETE_SHIPPED: "yes" is not a boolean (true or false)`},
		{"LOGLET_SHUTDOWN_TIMEOUT=10", `LOGLET_SHUTDOWN_TIMEOUT: "10" is not a duration (a number and a unit: 250ms, 5s, 1m30s)`},
		{"LOGLET_POLL_INTERVAL=fast", `LOGLET_POLL_INTERVAL: "fast" is not a duration (a number and a unit: 250ms, 5s, 1m30s)`},
		{"LOGLET_MAX_OPEN_FILES=many", `LOGLET_MAX_OPEN_FILES: "many" is not a whole number`},
		{"LOGLET_MAX_LINE_BYTES=1.5MiB", `LOGLET_MAX_LINE_BYTES: not a size: "1.5MiB" is not a whole number with a known unit; want ` + bytesize.Forms},
		{"LOGLET_KAFKA_BATCH_BYTES=1M", `LOGLET_KAFKA_BATCH_BYTES: not a size: "1M" is not a whole number with a known unit; want ` + bytesize.Forms},
		{"LOGLET_KAFKA_TLS=on", `LOGLET_KAFKA_TLS: "on" is not a boolean (true or false)`},
		{"LOGLET_KAFKA_READBACK=maybe", `LOGLET_KAFKA_READBACK: "maybe" is not a boolean (true or false)`},
		{"LOGLET_KAFKA_READBACK_MAX_BYTES=4M", `LOGLET_KAFKA_READBACK_MAX_BYTES: not a size: "4M" is not a whole number with a known unit; want ` + bytesize.Forms},
		{"LOGLET_KAFKA_READBACK_TIMEOUT=5", `LOGLET_KAFKA_READBACK_TIMEOUT: "5" is not a duration (a number and a unit: 250ms, 5s, 1m30s)`},
		{"LOGLET_DEFAULT_TZ=Mars/Olympus", `LOGLET_DEFAULT_TZ: "Mars/Olympus" is not a time zone (an IANA name such as UTC or Europe/Berlin)`},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			got := problems(t, base(t, "LOGLET_SINK=kafka", "LOGLET_KAFKA_BROKERS=k:9092", "POD_NAME=p", "POD_NAMESPACE=ns", tt.env))
			if diff := cmp.Diff([]string{tt.want}, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestShapeAndMultiline(t *testing.T) {
	cfg, err := Load(base(t, "LOGLET_SINK=stdout", "POD_NAME=p", "LOGLET_DROP_LEVELS=debug", "LOGLET_REDACT=msg~x",
		"LOGLET_METRICS=app_lines_total counter by=level", "LOGLET_MULTILINE=go,python",
		"LOGLET_MULTILINE_START=^\\[", "LOGLET_MULTILINE_CONTINUE=^\\s", "LOGLET_NORMALIZE_LEVELS=false"))
	if err != nil {
		t.Fatal(err)
	}
	sp := cfg.Shape()
	if !sp.DryRun || len(sp.DropLevels) != 1 || len(sp.Redact) != 1 || len(sp.Metrics) != 1 || sp.MaxSeries != 100 {
		t.Errorf("shape spec %+v", sp)
	}
	pc := cfg.Pipeline(podinfo.New(cfg.Pod, nil, nil))
	m := pc.Parse.Multiline
	if !pc.Parse.RawLevels || m == nil || m.Builtins != parse.JoinGo|parse.JoinPython || m.Start.String() != `^\[` || m.Continue.String() != `^\s` {
		t.Errorf("parse options %+v, multiline %+v", pc.Parse, m)
	}
	cfg, err = Load(base(t, "LOGLET_SINK=stdout", "POD_NAME=p"))
	if err != nil {
		t.Fatal(err)
	}
	if sp := cfg.Shape(); !sp.Empty() {
		t.Errorf("rules by default: %+v", sp)
	}
	if pc := cfg.Pipeline(podinfo.New(cfg.Pod, nil, nil)); pc.Parse.RawLevels || pc.Parse.Multiline.Builtins != parse.JoinAll {
		t.Errorf("defaults: %+v", pc.Parse)
	}
}

func TestUnknownVariables(t *testing.T) {
	got := problems(t, base(t, "LOGLET_SINK=stdout", "POD_NAME=p",
		"LOGLET_KAFKA_BROKER=k:9092", "LOGLET_LOGDIR=/x", "LOGLET_TOPIC=t", "LOGLET_SOMETHING_ELSE_ENTIRELY=1",
		"LOGLET_MAX_FILE_BYTES=100MiB", "LOGLET_MAX_FILES=3", // applib's, from a shared envFrom: ignored
		"OTHER_VARIABLE=1"))
	want := []string{
		"LOGLET_KAFKA_BROKER: unknown variable; did you mean LOGLET_KAFKA_BROKERS?",
		"LOGLET_LOGDIR: unknown variable; did you mean LOGLET_LOG_DIR?",
		"LOGLET_SOMETHING_ELSE_ENTIRELY: unknown variable; `loglet -h` lists the variables loglet reads",
		"LOGLET_TOPIC: unknown variable; did you mean LOGLET_KAFKA_TOPIC?",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

// TestAppVariablesAreKnown keeps appVariables in step with what applib
// reads, so a shared envFrom never makes the sidecar refuse to start.
func TestAppVariablesAreKnown(t *testing.T) {
	src, err := os.ReadFile("../../../applib/config.go")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, v := range Variables() {
		known[v.Name] = true
	}
	for _, n := range appVariables {
		known[n] = true
	}
	names := regexp.MustCompile(`"(LOGLET_[A-Z_]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(names) == 0 {
		t.Fatal("no LOGLET_ variable found in applib/config.go")
	}
	for _, m := range names {
		if !known[m[1]] {
			t.Errorf("applib reads %s, which the sidecar would refuse as unknown", m[1])
		}
	}
}

// TestEmptyHTTPAddrDisablesTheServer: LOGLET_HTTP_ADDR= is documented as
// disabling the server; the env library read empty as unset and bound :9110.
func TestEmptyHTTPAddrDisablesTheServer(t *testing.T) {
	cfg, err := Load(base(t, "LOGLET_SINK=stdout", "POD_NAME=p", "LOGLET_HTTP_ADDR="))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != "" || cfg.HTTPListener != nil {
		t.Errorf("LOGLET_HTTP_ADDR= gives address %q, listener %v; want none", cfg.HTTPAddr, cfg.HTTPListener)
	}
}

// TestMachineChecksAtOnce: what used to fail one at a time after start
// (the log dir, the topic expanded for the pod, the CA and password files,
// the HTTP address) is reported together by Load.
func TestMachineChecksAtOnce(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("no certificate here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	podinfoDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(podinfoDir, "labels"), []byte("app=\"shop\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := problems(t, []string{
		"LOGLET_LOG_DIR=" + filepath.Join(dir, "absent"), "LOGLET_PODINFO_DIR=" + podinfoDir,
		"POD_NAME=web-1", // no POD_NAMESPACE
		"LOGLET_KAFKA_BROKERS=k:9092", "LOGLET_KAFKA_KEY={label:team}",
		"LOGLET_KAFKA_TLS=true", "LOGLET_KAFKA_TLS_CA_FILE=" + notPEM,
		"LOGLET_KAFKA_SASL_MECHANISM=PLAIN", "LOGLET_KAFKA_SASL_USERNAME=u", "LOGLET_KAFKA_SASL_PASSWORD_FILE=" + filepath.Join(dir, "absent-password"),
		"LOGLET_HTTP_ADDR=" + taken.Addr().String(),
	})
	want := []string{
		"LOGLET_LOG_DIR: stat " + filepath.Join(dir, "absent") + ": no such file or directory",
		`LOGLET_KAFKA_TOPIC: "logs.{namespace}": {namespace} expands to nothing: POD_NAMESPACE is not set (Downward API metadata.namespace)`,
		`LOGLET_KAFKA_KEY: "{label:team}": {label:team} expands to nothing: the pod has no label "team", or it is empty (the labels file of the downwardAPI volume); read from ` + filepath.Join(podinfoDir, "labels"),
		"LOGLET_KAFKA_TLS_CA_FILE: no PEM certificate in " + notPEM,
		"LOGLET_KAFKA_SASL_PASSWORD_FILE: open " + filepath.Join(dir, "absent-password") + ": no such file or directory",
		"LOGLET_HTTP_ADDR: listen tcp " + taken.Addr().String() + ": bind: address already in use",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestLogDirMustBeADirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "app.log")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	got := problems(t, base(t, "LOGLET_SINK=stdout", "POD_NAME=p", "LOGLET_LOG_DIR="+file))
	if diff := cmp.Diff([]string{"LOGLET_LOG_DIR: " + file + " is not a directory"}, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

// TestMissingLabelWithoutPodinfoVolume names the directory that lacks the
// downwardAPI files.
func TestMissingLabelWithoutPodinfoVolume(t *testing.T) {
	absent := filepath.Join(t.TempDir(), "podinfo")
	got := problems(t, base(t, "LOGLET_SINK=stdout", "POD_NAME=p", "LOGLET_PODINFO_DIR="+absent, "LOGLET_INCLUDE={label:app}*.log"))
	want := `LOGLET_INCLUDE: "{label:app}*.log": {label:app} expands to nothing: the pod has no label "app", or it is empty (the labels file of the downwardAPI volume); LOGLET_PODINFO_DIR has no labels file (` + filepath.Join(absent, "labels") + `): mount a downwardAPI volume there`
	if diff := cmp.Diff([]string{want}, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

// TestShellNamesDoNotLeak: outside Kubernetes a developer's HOSTNAME,
// NODE_NAME and CONTAINER_NAME are not the pod's.
func TestShellNamesDoNotLeak(t *testing.T) {
	shell := []string{"LOGLET_SINK=stdout", "POD_NAME=web-1", "HOSTNAME=laptop", "NODE_NAME=jenkins-3", "CONTAINER_NAME=toolbox"}
	cfg, err := Load(base(t, shell...))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(podinfo.Env{Name: "web-1"}, cfg.Pod); diff != "" {
		t.Errorf("outside Kubernetes (-want +got):\n%s", diff)
	}
	cfg, err = Load(base(t, append(shell, "KUBERNETES_SERVICE_HOST=10.96.0.1")...))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(podinfo.Env{Name: "web-1", Hostname: "laptop", Node: "jenkins-3", Container: "toolbox"}, cfg.Pod); diff != "" {
		t.Errorf("in Kubernetes (-want +got):\n%s", diff)
	}
}

func TestSuggest(t *testing.T) {
	known := map[string]bool{"LOGLET_LOG_DIR": true, "LOGLET_LOG_LEVEL": true, "LOGLET_KAFKA_TOPIC": true}
	for in, want := range map[string]string{
		"LOGLET_LOG_DIRS": "LOGLET_LOG_DIR", "loglet_log_dir": "LOGLET_LOG_DIR", "LOGLET_TOPIC": "LOGLET_KAFKA_TOPIC",
		"LOGLET_LOGLEVEL": "LOGLET_LOG_LEVEL", "LOGLET_COLOR": "",
	} {
		if got := suggest(in, known); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
	if d := editDistance("kitten", "sitting"); d != 3 {
		t.Errorf("editDistance = %d, want 3", d)
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
