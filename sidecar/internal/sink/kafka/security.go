package kafka

import (
	"crypto/tls"

	"github.com/loglet/loglet/sidecar/kafkasec"
)

// envPrefix is the prefix of the Kafka output's variables, which every
// error names.
const envPrefix = "LOGLET_KAFKA_"

// The SASL mechanisms LOGLET_KAFKA_SASL_MECHANISM accepts.
const (
	saslPlain    = kafkasec.PLAIN
	saslSCRAM256 = kafkasec.SCRAMSHA256
	saslSCRAM512 = kafkasec.SCRAMSHA512
)

// tlsConfig builds the TLS client configuration, or returns nil when TLS is
// off; see [kafkasec.Security.TLSConfig].
func (c *Config) tlsConfig() (*tls.Config, error) {
	return c.Security.TLSConfig(envPrefix)
}

// saslMechanism returns the SASL mechanism, or nil when SASL is off; see
// [kafkasec.Security.Mechanism].
func (c *Config) saslMechanism() (*fileMechanism, error) {
	m, err := c.Security.Mechanism(envPrefix)
	if m == nil || err != nil {
		return nil, err
	}
	return &fileMechanism{Mechanism: m, name: m.Name(), user: m.User()}, nil
}

// fileMechanism is the sink's view of a [kafkasec.Mechanism].
type fileMechanism struct {
	*kafkasec.Mechanism
	name, user string
}

// interrupted reports whether an exchange was started and not finished
// since the last reset.
func (m *fileMechanism) interrupted() bool { return m.Interrupted() }

// reset forgets the exchanges started so far: a request just succeeded.
func (m *fileMechanism) reset() { m.Reset() }
