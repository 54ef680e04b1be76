package main

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/loglet/loglet/sidecar/kafkasec"
)

func TestLoadConfig(t *testing.T) {
	got, err := loadConfig(map[string]string{
		"ALERT_WEBHOOK_URL":   "https://hooks.slack.com/services/T0/B0/x",
		"ALERT_KAFKA_BROKERS": "k1:9092,k2:9092",
		"ALERT_POD_BURST":     "2",
		"ALERT_RETRY_MAX":     "5m",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := config{
		WebhookURL: "https://hooks.slack.com/services/T0/B0/x", Brokers: []string{"k1:9092", "k2:9092"},
		Topics: `^logs\.`, GroupID: "loglet-alerter", StartAt: "beginning", TopicRefresh: 30 * time.Second,
		PodBurst: 2, PodInterval: time.Minute, RetryMin: time.Second, RetryMax: 5 * time.Minute, HTTPTimeout: 10 * time.Second,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("loadConfig (-want +got):\n%s", diff)
	}
}

// TestLoadConfigSecurity: the alerter reads the sidecar's TLS and SASL
// settings (package kafkasec) under its own prefix, ALERT_KAFKA_.
func TestLoadConfigSecurity(t *testing.T) {
	got, err := loadConfig(map[string]string{
		"ALERT_WEBHOOK_URL": "http://hook", "ALERT_KAFKA_BROKERS": "k:9093",
		"ALERT_KAFKA_TLS": "true", "ALERT_KAFKA_TLS_CA_FILE": "/etc/kafka/ca.crt", "ALERT_KAFKA_TLS_SERVER_NAME": "kafka",
		"ALERT_KAFKA_TLS_CERT_FILE": "/etc/kafka/tls.crt", "ALERT_KAFKA_TLS_KEY_FILE": "/etc/kafka/tls.key",
		"ALERT_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "ALERT_KAFKA_SASL_USERNAME": "alerter",
		"ALERT_KAFKA_SASL_PASSWORD_FILE": "/etc/kafka/password",
		"LOGLET_KAFKA_TLS":               "false", // the sidecar's variables are not the alerter's
	})
	if err != nil {
		t.Fatal(err)
	}
	want := kafkasec.Security{TLS: true, TLSCAFile: "/etc/kafka/ca.crt", TLSCertFile: "/etc/kafka/tls.crt", TLSKeyFile: "/etc/kafka/tls.key",
		TLSServerName: "kafka", SASLMechanism: "SCRAM-SHA-512", SASLUsername: "alerter", SASLPasswordFile: "/etc/kafka/password"}
	if diff := cmp.Diff(want, got.Security); diff != "" {
		t.Errorf("Security (-want +got):\n%s", diff)
	}
}

// TestUsageListsEveryVariable: -h and the package doc name every variable
// the alerter reads, the shared security ones included.
func TestUsageListsEveryVariable(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var walk func(reflect.Type, string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type, prefix+f.Tag.Get("envPrefix"))
			} else if name := f.Tag.Get("env"); name != "" {
				names = append(names, prefix+name)
			}
		}
	}
	walk(reflect.TypeFor[config](), "")
	for _, name := range names {
		if !strings.Contains(usage, "  "+name+" ") {
			t.Errorf("usage lacks %s", name)
		}
		if !strings.Contains(string(doc), "//\t"+name+" ") {
			t.Errorf("doc.go lacks %s", name)
		}
	}
	if len(names) < 20 {
		t.Errorf("only %d variables found: %v", len(names), names)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	ok := map[string]string{"ALERT_WEBHOOK_URL": "http://hook", "ALERT_KAFKA_BROKERS": "k:9092"}
	tests := []struct {
		name, key, value string
		want             string
	}{
		{"no webhook", "ALERT_WEBHOOK_URL", "", "ALERT_WEBHOOK_URL is required"},
		{"webhook not a URL", "ALERT_WEBHOOK_URL", "hooks.slack.com/x", `ALERT_WEBHOOK_URL "hooks.slack.com/x" is not an http(s) URL`},
		{"no brokers", "ALERT_KAFKA_BROKERS", "", "ALERT_KAFKA_BROKERS is required"},
		{"bad pattern", "ALERT_TOPICS", "logs.(", "ALERT_TOPICS: error parsing regexp"},
		{"bad start", "ALERT_START_AT", "latest", `ALERT_START_AT "latest": want beginning or end`},
		{"bad duration", "ALERT_RETRY_MIN", "soon", `ALERT_RETRY_MIN`},
		{"negative", "ALERT_POD_INTERVAL", "-1s", "ALERT_POD_INTERVAL -1s: want a positive duration"},
		{"retry max below min", "ALERT_RETRY_MAX", "10ms", "ALERT_RETRY_MAX 10ms is below ALERT_RETRY_MIN 1s"},
		{"negative burst", "ALERT_POD_BURST", "-3", "ALERT_POD_BURST -3: want a positive number"},
		{"tls not a boolean", "ALERT_KAFKA_TLS", "yes", "ALERT_KAFKA_TLS: "},
		{"tls option without tls", "ALERT_KAFKA_TLS_CA_FILE", "/ca.pem", "ALERT_KAFKA_TLS_CA_FILE: is set but ALERT_KAFKA_TLS is not true"},
		{"sasl without user", "ALERT_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512", "ALERT_KAFKA_SASL_USERNAME: required with ALERT_KAFKA_SASL_MECHANISM=SCRAM-SHA-512"},
		{"sasl unknown", "ALERT_KAFKA_SASL_MECHANISM", "GSSAPI", `ALERT_KAFKA_SASL_MECHANISM: "GSSAPI"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			environ := map[string]string{}
			for k, v := range ok {
				environ[k] = v
			}
			environ[tt.key] = tt.value
			_, err := loadConfig(environ)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("loadConfig with %s=%q: %v, want an error containing %q", tt.key, tt.value, err, tt.want)
			}
		})
	}
}
