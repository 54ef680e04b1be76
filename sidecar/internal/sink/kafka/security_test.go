package kafka

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loglet/loglet/sidecar/kafkasec"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSASLMechanism(t *testing.T) {
	dir := t.TempDir()
	pw := writeFile(t, dir, "pw", "hunter2\n")
	for _, name := range []string{saslPlain, saslSCRAM256, saslSCRAM512} {
		c := Config{Security: kafkasec.Security{SASLMechanism: name, SASLUsername: "loglet", SASLPasswordFile: pw}}
		m, err := c.saslMechanism()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if m.Name() != name {
			t.Errorf("Name = %q, want %q", m.Name(), name)
		}
		if _, _, err := m.Start(context.Background()); err != nil {
			t.Errorf("%s: Start: %v", name, err)
		}
	}
	c := Config{Security: kafkasec.Security{SASLMechanism: saslPlain, SASLUsername: "u", SASLPasswordFile: filepath.Join(dir, "absent")}}
	if _, err := c.saslMechanism(); err == nil || !strings.HasPrefix(err.Error(), "LOGLET_KAFKA_SASL_PASSWORD_FILE: ") {
		t.Errorf("missing password file: %v", err)
	}
}

func TestTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := writeFile(t, dir, "ca.pem", "not a certificate")
	for _, tt := range []struct {
		c    Config
		want string
	}{
		{Config{Security: kafkasec.Security{TLS: true, TLSCAFile: filepath.Join(dir, "absent")}}, "LOGLET_KAFKA_TLS_CA_FILE: open "},
		{Config{Security: kafkasec.Security{TLS: true, TLSCAFile: notPEM}}, "LOGLET_KAFKA_TLS_CA_FILE: no PEM certificate in "},
		{Config{Security: kafkasec.Security{TLS: true, TLSCertFile: notPEM, TLSKeyFile: notPEM}}, "LOGLET_KAFKA_TLS_CERT_FILE and LOGLET_KAFKA_TLS_KEY_FILE: "},
	} {
		if _, err := tt.c.tlsConfig(); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("tlsConfig(%+v) = %v, want prefix %q", tt.c, err, tt.want)
		}
	}
	if tc, err := (&Config{}).tlsConfig(); tc != nil || err != nil {
		t.Errorf("TLS off: %v, %v", tc, err)
	}
}

func TestInsecureSkipVerifyWarns(t *testing.T) {
	h := newSink(t, Config{Brokers: []string{"k:9092"}, Security: kafkasec.Security{TLS: true, TLSInsecureSkipVerify: true}}, nil)
	if logs := h.logs.String(); !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "LOGLET_KAFKA_TLS_INSECURE_SKIP_VERIFY") {
		t.Errorf("no warning at start:\n%s", logs)
	}
	if !h.tls.InsecureSkipVerify {
		t.Error("verification not skipped")
	}
	if quiet := newSink(t, Config{Brokers: []string{"k:9092"}, Security: kafkasec.Security{TLS: true}}, nil); quiet.logs.String() != "" {
		t.Errorf("unexpected logs: %s", quiet.logs)
	}
}
