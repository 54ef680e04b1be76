package kafka

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loglet/loglet/sidecar/internal/podinfo"
	"github.com/loglet/loglet/sidecar/kafkasec"
)

func TestValidate(t *testing.T) {
	ok := Config{Brokers: []string{"k1:9092", " k2:9093 "}}
	tests := []struct {
		name string
		edit func(*Config)
		want []string // substrings of the error, one per problem; nil: valid
	}{
		{"defaults", func(*Config) {}, nil},
		{"full", func(c *Config) {
			*c = Config{Brokers: []string{"k:9092"}, Topic: "logs.{namespace}.{label:team}", Key: "{pod}", Compression: "zstd", Acks: "one", BatchBytes: 10, Linger: 0, MaxMessageBytes: 4096, Security: kafkasec.Security{TLS: true, TLSCAFile: "ca.pem", TLSCertFile: "c.pem", TLSKeyFile: "k.pem", SASLMechanism: "SCRAM-SHA-512", SASLUsername: "u", SASLPasswordFile: "/pw"}}
		}, nil},
		{"no brokers", func(c *Config) { c.Brokers = []string{" ", ""} }, []string{"LOGLET_KAFKA_BROKERS: required"}},
		{"bad broker", func(c *Config) { c.Brokers = []string{"k1", "k2:0", ":9092"} },
			[]string{`LOGLET_KAFKA_BROKERS: "k1" is not host:port`, `LOGLET_KAFKA_BROKERS: "k2:0": bad port`, `LOGLET_KAFKA_BROKERS: ":9092" is not host:port`}},
		{"bad templates", func(c *Config) { c.Topic, c.Key = "logs.{ns}", "{pod" },
			[]string{"LOGLET_KAFKA_TOPIC: bad template", "LOGLET_KAFKA_KEY: bad template"}},
		{"codec and acks", func(c *Config) { c.Compression, c.Acks = "brotli", "none" },
			[]string{`LOGLET_KAFKA_COMPRESSION: "brotli"`, `LOGLET_KAFKA_ACKS: "none": want all or one`}},
		{"otlp_proto", func(c *Config) { c.Encoding = "otlp_proto" }, nil},
		{"otlp_json", func(c *Config) { c.Encoding = "otlp_json" }, nil},
		{"encoding unknown", func(c *Config) { c.Encoding = "otlp" },
			[]string{`LOGLET_KAFKA_ENCODING: "otlp": want json, otlp_json or otlp_proto`}},
		{"sizes", func(c *Config) { c.BatchBytes, c.Linger, c.MaxMessageBytes = -1, -1, 100 },
			[]string{"LOGLET_KAFKA_BATCH_BYTES", "LOGLET_KAFKA_LINGER", "LOGLET_KAFKA_MAX_MESSAGE_BYTES: 100: must be at least 1024"}},
		{"read-back bounds", func(c *Config) { c.ReadBackMaxBytes, c.ReadBackTimeout = -1, -time.Second },
			[]string{"LOGLET_KAFKA_READBACK_MAX_BYTES: -1: must not be negative", "LOGLET_KAFKA_READBACK_TIMEOUT: -1s: must not be negative"}},
		{"tls options without tls", func(c *Config) { c.TLSCAFile, c.TLSInsecureSkipVerify = "ca.pem", true },
			[]string{"LOGLET_KAFKA_TLS_CA_FILE: is set but LOGLET_KAFKA_TLS is not true", "LOGLET_KAFKA_TLS_INSECURE_SKIP_VERIFY: is set"}},
		{"cert without key", func(c *Config) { c.TLS, c.TLSCertFile = true, "c.pem" },
			[]string{"LOGLET_KAFKA_TLS_KEY_FILE: required when LOGLET_KAFKA_TLS_CERT_FILE is set"}},
		{"sasl incomplete", func(c *Config) { c.SASLMechanism = "PLAIN" },
			[]string{"LOGLET_KAFKA_SASL_USERNAME: required", "LOGLET_KAFKA_SASL_PASSWORD_FILE: required"}},
		{"sasl unknown", func(c *Config) { c.SASLMechanism = "GSSAPI" }, []string{`LOGLET_KAFKA_SASL_MECHANISM: "GSSAPI"`}},
		{"sasl user without mechanism", func(c *Config) { c.SASLUsername, c.SASLPasswordFile = "u", "/pw" },
			[]string{"LOGLET_KAFKA_SASL_USERNAME: is set but", "LOGLET_KAFKA_SASL_PASSWORD_FILE: is set but"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			err := c.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate: no error")
			}
			msg := err.Error()
			if n := strings.Count(msg, "\n") + 1; n != len(tt.want) {
				t.Errorf("got %d problems, want %d:\n%s", n, len(tt.want), msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	var c Config
	if c.topic() != "logs.{namespace}" || c.key() != "{pod}" || c.batchBytes() != 1<<20 || c.maxMessageBytes() != 1<<20 {
		t.Errorf("defaults: %q %q %d %d", c.topic(), c.key(), c.batchBytes(), c.maxMessageBytes())
	}
	if codec, err := c.compression(); err != nil || codec.String() != "lz4" {
		t.Errorf("compression = %v, %v", codec, err)
	}
	if acks, err := c.requiredAcks(); err != nil || acks.String() != "all" {
		t.Errorf("acks = %v, %v", acks, err)
	}
	if enc, err := c.encoding(); err != nil || enc != encodingJSON {
		t.Errorf("encoding = %v, %v", enc, err)
	}
}

// TestCheckReportsEveryProblemAtOnce: what New found one at a time after
// start (the topic expanded for the pod, a CA file with no PEM, a missing
// password file, a bad key pair) Check reports together, each named.
func TestCheckReportsEveryProblemAtOnce(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pw := filepath.Join(dir, "password")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Config{Brokers: []string{"k:9092"}, Security: kafkasec.Security{TLS: true, TLSCAFile: notPEM, TLSCertFile: filepath.Join(dir, "absent.crt"), TLSKeyFile: filepath.Join(dir, "absent.key"), SASLMechanism: "PLAIN", SASLUsername: "u", SASLPasswordFile: filepath.Join(dir, "absent")}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	noNamespace := podinfo.New(podinfo.Env{Name: "web-1"}, nil, nil)
	err := c.Check(noNamespace)
	if err == nil {
		t.Fatal("Check: no error")
	}
	for _, w := range []string{
		`LOGLET_KAFKA_TOPIC: "logs.{namespace}": {namespace} expands to nothing: POD_NAMESPACE is not set`,
		"LOGLET_KAFKA_TLS_CA_FILE: no PEM certificate in " + notPEM,
		"LOGLET_KAFKA_TLS_CERT_FILE and LOGLET_KAFKA_TLS_KEY_FILE:",
		"LOGLET_KAFKA_SASL_PASSWORD_FILE:",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Check error lacks %q:\n%v", w, err)
		}
	}
	c.TLSCAFile, c.TLSCertFile, c.TLSKeyFile, c.SASLPasswordFile = "", "", "", pw
	if err := c.Check(podinfo.New(podinfo.Env{Name: "web-1", Namespace: "shop"}, nil, nil)); err != nil {
		t.Errorf("Check of a good configuration: %v", err)
	}
}
