package kafka_test

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl/scram"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/loglet/loglet/integration/internal/harness"
	"github.com/loglet/loglet/sidecar/testca"
)

// TestSecurity runs loglet against a cluster that requires TLS, SASL
// SCRAM-SHA-256 and ACLs. It works with the right settings; a wrong
// password, an untrusted certificate and a topic without an ACL each give a
// clear error on /status/kafka and in the logs, and lose nothing once fixed.
func TestSecurity(t *testing.T) {
	ca := testca.New(t, "loglet test CA")
	caFile := ca.File(t)
	allowSec := func(op kmsg.ACLOperation) kfake.ACL {
		return kfake.ACL{Resource: kmsg.ACLResourceTypeTopic, Name: "logs.sec-", Pattern: kmsg.ACLResourcePatternTypePrefixed, Operation: op, Allow: true}
	}
	k := harness.StartKafka(t, false, kfake.NumBrokers(2), kfake.TLS(ca.ServerTLS(t)), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("SCRAM-SHA-256", "admin", "admin-pw"),
		kfake.User("SCRAM-SHA-256", "loglet", "s3cret", allowSec(kmsg.ACLOperationWrite), allowSec(kmsg.ACLOperationDescribe)))
	k.Fake(t)
	admin, err := scram.Mechanism(scram.SHA256, "admin", "admin-pw")
	if err != nil {
		t.Fatal(err)
	}
	k.UseCredentials(&tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}, admin)

	secrets := t.TempDir()
	writeSecret := func(name, content string) string {
		path := filepath.Join(secrets, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := writeSecret("password", "s3cret\n")
	otherCA := testca.New(t, "some other CA").File(t)
	secure := func(p *pod, password, caFile string) map[string]string {
		return p.env(k, "LOGLET_KAFKA_TLS=true", "LOGLET_KAFKA_TLS_CA_FILE="+caFile,
			"LOGLET_KAFKA_SASL_MECHANISM=SCRAM-SHA-256", "LOGLET_KAFKA_SASL_USERNAME=loglet", "LOGLET_KAFKA_SASL_PASSWORD_FILE="+password)
	}
	// start writes lines, starts the sidecar and waits for /status/kafka to say
	// what is wrong; nothing may reach the topic meanwhile.
	start := func(t *testing.T, p *pod, env map[string]string, wantErr string) (*harness.Sidecar, int) {
		t.Helper()
		k.CreateTopic(t, p.topic(), 2)
		n := len(p.writeMixed(nil))
		sc := harness.StartSidecar(t, env)
		if wantErr == "" {
			return sc, n
		}
		var body string
		sc.WaitFor(t, 30*time.Second, "/status/kafka reporting "+wantErr, func() bool {
			var status int
			status, body = sc.Get("/status/kafka")
			return status == 503 && strings.Contains(body, wantErr)
		})
		t.Logf("/status/kafka: %s", body)
		if !strings.Contains(body, p.topic()) {
			t.Errorf("/status/kafka does not name the topic:\n%s", body)
		}
		if logs := sc.Output(); !strings.Contains(logs, `"level":"ERROR"`) || !strings.Contains(logs, p.topic()) || !strings.Contains(logs, wantErr) {
			t.Errorf("no error log naming the topic and %q:\n%s", wantErr, logs)
		}
		if logs := sc.Output(); strings.Contains(logs, "s3cret") || strings.Contains(logs, "wrong-password") {
			t.Errorf("a password is in the logs:\n%s", logs)
		}
		if n := k.Count(t, p.topic()); n != 0 {
			t.Errorf("%d records reached the topic", n)
		}
		return sc, n
	}
	// delivered waits until the n records are in the topic and
	// /status/kafka passes.
	delivered := func(t *testing.T, sc *harness.Sidecar, p *pod, n int) {
		t.Helper()
		sc.WaitFor(t, 30*time.Second, "every record in the topic", func() bool { return k.Count(t, p.topic()) >= int64(n) })
		sc.WaitFor(t, 30*time.Second, "/status/kafka 200", func() bool { s, _ := sc.Get("/status/kafka"); return s == 200 })
		if got := len(k.Read(t, p.topic(), n, 10*time.Second)); got != n {
			t.Errorf("%d records in the topic, want %d", got, n)
		}
	}

	t.Run("works", func(t *testing.T) {
		p := newPod(t, "web-1", uniq("sec-ok"), nil)
		sc, n := start(t, p, secure(p, good, caFile), "")
		delivered(t, sc, p, n)
	})
	t.Run("wrong password, then the Secret is fixed", func(t *testing.T) {
		p := newPod(t, "web-1", uniq("sec-pw"), nil)
		pw := writeSecret("rotated", "wrong-password\n")
		sc, n := start(t, p, secure(p, pw, caFile), "authentication")
		writeSecret("rotated", "s3cret\n") // the kubelet updates the mounted Secret; no restart
		delivered(t, sc, p, n)
	})
	t.Run("untrusted certificate, then the CA is fixed", func(t *testing.T) {
		p := newPod(t, "web-1", uniq("sec-ca"), nil)
		sc, n := start(t, p, secure(p, good, otherCA), "tls")
		stopAt := time.Now()
		if code, err := sc.Stop(30 * time.Second); err != nil || code != 0 {
			t.Fatalf("stop while Kafka is unreachable: exit %d, %v", code, err)
		}
		// LOGLET_SHUTDOWN_TIMEOUT is 10s: the wait for acknowledgements
		// must give up then, keeping the checkpoint where it was.
		if d := time.Since(stopAt); d > 13*time.Second {
			t.Errorf("stop took %s with a 10s shutdown timeout", d)
		}
		sc = harness.StartSidecar(t, secure(p, good, caFile))
		delivered(t, sc, p, n)
	})
	t.Run("no ACL for the topic, then one is granted", func(t *testing.T) {
		p := newPod(t, "web-1", uniq("other"), nil)
		sc, n := start(t, p, secure(p, good, caFile), "authorization")
		res, err := k.Client().CreateACLs(context.Background(), &kafka.CreateACLsRequest{ACLs: []kafka.ACLEntry{
			{ResourceType: kafka.ResourceTypeTopic, ResourceName: p.topic(), ResourcePatternType: kafka.PatternTypeLiteral,
				Principal: "User:loglet", Host: "*", Operation: kafka.ACLOperationTypeWrite, PermissionType: kafka.ACLPermissionTypeAllow},
			{ResourceType: kafka.ResourceTypeTopic, ResourceName: p.topic(), ResourcePatternType: kafka.PatternTypeLiteral,
				Principal: "User:loglet", Host: "*", Operation: kafka.ACLOperationTypeDescribe, PermissionType: kafka.ACLPermissionTypeAllow},
		}})
		if err != nil {
			t.Fatal(err)
		}
		for _, err := range res.Errors {
			if err != nil {
				t.Fatal(err)
			}
		}
		delivered(t, sc, p, n)
	})
}
