package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/loglet/loglet/sidecar/internal/podinfo"
	"github.com/loglet/loglet/sidecar/kafkasec"
	"github.com/loglet/loglet/sidecar/testca"
)

func mustMechanism(t *testing.T, c Config) sasl.Mechanism {
	t.Helper()
	m, err := c.saslMechanism()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTLSAndSCRAM delivers over TLS with SASL SCRAM-SHA-512, then shows a
// wrong password and an untrusted CA each fail with their kind, fail Ready,
// and keep the records.
func TestTLSAndSCRAM(t *testing.T) {
	ca := testca.New(t, "loglet test CA")
	serverTLS := ca.ServerTLS(t)
	c := startKfake(t, kfake.NumBrokers(2), kfake.SeedTopics(2, "logs.shop"), kfake.TLS(serverTLS),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "loglet", "right"))
	dir := t.TempDir()
	caFile := ca.File(t)
	otherCA := testca.New(t, "some other CA").File(t)
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
	got := newConsumer(t, c.ListenAddrs(), &tls.Config{RootCAs: ca.Pool()}, mustMechanism(t, cfg("right", caFile))).
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

// TestMutualTLS: a broker that requires client certificates accepts the one
// in LOGLET_KAFKA_TLS_CERT_FILE/KEY_FILE and refuses a client without one.
func TestMutualTLS(t *testing.T) {
	ca := testca.New(t, "loglet test CA")
	serverTLS := ca.ServerTLS(t)
	serverTLS.ClientCAs, serverTLS.ClientAuth = ca.Pool(), tls.RequireAndVerifyClientCert
	c := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "logs.shop"), kfake.TLS(serverTLS))
	dir := t.TempDir()
	certPEM, keyPEM := testca.PEM(t, ca.Issue(t, "loglet", x509.ExtKeyUsageClientAuth))
	certFile := writeFile(t, dir, "client.pem", string(certPEM))
	keyFile := writeFile(t, dir, "client-key.pem", string(keyPEM))
	caFile := ca.File(t)

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
