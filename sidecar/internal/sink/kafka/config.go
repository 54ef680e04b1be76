package kafka

import "time"

// Config is the Kafka output's configuration. The sidecar reads it from the
// environment with the prefix LOGLET_KAFKA_ (so Brokers is
// LOGLET_KAFKA_BROKERS). Each field's default is in its envDefault tag and its
// help text in its help tag, which `loglet -h` prints.
type Config struct {
	Brokers         []string      `env:"BROKERS" envSeparator:"," help:"comma-separated bootstrap brokers, host:port (required for LOGLET_SINK=kafka)"`
	Topic           string        `env:"TOPIC" envDefault:"logs.{namespace}" help:"topic template: {namespace} {pod} {container} {node} {label:KEY} {annotation:KEY}"`
	Key             string        `env:"KEY" envDefault:"{pod}" help:"message key template (same placeholders as the topic)"`
	Compression     string        `env:"COMPRESSION" envDefault:"lz4" help:"none | gzip | snappy | lz4 | zstd"`
	Acks            string        `env:"ACKS" envDefault:"all" help:"all | one: broker acknowledgement required before a record counts as delivered"`
	BatchBytes      int           `env:"BATCH_BYTES" envDefault:"1048576" help:"largest produce batch in bytes"`
	Linger          time.Duration `env:"LINGER" envDefault:"20ms" help:"how long to wait for a batch to fill before sending it"`
	MaxMessageBytes int           `env:"MAX_MESSAGE_BYTES" envDefault:"1048576" help:"a record larger than this is shortened (message cut, marked truncated)"`

	TLS                   bool   `env:"TLS" help:"connect with TLS"`
	TLSCAFile             string `env:"TLS_CA_FILE" help:"PEM file of CAs to trust instead of the system roots"`
	TLSCertFile           string `env:"TLS_CERT_FILE" help:"client certificate (PEM) for mutual TLS"`
	TLSKeyFile            string `env:"TLS_KEY_FILE" help:"client key (PEM) for mutual TLS"`
	TLSServerName         string `env:"TLS_SERVER_NAME" help:"server name to verify, when it differs from the broker host"`
	TLSInsecureSkipVerify bool   `env:"TLS_INSECURE_SKIP_VERIFY" help:"do not verify the broker's certificate (logs a warning; never in production)"`

	SASLMechanism    string `env:"SASL_MECHANISM" help:"PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512 (empty: no SASL)"`
	SASLUsername     string `env:"SASL_USERNAME" help:"SASL user name"`
	SASLPasswordFile string `env:"SASL_PASSWORD_FILE" help:"file holding the SASL password (for example a mounted Secret)"`
}
