package kafka

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/loglet/loglet/sidecar/internal/podinfo"
	"github.com/loglet/loglet/sidecar/kafkasec"
)

func mustMechanism(t *testing.T, c Config) sasl.Mechanism {
	t.Helper()
	m, err := c.saslMechanism()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "loglet test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a certificate for 127.0.0.1 and localhost signed by ca.
func (ca *testCA) issue(t *testing.T, usage x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestTLSAndSCRAM delivers over TLS with SASL SCRAM-SHA-512, then shows a
// wrong password and an untrusted CA each fail with their kind, fail Ready,
// and keep the records.
func TestTLSAndSCRAM(t *testing.T) {
	ca := newTestCA(t)
	serverTLS := &tls.Config{Certificates: []tls.Certificate{ca.issue(t, x509.ExtKeyUsageServerAuth)}, MinVersion: tls.VersionTLS12}
	c := startKfake(t, kfake.NumBrokers(2), kfake.SeedTopics(2, "logs.shop"), kfake.TLS(serverTLS),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "loglet", "right"))
	dir := t.TempDir()
	caFile := writeFile(t, dir, "ca.pem", string(ca.pem))
	otherCA := writeFile(t, dir, "other.pem", string(newTestCA(t).pem))
	cfg := func(pw, ca string) Config {
		return Config{Brokers: c.ListenAddrs(), Security: kafkasec.Security{TLS: true, TLSCAFile: ca, SASLMechanism: "SCRAM-SHA-512", SASLUsername: "loglet", SASLPasswordFile: writeFile(t, dir, "pw-"+pw, pw+"\n")}}
	}

	t.Run("works", func(t *testing.T) {
		h := newSink(t, cfg("right", caFile), nil)
		h.run(t)
		b := newBatch("f", 0, seqValues("s", 0, 10)...)
		if err := h.Send(context.Background(), b.Batch); err != nil {
			t.Fatal(err)
		}
		waitAcked(t, b)
		if err := h.Ready(); err != nil {
			t.Errorf("Ready: %v", err)
		}
	})
	for _, tt := range []struct {
		name, pw, ca, kind string
	}{
		{"wrong password", "wrong", caFile, "authentication"},
		{"untrusted certificate", "right", otherCA, "tls"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newSink(t, cfg(tt.pw, tt.ca), nil)
			h.run(t)
			b := newBatch("f", 0, seqValues("s", 10, 10)...)
			if err := h.Send(context.Background(), b.Batch); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if t.Failed() {
					t.Log(h.logs)
				}
			})
			eventually(t, 10*time.Second, tt.kind+" error", func() bool {
				return h.metric(t, "loglet_kafka_send_errors_total", "kind="+tt.kind) >= 1
			})
			if err := h.Ready(); err == nil || !strings.Contains(err.Error(), "logs.shop: "+tt.kind) {
				t.Errorf("Ready = %v, want the topic and %s", err, tt.kind)
			}
			if strings.Contains(h.logs.String(), "right") || strings.Contains(h.logs.String(), "wrong") {
				t.Errorf("the password is in the logs:\n%s", h.logs)
			}
			if b.acks.Load() != 0 {
				t.Fatal("acknowledged")
			}
		})
	}
	got := newConsumer(t, c.ListenAddrs(), &tls.Config{RootCAs: certPool(ca)}, mustMechanism(t, cfg("right", caFile))).
		read(t, "logs.shop", 10)
	if diff := cmp.Diff(seqValues("s", 0, 10), values(got)); diff != "" {
		t.Fatalf("records (-want +got):\n%s", diff)
	}
}

// TestACLDenied uses real ACLs: the user may write logs.shop only, so a pod
// in another namespace gets an authorization error naming its topic.
func TestACLDenied(t *testing.T) {
	acl := func(op kmsg.ACLOperation) kfake.ACL {
		return kfake.ACL{Resource: kmsg.ACLResourceTypeTopic, Name: "logs.shop", Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: op, Allow: true}
	}
	c := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "logs.shop", "logs.bank"), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("PLAIN", "admin", "admin"),
		kfake.User("PLAIN", "shop", "pw", acl(kmsg.ACLOperationWrite), acl(kmsg.ACLOperationDescribe)))
	pw := writeFile(t, t.TempDir(), "pw", "pw")
	cfg := Config{Brokers: c.ListenAddrs(), Security: kafkasec.Security{SASLMechanism: "PLAIN", SASLUsername: "shop", SASLPasswordFile: pw}}

	h := newSink(t, cfg, nil)
	h.run(t)
	ok := newBatch("f", 0, seqValues("ok", 0, 3)...)
	if err := h.Send(context.Background(), ok.Batch); err != nil {
		t.Fatal(err)
	}
	waitAcked(t, ok)

	bank := podinfo.New(podinfo.Env{Name: "teller-1", Namespace: "bank"}, nil, nil)
	hb := newSink(t, cfg, func() *podinfo.Pod { return bank })
	hb.run(t)
	denied := newBatch("f", 0, seqValues("no", 0, 3)...)
	if err := hb.Send(context.Background(), denied.Batch); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "authorization error", func() bool {
		return hb.metric(t, "loglet_kafka_send_errors_total", "kind=authorization") >= 1
	})
	if err := hb.Ready(); err == nil || !strings.Contains(err.Error(), "topic logs.bank: authorization") {
		t.Errorf("Ready = %v", err)
	}
	if denied.acks.Load() != 0 {
		t.Fatal("acknowledged a denied batch")
	}
}

func certPool(ca *testCA) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// TestMutualTLS: a broker that requires client certificates accepts the one
// in LOGLET_KAFKA_TLS_CERT_FILE/KEY_FILE and refuses a client without one.
func TestMutualTLS(t *testing.T) {
	ca := newTestCA(t)
	serverTLS := &tls.Config{Certificates: []tls.Certificate{ca.issue(t, x509.ExtKeyUsageServerAuth)}, MinVersion: tls.VersionTLS12,
		ClientCAs: certPool(ca), ClientAuth: tls.RequireAndVerifyClientCert}
	c := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "logs.shop"), kfake.TLS(serverTLS))
	dir := t.TempDir()
	client := ca.issue(t, x509.ExtKeyUsageClientAuth)
	keyDER, err := x509.MarshalECPrivateKey(client.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	certFile := writeFile(t, dir, "client.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: client.Certificate[0]})))
	keyFile := writeFile(t, dir, "client-key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})))
	caFile := writeFile(t, dir, "ca.pem", string(ca.pem))

	h := newSink(t, Config{Brokers: c.ListenAddrs(), Security: kafkasec.Security{TLS: true, TLSCAFile: caFile, TLSCertFile: certFile, TLSKeyFile: keyFile}}, nil)
	h.run(t)
	b := newBatch("f", 0, seqValues("m", 0, 5)...)
	if err := h.Send(context.Background(), b.Batch); err != nil {
		t.Fatal(err)
	}
	waitAcked(t, b)

	anon := newSink(t, Config{Brokers: c.ListenAddrs(), Security: kafkasec.Security{TLS: true, TLSCAFile: caFile}}, nil)
	anon.run(t)
	eventually(t, 10*time.Second, "a refused handshake", func() bool {
		return anon.metric(t, "loglet_kafka_send_errors_total", "kind=tls") >= 1
	})
	if err := anon.Ready(); err == nil || !strings.Contains(err.Error(), "topic logs.shop: tls: ") {
		t.Errorf("Ready = %v, want a tls error", err)
	}
}
