package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/loglet/loglet/sidecar/kafkasec"
)

// TestTLSAndSCRAM runs the alerter, configured through its ALERT_KAFKA_TLS_*
// and ALERT_KAFKA_SASL_* variables, against a broker that takes only TLS
// connections authenticated with SCRAM-SHA-512: it reads the records,
// posts the alert and commits, as over plain TCP.
func TestTLSAndSCRAM(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	caFile, serverCert := testCertificates(t, dir)
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pwFile := write("password", "s3cret\n")
	// The test connects as admin with the same package: its own files.
	adminSec := kafkasec.Security{TLS: true, TLSCAFile: caFile,
		SASLMechanism: kafkasec.SCRAMSHA512, SASLUsername: "admin", SASLPasswordFile: write("admin-password", "admin-pw")}
	admin, err := adminSec.Client("TEST_")
	if err != nil {
		t.Fatal(err)
	}
	k := startKafkaWith(t, admin, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12}),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "admin", "admin-pw"), kfake.Superuser("SCRAM-SHA-512", "alerter", "s3cret"))
	k.createTopic("logs.shop", 2)
	k.produce("logs.shop",
		testRecord{pod: "cart-1", level: "info", msg: "started"},
		testRecord{pod: "cart-1", level: "error", msg: "db down"})

	cfg, err := loadConfig(map[string]string{
		"ALERT_WEBHOOK_URL": "http://placeholder", "ALERT_KAFKA_BROKERS": "placeholder:9092",
		"ALERT_KAFKA_TLS": "true", "ALERT_KAFKA_TLS_CA_FILE": caFile,
		"ALERT_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "ALERT_KAFKA_SASL_USERNAME": "alerter",
		"ALERT_KAFKA_SASL_PASSWORD_FILE": pwFile,
	})
	if err != nil {
		t.Fatal(err)
	}
	hook, url := startHook(t)
	stop := runAlerter(t, k, url, cfg, nil)
	eventually(t, "the alert", func() bool { return len(hook.alerts()) >= 1 })
	group := "alerter-" + t.Name()
	eventually(t, "every offset committed", func() bool { return k.allCommitted(group, "logs.shop", 2) })
	stop()
	if diff := cmp.Diff([]string{"cart-1: db down"}, hook.alerts()); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
}

// testCertificates writes a CA's certificate to dir and returns its file
// and a server certificate for 127.0.0.1 and localhost that it signed.
func testCertificates(t *testing.T, dir string) (string, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "alerter test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return caFile, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
