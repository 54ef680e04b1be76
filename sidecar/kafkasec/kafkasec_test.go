package kafkasec

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadPassword(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ content, want string }{
		{"s3cret", "s3cret"}, {"s3cret\n", "s3cret"}, {"s3cret\r\n", "s3cret"}, {" pad \n", " pad "},
	} {
		got, err := readPassword(writeFile(t, dir, "pw", tt.content))
		if err != nil || got != tt.want {
			t.Errorf("readPassword(%q) = %q, %v; want %q", tt.content, got, err, tt.want)
		}
	}
	if _, err := readPassword(writeFile(t, dir, "empty", "\n")); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty file: %v", err)
	}
	if _, err := readPassword(filepath.Join(dir, "absent")); err == nil {
		t.Error("missing file: no error")
	}
}

// TestValidateNamesTheCallersVariables: every problem names its variable
// with the prefix the caller reads it under, so the alerter's errors say
// ALERT_KAFKA_ where the sidecar's say LOGLET_KAFKA_.
func TestValidateNamesTheCallersVariables(t *testing.T) {
	tests := []struct {
		name string
		s    Security
		want []string
	}{
		{"plain", Security{}, nil},
		{"full", Security{TLS: true, TLSCAFile: "ca", TLSCertFile: "c", TLSKeyFile: "k", TLSServerName: "kafka", SASLMechanism: SCRAMSHA512, SASLUsername: "u", SASLPasswordFile: "/pw"}, nil},
		{"tls options without tls", Security{TLSCAFile: "ca", TLSInsecureSkipVerify: true}, []string{
			"ALERT_KAFKA_TLS_CA_FILE: is set but ALERT_KAFKA_TLS is not true",
			"ALERT_KAFKA_TLS_INSECURE_SKIP_VERIFY: is set but ALERT_KAFKA_TLS is not true"}},
		{"key without cert", Security{TLS: true, TLSKeyFile: "k"}, []string{"ALERT_KAFKA_TLS_CERT_FILE: required when ALERT_KAFKA_TLS_KEY_FILE is set"}},
		{"sasl incomplete", Security{SASLMechanism: PLAIN}, []string{
			"ALERT_KAFKA_SASL_USERNAME: required with ALERT_KAFKA_SASL_MECHANISM=PLAIN",
			"ALERT_KAFKA_SASL_PASSWORD_FILE: required with ALERT_KAFKA_SASL_MECHANISM=PLAIN"}},
		{"sasl unknown", Security{SASLMechanism: "GSSAPI"}, []string{`ALERT_KAFKA_SASL_MECHANISM: "GSSAPI": want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512`}},
		{"user without mechanism", Security{SASLUsername: "u"}, []string{"ALERT_KAFKA_SASL_USERNAME: is set but ALERT_KAFKA_SASL_MECHANISM is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			if err := tt.s.Validate("ALERT_KAFKA_"); err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClientReportsEveryFileProblem(t *testing.T) {
	dir := t.TempDir()
	notPEM := writeFile(t, dir, "ca.pem", "not a certificate")
	s := Security{TLS: true, TLSCAFile: notPEM, TLSCertFile: notPEM, TLSKeyFile: notPEM,
		SASLMechanism: SCRAMSHA256, SASLUsername: "u", SASLPasswordFile: filepath.Join(dir, "absent")}
	_, err := s.Client("ALERT_KAFKA_")
	if err == nil {
		t.Fatal("no error")
	}
	var got []string
	for _, line := range strings.Split(err.Error(), "\n") {
		name, _, _ := strings.Cut(line, ":")
		got = append(got, name)
	}
	want := []string{"ALERT_KAFKA_TLS_CA_FILE", "ALERT_KAFKA_TLS_CERT_FILE and ALERT_KAFKA_TLS_KEY_FILE", "ALERT_KAFKA_SASL_PASSWORD_FILE"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("variables named (-want +got):\n%s\n%v", diff, err)
	}
	if c, err := (&Security{}).Client("X_"); err != nil || c.TLS != nil || c.SASL != nil {
		t.Errorf("plaintext: %+v, %v", c, err)
	}
}

// TestDialerAndTransportCarryBoth: what a kafka.Reader and a kafka.Client
// get from Client uses the TLS configuration and the mechanism, which reads
// the password file at each exchange.
func TestDialerAndTransportCarryBoth(t *testing.T) {
	dir := t.TempDir()
	pw := writeFile(t, dir, "pw", "hunter2\n")
	s := Security{TLS: true, TLSServerName: "kafka.example", SASLMechanism: SCRAMSHA512, SASLUsername: "alerter", SASLPasswordFile: pw}
	c, err := s.Client("ALERT_KAFKA_")
	if err != nil {
		t.Fatal(err)
	}
	d, tr := c.Dialer(), c.Transport("loglet-alerter")
	if d.TLS == nil || d.TLS.ServerName != "kafka.example" || tr.TLS != d.TLS {
		t.Errorf("TLS not applied: dialer %v, transport %v", d.TLS, tr.TLS)
	}
	if d.SASLMechanism != c.SASL || tr.SASL != c.SASL || c.SASL.Name() != SCRAMSHA512 || c.SASL.User() != "alerter" {
		t.Errorf("SASL not applied: dialer %v, transport %v", d.SASLMechanism, tr.SASL)
	}
	if tr.ClientID != "loglet-alerter" {
		t.Errorf("ClientID = %q", tr.ClientID)
	}
	if _, _, err := c.SASL.Start(context.Background()); err != nil {
		t.Errorf("Start: %v", err)
	}
	if !c.SASL.Interrupted() {
		t.Error("an unfinished exchange is not reported")
	}
	c.SASL.Reset()
	if c.SASL.Interrupted() {
		t.Error("Reset did not forget the exchange")
	}
	if err := os.Remove(pw); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.SASL.Start(context.Background()); err == nil {
		t.Error("Start without the password file succeeded: the password is cached")
	}
	plain, _ := (&Security{}).Client("ALERT_KAFKA_")
	if d := plain.Dialer(); d.TLS != nil || d.SASLMechanism != nil {
		t.Errorf("plaintext dialer has TLS %v, SASL %v", d.TLS, d.SASLMechanism)
	}
}
