package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/loglet/loglet/sidecar/kafkasec"
	"github.com/loglet/loglet/sidecar/testca"
)

// TestTLSAndSCRAM runs the alerter, configured through its ALERT_KAFKA_TLS_*
// and ALERT_KAFKA_SASL_* variables, against a broker that takes only TLS
// connections authenticated with SCRAM-SHA-512: it reads the records,
// posts the alert and commits, as over plain TCP.
func TestTLSAndSCRAM(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := testca.New(t, "alerter test CA")
	caFile := ca.File(t)
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
	k := startKafkaWith(t, admin, kfake.TLS(ca.ServerTLS(t)),
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
