package kafka

import (
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/loglet/loglet/sidecar/bytesize"
	"github.com/loglet/loglet/sidecar/internal/podinfo"
	"github.com/loglet/loglet/sidecar/kafkasec"
)

// Config is the Kafka output's configuration. The sidecar reads it from the
// environment with the prefix LOGLET_KAFKA_ (so Brokers is
// LOGLET_KAFKA_BROKERS). Each field's default is in its envDefault tag and its
// help text in its help tag, which `loglet -h` prints. A zero field means its
// default (so a zero Config with Brokers set is valid), except Linger, where
// zero means no waiting, and ReadBack, where false (the zero value) turns
// read-back off; the sidecar's default, from the tag, is true.
type Config struct {
	Brokers         []string      `env:"BROKERS" envSeparator:"," help:"comma-separated bootstrap brokers, host:port (required for LOGLET_SINK=kafka)"`
	Topic           string        `env:"TOPIC" envDefault:"logs.{namespace}" help:"topic template: {namespace} {pod} {container} {node} {label:KEY} {annotation:KEY}"`
	Key             string        `env:"KEY" envDefault:"{pod}" help:"message key template (same placeholders as the topic)"`
	Compression     string        `env:"COMPRESSION" envDefault:"lz4" help:"none | gzip | snappy | lz4 | zstd"`
	Encoding        string        `env:"ENCODING" envDefault:"json" help:"json | otlp_json | otlp_proto: a message's value is loglet's JSON record, or one OTLP ExportLogsServiceRequest (the OpenTelemetry Collector kafkareceiver's encodings)"`
	Acks            string        `env:"ACKS" envDefault:"all" help:"all | one: broker acknowledgement required before a record counts as delivered"`
	BatchBytes      bytesize.Size `env:"BATCH_BYTES" envDefault:"1MiB" help:"largest produce batch (a size: 1048576, 512KiB, 1MiB, 1MB)"`
	Linger          time.Duration `env:"LINGER" envDefault:"20ms" help:"how long to wait for a batch to fill before sending it; a batch read up to the end of its file is sent at once"`
	MaxMessageBytes bytesize.Size `env:"MAX_MESSAGE_BYTES" envDefault:"1MiB" help:"a record larger than this is shortened (message cut, marked truncated); a size"`

	// Security is TLS and SASL: LOGLET_KAFKA_TLS_* and LOGLET_KAFKA_SASL_*,
	// shared with the example alerter.
	kafkasec.Security

	ReadBack         bool          `env:"READBACK" envDefault:"true" help:"true | false: before re-sending records whose delivery is unknown (after a crash, or a produce answer lost), read back what Kafka already has and skip it; needs READ and DESCRIBE on the topic"`
	ReadBackMaxBytes bytesize.Size `env:"READBACK_MAX_BYTES" envDefault:"4MiB" help:"most bytes one read-back fetches; past it the files concerned are re-sent at least once (a size)"`
	ReadBackTimeout  time.Duration `env:"READBACK_TIMEOUT" envDefault:"5s" help:"longest time one read-back takes; past it the files concerned are re-sent at least once"`
}

// MinMaxMessageBytes is the smallest accepted MaxMessageBytes: below it a
// shortened record could not even hold its metadata.
const MinMaxMessageBytes = 1024

// Validate checks the configuration without touching the network or the
// file system. It returns every problem at once, each naming its
// LOGLET_KAFKA_ variable. Brokers are required: call Validate only when the
// Kafka output is selected.
func (c *Config) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("LOGLET_KAFKA_"+name+": "+format, args...))
	}

	if len(c.brokers()) == 0 {
		bad("BROKERS", "required: set it to the bootstrap brokers, host:port[,host:port...]")
	}
	for _, b := range c.brokers() {
		host, port, err := net.SplitHostPort(b)
		if err != nil || host == "" {
			bad("BROKERS", "%q is not host:port", b)
			continue
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			bad("BROKERS", "%q: bad port %q", b, port)
		}
	}
	if err := checkTemplate(c.topic()); err != nil {
		bad("TOPIC", "%v", err)
	}
	if err := checkTemplate(c.key()); err != nil {
		bad("KEY", "%v", err)
	}
	if _, err := c.compression(); err != nil {
		bad("COMPRESSION", "%v", err)
	}
	if _, err := c.requiredAcks(); err != nil {
		bad("ACKS", "%v", err)
	}
	if _, err := c.encoding(); err != nil {
		bad("ENCODING", "%v", err)
	}
	if c.BatchBytes > math.MaxInt32 {
		bad("BATCH_BYTES", "%s: must be below 2GiB (Kafka's limit)", c.BatchBytes)
	}
	if c.MaxMessageBytes > math.MaxInt32 {
		bad("MAX_MESSAGE_BYTES", "%s: must be below 2GiB (Kafka's limit)", c.MaxMessageBytes)
	}
	if c.BatchBytes < 0 {
		bad("BATCH_BYTES", "%d: must be positive", int64(c.BatchBytes))
	}
	if c.Linger < 0 {
		bad("LINGER", "%s: must not be negative", c.Linger)
	}
	if c.ReadBackMaxBytes < 0 {
		bad("READBACK_MAX_BYTES", "%d: must not be negative", int64(c.ReadBackMaxBytes))
	}
	if c.ReadBackTimeout < 0 {
		bad("READBACK_TIMEOUT", "%s: must not be negative", c.ReadBackTimeout)
	}
	if c.MaxMessageBytes != 0 && c.MaxMessageBytes < MinMaxMessageBytes {
		bad("MAX_MESSAGE_BYTES", "%s: must be at least %d", c.MaxMessageBytes, MinMaxMessageBytes)
	}

	if err := c.Security.Validate(envPrefix); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Check does the checks [Config.Validate] cannot do without the pod and the
// file system, so that they fail at start rather than later: the topic and
// key templates expanded for pod (a placeholder expanding to nothing is an
// error, see [podinfo.Pod.ExpandStrict], and the topic must be a legal
// name), the SASL password file readable and not empty, the CA file holding
// a PEM certificate, and the client key pair loadable. It returns every
// problem at once, each naming its variable. Call it after Validate
// succeeded.
func (c *Config) Check(pod *podinfo.Pod) error {
	var errs []error
	if _, err := newRoute(pod, c.topic(), c.key()); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.tlsConfig(); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.saslMechanism(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// brokers returns Brokers with blanks trimmed and empty entries dropped.
func (c *Config) brokers() []string {
	var out []string
	for _, b := range c.Brokers {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// Defaults of the fields whose zero value means "default".
const (
	defaultTopic           = "logs.{namespace}"
	defaultKey             = "{pod}"
	defaultCompression     = "lz4"
	defaultBatchBytes      = 1 << 20
	defaultMaxMessageBytes = 1 << 20
	defaultReadBackBytes   = 4 << 20
	defaultReadBackTimeout = 5 * time.Second
)

func (c *Config) readBackBytes() int64 {
	if c.ReadBackMaxBytes <= 0 {
		return defaultReadBackBytes
	}
	return int64(c.ReadBackMaxBytes)
}

func (c *Config) readBackTimeout() time.Duration {
	if c.ReadBackTimeout <= 0 {
		return defaultReadBackTimeout
	}
	return c.ReadBackTimeout
}

func (c *Config) topic() string {
	if c.Topic == "" {
		return defaultTopic
	}
	return c.Topic
}

func (c *Config) key() string {
	if c.Key == "" {
		return defaultKey
	}
	return c.Key
}

func (c *Config) batchBytes() int {
	if c.BatchBytes <= 0 || c.BatchBytes > math.MaxInt32 {
		return defaultBatchBytes
	}
	return int(c.BatchBytes)
}

func (c *Config) maxMessageBytes() int {
	if c.MaxMessageBytes <= 0 || c.MaxMessageBytes > math.MaxInt32 {
		return defaultMaxMessageBytes
	}
	return int(c.MaxMessageBytes)
}

func (c *Config) compression() (kafka.Compression, error) {
	name := c.Compression
	if name == "" {
		name = defaultCompression
	}
	switch name {
	case "none":
		return 0, nil
	case "gzip":
		return kafka.Gzip, nil
	case "snappy":
		return kafka.Snappy, nil
	case "lz4":
		return kafka.Lz4, nil
	case "zstd":
		return kafka.Zstd, nil
	}
	return 0, fmt.Errorf("%q: want none, gzip, snappy, lz4 or zstd", c.Compression)
}

// encoding returns the record encoding Encoding names.
func (c *Config) encoding() (encoding, error) {
	switch c.Encoding {
	case "json", "":
		return encodingJSON, nil
	case "otlp_json":
		return encodingOTLPJSON, nil
	case "otlp_proto":
		return encodingOTLPProto, nil
	}
	return 0, fmt.Errorf("%q: want json, otlp_json or otlp_proto", c.Encoding)
}

func (c *Config) requiredAcks() (kafka.RequiredAcks, error) {
	switch c.Acks {
	case "all", "":
		return kafka.RequireAll, nil
	case "one", "1":
		return kafka.RequireOne, nil
	}
	return 0, fmt.Errorf("%q: want all or one", c.Acks)
}

// checkTemplate reports a placeholder error in tmpl by expanding it for an
// empty pod: only the syntax and the placeholder names are checked here; the
// expanded topic is checked against the real pod by New.
func checkTemplate(tmpl string) error {
	_, err := podinfo.New(podinfo.Env{}, nil, nil).Expand(tmpl)
	return err
}
