package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/loglet/loglet/sidecar/internal/inject"
	"github.com/loglet/loglet/sidecar/testca"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// issue writes a serving certificate from ca for 127.0.0.1 and its key,
// replacing the files by rename as the kubelet swaps a Secret volume's
// contents.
func issue(t *testing.T, ca *testca.CA, certPath, keyPath string) {
	t.Helper()
	certPEM, keyPEM := testca.PEM(t, ca.Issue(t, "loglet-injector", x509.ExtKeyUsageServerAuth))
	writeAtomic(t, certPath, certPEM)
	writeAtomic(t, keyPath, keyPEM)
}

func writeAtomic(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func client(pool *x509.CertPool) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		DisableKeepAlives: true, // every request is a new handshake
	}}
}

type injector struct {
	url               string
	certPath, keyPath string
	logs              *syncBuffer
	cancel            context.CancelFunc
	done              chan error
}

func startInjector(t *testing.T, ca *testca.CA) *injector {
	t.Helper()
	dir := t.TempDir()
	in := &injector{certPath: filepath.Join(dir, "tls.crt"), keyPath: filepath.Join(dir, "tls.key"), logs: &syncBuffer{}, done: make(chan error, 1)}
	issue(t, ca, in.certPath, in.keyPath)
	cfg, err := loadConfig(map[string]string{
		"LOGLET_INJECTOR_TLS_CERT_FILE":  in.certPath,
		"LOGLET_INJECTOR_TLS_KEY_FILE":   in.keyPath,
		"LOGLET_INJECTOR_SHUTDOWN_DELAY": "10ms",
		"LOGLET_INJECTOR_KAFKA_BROKERS":  "kafka:9092",
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	in.url = "https://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	in.cancel = cancel
	go func() {
		in.done <- run(ctx, cfg, ln, prometheus.NewRegistry(), slog.New(slog.NewJSONHandler(in.logs, nil)))
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-in.done:
		case <-time.After(10 * time.Second):
			t.Error("run did not return")
		}
	})
	return in
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServes(t *testing.T) {
	ca := testca.New(t, "ca")
	in := startInjector(t, ca)
	c := client(ca.Pool())

	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body := get(t, c, in.url+p); code != http.StatusOK || body != "ok\n" {
			t.Errorf("%s: %d %q", p, code, body)
		}
	}

	review := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1",` +
		`"kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},` +
		`"namespace":"shop","operation":"CREATE","object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},` +
		`"spec":{"containers":[{"name":"app","image":"app:1"}]}}}}`
	resp, err := c.Post(in.url+"/mutate", "application/json", strings.NewReader(review))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out.Response == nil || !out.Response.Allowed || out.Response.UID != "u1" || len(out.Response.Patch) == 0 {
		t.Fatalf("response %+v", out.Response)
	}
	// The environment's cluster settings reach the sidecar.
	if !bytes.Contains(out.Response.Patch, []byte(`"name":"LOGLET_KAFKA_BROKERS","value":"kafka:9092"`)) {
		t.Errorf("patch lacks the configured brokers: %s", out.Response.Patch)
	}

	code, metrics := get(t, c, in.url+"/metrics")
	if code != http.StatusOK || !strings.Contains(metrics, `loglet_injector_reviews_total{outcome="injected"} 1`) {
		t.Errorf("/metrics: %d, no injected review counted:\n%s", code, metrics)
	}
}

func TestReloadsRotatedCertificate(t *testing.T) {
	ca1, ca2 := testca.New(t, "ca1"), testca.New(t, "ca2")
	in := startInjector(t, ca1)
	if code, _ := get(t, client(ca1.Pool()), in.url+"/healthz"); code != http.StatusOK {
		t.Fatalf("healthz %d", code)
	}

	issue(t, ca2, in.certPath, in.keyPath)
	if code, _ := get(t, client(ca2.Pool()), in.url+"/healthz"); code != http.StatusOK {
		t.Fatalf("healthz %d with the rotated certificate", code)
	}
	if _, err := client(ca1.Pool()).Get(in.url + "/healthz"); err == nil {
		t.Error("the old certificate is still served after rotation")
	}

	// A broken pair is not taken: the last good certificate stays.
	writeAtomic(t, in.keyPath, []byte("not a key"))
	if code, _ := get(t, client(ca2.Pool()), in.url+"/healthz"); code != http.StatusOK {
		t.Fatalf("healthz %d after a broken rotation", code)
	}
	if !strings.Contains(in.logs.String(), "does not load; keeping the loaded one") {
		t.Errorf("no warning about the broken pair in the log:\n%s", in.logs)
	}
}

func TestShutdown(t *testing.T) {
	ca := testca.New(t, "ca")
	in := startInjector(t, ca)
	if code, _ := get(t, client(ca.Pool()), in.url+"/readyz"); code != http.StatusOK {
		t.Fatalf("readyz %d", code)
	}
	in.cancel()
	select {
	case err := <-in.done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		in.done <- nil // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	if _, err := client(ca.Pool()).Get(in.url + "/healthz"); err == nil {
		t.Error("still serving after shutdown")
	}
}

func TestRunRefusesMissingCertificate(t *testing.T) {
	dir := t.TempDir()
	cfg, err := loadConfig(map[string]string{
		"LOGLET_INJECTOR_TLS_CERT_FILE": filepath.Join(dir, "tls.crt"),
		"LOGLET_INJECTOR_TLS_KEY_FILE":  filepath.Join(dir, "tls.key"),
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	err = run(context.Background(), cfg, ln, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("run: %v; want a missing-file error", err)
	}
}

func TestLoadConfig(t *testing.T) {
	cfg, err := loadConfig(map[string]string{
		"LOGLET_INJECTOR_IMAGE":                "example.com/loglet:2",
		"LOGLET_INJECTOR_KAFKA_BROKERS":        "a:9092,b:9092",
		"LOGLET_INJECTOR_KAFKA_SECRET":         "kafka",
		"LOGLET_INJECTOR_KAFKA_TLS":            "true",
		"LOGLET_INJECTOR_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
		"LOGLET_INJECTOR_SIDECAR_MODE":         "container",
		"LOGLET_INJECTOR_ADDR":                 ":9443",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := inject.Settings{
		Image: "example.com/loglet:2", KafkaBrokers: []string{"a:9092", "b:9092"}, KafkaSecret: "kafka",
		KafkaTLS: true, KafkaSASLMechanism: "SCRAM-SHA-512", SidecarMode: "container",
	}
	if diff := cmp.Diff(want, cfg.Settings); diff != "" {
		t.Errorf("settings (-want +got):\n%s", diff)
	}
	if cfg.Addr != ":9443" || cfg.TLSCertFile != "/etc/loglet-injector/tls/tls.crt" || cfg.ShutdownTimeout != 10*time.Second {
		t.Errorf("server config %+v", cfg)
	}

	for _, bad := range []map[string]string{
		{"LOGLET_INJECTOR_LOG_LEVEL": "loud"},
		{"LOGLET_INJECTOR_SIDECAR_MODE": "daemonset"},
		{"LOGLET_INJECTOR_KAFKA_TLS": "maybe"},
		{"LOGLET_INJECTOR_SHUTDOWN_TIMEOUT": "10"},
	} {
		if _, err := loadConfig(bad); err == nil {
			t.Errorf("loadConfig(%v): no error", bad)
		}
	}
}

// TestLoadConfigTopicPolicy: the injector does not start with a cluster
// topic template that can leave the pods' namespaces, unless the settings
// share it or allow any topic; nor with a log directory over /etc.
func TestLoadConfigTopicPolicy(t *testing.T) {
	tests := []struct {
		name    string
		environ map[string]string
		err     error // nil: loads
		msg     string
	}{
		{"one topic for every namespace", map[string]string{"LOGLET_INJECTOR_KAFKA_TOPIC": "logs.all"}, inject.ErrTopicPolicy, "KAFKA_TOPIC"},
		{"a label the pods set", map[string]string{"LOGLET_INJECTOR_KAFKA_TOPIC": "logs.{label:team}"}, inject.ErrTopicPolicy, "KAFKA_TOPIC"},
		{"namespaced", map[string]string{"LOGLET_INJECTOR_KAFKA_TOPIC": "applogs.{namespace}.{label:app}"}, nil, ""},
		{"shared", map[string]string{"LOGLET_INJECTOR_KAFKA_TOPIC": "logs.all", "LOGLET_INJECTOR_SHARED_TOPIC_PREFIXES": "shared.,logs.all"}, nil, ""},
		{"any", map[string]string{"LOGLET_INJECTOR_KAFKA_TOPIC": "logs.all", "LOGLET_INJECTOR_ALLOW_ANY_TOPIC": "true"}, nil, ""},
		{"empty shared prefix", map[string]string{"LOGLET_INJECTOR_SHARED_TOPIC_PREFIXES": "shared.,"}, inject.ErrSettings, "SHARED_TOPIC_PREFIXES"},
		{"log dir over /etc", map[string]string{"LOGLET_INJECTOR_LOG_DIR": "/etc/logs"}, inject.ErrSettings, "LOG_DIR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadConfig(tt.environ)
			if tt.err == nil {
				if err != nil {
					t.Fatalf("loadConfig: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("loadConfig: %v, %v; want %v mentioning %s", cfg.Settings, err, tt.err, tt.msg)
			}
		})
	}
	cfg, err := loadConfig(map[string]string{"LOGLET_INJECTOR_SHARED_TOPIC_PREFIXES": "shared.,audit.", "LOGLET_INJECTOR_ALLOW_ANY_TOPIC": "true"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(inject.Settings{SharedTopicPrefixes: []string{"shared.", "audit."}, AllowAnyTopic: true}, cfg.Settings); diff != "" {
		t.Errorf("settings (-want +got):\n%s", diff)
	}
}

func TestUsageListsEveryVariable(t *testing.T) {
	var b strings.Builder
	usage(&b)
	for _, v := range []string{"ADDR", "TLS_CERT_FILE", "SHUTDOWN_DELAY", "IMAGE", "KAFKA_BROKERS", "KAFKA_SASL_MECHANISM", "TERMINATION_GRACE_PERIOD_SECONDS", "SHARED_TOPIC_PREFIXES", "ALLOW_ANY_TOPIC"} {
		if !strings.Contains(b.String(), "LOGLET_INJECTOR_"+v+"\n") {
			t.Errorf("usage lacks LOGLET_INJECTOR_%s:\n%s", v, b.String())
		}
	}
}
