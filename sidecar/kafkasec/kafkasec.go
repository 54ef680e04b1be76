package kafkasec

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// The SASL mechanisms SASL_MECHANISM accepts.
const (
	PLAIN         = "PLAIN"
	SCRAMSHA256   = "SCRAM-SHA-256"
	SCRAMSHA512   = "SCRAM-SHA-512"
	dialTimeout   = 10 * time.Second
	keepAlive     = 30 * time.Second
	minTLSVersion = tls.VersionTLS12
)

// Security is the TLS and SASL part of a Kafka client's configuration. Its
// env tags are relative to the caller's prefix (LOGLET_KAFKA_ for the
// sidecar, so TLS is LOGLET_KAFKA_TLS); its help tags are what `loglet -h`
// prints. The zero Security is a plaintext connection without SASL.
type Security struct {
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

// Validate checks the combination of settings without touching the file
// system: TLS options need TLS, a client certificate needs its key and the
// other way round, a SASL mechanism needs a user and a password file and
// must be one of PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512. It returns every
// problem at once (joined), each naming its variable as prefix+name.
func (s *Security) Validate(prefix string) error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf(prefix+name+": "+format, args...))
	}
	if !s.TLS {
		for _, v := range []struct {
			name string
			set  bool
		}{
			{"TLS_CA_FILE", s.TLSCAFile != ""},
			{"TLS_CERT_FILE", s.TLSCertFile != ""},
			{"TLS_KEY_FILE", s.TLSKeyFile != ""},
			{"TLS_SERVER_NAME", s.TLSServerName != ""},
			{"TLS_INSECURE_SKIP_VERIFY", s.TLSInsecureSkipVerify},
		} {
			if v.set {
				bad(v.name, "is set but %sTLS is not true", prefix)
			}
		}
	}
	if (s.TLSCertFile == "") != (s.TLSKeyFile == "") {
		if s.TLSCertFile == "" {
			bad("TLS_CERT_FILE", "required when %sTLS_KEY_FILE is set", prefix)
		} else {
			bad("TLS_KEY_FILE", "required when %sTLS_CERT_FILE is set", prefix)
		}
	}

	switch s.SASLMechanism {
	case "":
		if s.SASLUsername != "" {
			bad("SASL_USERNAME", "is set but %sSASL_MECHANISM is empty", prefix)
		}
		if s.SASLPasswordFile != "" {
			bad("SASL_PASSWORD_FILE", "is set but %sSASL_MECHANISM is empty", prefix)
		}
	case PLAIN, SCRAMSHA256, SCRAMSHA512:
		if s.SASLUsername == "" {
			bad("SASL_USERNAME", "required with %sSASL_MECHANISM=%s", prefix, s.SASLMechanism)
		}
		if s.SASLPasswordFile == "" {
			bad("SASL_PASSWORD_FILE", "required with %sSASL_MECHANISM=%s", prefix, s.SASLMechanism)
		}
	default:
		bad("SASL_MECHANISM", "%q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.SASLMechanism)
	}
	return errors.Join(errs...)
}

// TLSConfig builds the TLS client configuration, or returns nil when TLS is
// off. It reads the CA file and checks the client key pair now, so a bad file
// is a start-up error naming its variable (both problems at once when the
// CA file and the key pair are bad); the key pair is read again at
// every handshake, so a renewed certificate is picked up without a restart.
func (s *Security) TLSConfig(prefix string) (*tls.Config, error) {
	if !s.TLS {
		return nil, nil
	}
	tc := &tls.Config{
		MinVersion:         minTLSVersion,
		ServerName:         s.TLSServerName,
		InsecureSkipVerify: s.TLSInsecureSkipVerify, //nolint:gosec // only on explicit request, with a warning at start
	}
	var errs []error
	if s.TLSCAFile != "" {
		pem, err := os.ReadFile(s.TLSCAFile)
		pool := x509.NewCertPool()
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%sTLS_CA_FILE: %w", prefix, err))
		case !pool.AppendCertsFromPEM(pem):
			errs = append(errs, fmt.Errorf("%sTLS_CA_FILE: no PEM certificate in %s", prefix, s.TLSCAFile))
		}
		tc.RootCAs = pool
	}
	if s.TLSCertFile != "" {
		certFile, keyFile := s.TLSCertFile, s.TLSKeyFile
		if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
			errs = append(errs, fmt.Errorf("%sTLS_CERT_FILE and %sTLS_KEY_FILE: %w", prefix, prefix, err))
		}
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			cert, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				return nil, fmt.Errorf("load client certificate %s: %w", certFile, err)
			}
			return &cert, nil
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return tc, nil
}

// Mechanism returns the SASL mechanism, or nil when SASL is off. It
// checks the password file now; the password is read again for every new
// connection, so a rotated Secret is picked up without a restart, and it is
// kept nowhere else.
func (s *Security) Mechanism(prefix string) (*Mechanism, error) {
	if s.SASLMechanism == "" {
		return nil, nil
	}
	m := &Mechanism{name: s.SASLMechanism, user: s.SASLUsername, file: s.SASLPasswordFile}
	if _, err := m.mechanism(); err != nil {
		return nil, fmt.Errorf("%sSASL_PASSWORD_FILE: %w", prefix, err)
	}
	return m, nil
}

// Client is what a kafka-go client needs to connect: the TLS configuration
// and the SASL mechanism, each nil when off. Make it with [Security.Client].
type Client struct {
	TLS  *tls.Config
	SASL *Mechanism
}

// Client reads the files [Security.TLSConfig] and [Security.Mechanism]
// read and returns both results, with every problem at once.
func (s *Security) Client(prefix string) (*Client, error) {
	tc, tlsErr := s.TLSConfig(prefix)
	mech, saslErr := s.Mechanism(prefix)
	if err := errors.Join(tlsErr, saslErr); err != nil {
		return nil, err
	}
	return &Client{TLS: tc, SASL: mech}, nil
}

// Dialer returns a kafka-go dialer (for kafka.Reader and kafka.Conn) that
// connects with c's TLS and SASL, a 10 s connection timeout and TCP
// keep-alives every 30 s.
func (c *Client) Dialer() *kafka.Dialer {
	d := &kafka.Dialer{Timeout: dialTimeout, KeepAlive: keepAlive, DualStack: true, TLS: c.TLS}
	if c.SASL != nil {
		d.SASLMechanism = c.SASL
	}
	return d
}

// Transport returns a kafka-go transport (for kafka.Client and
// kafka.Writer) that connects like [Client.Dialer], identifying itself as
// clientID.
func (c *Client) Transport(clientID string) *kafka.Transport {
	t := &kafka.Transport{
		Dial:        (&net.Dialer{Timeout: dialTimeout, KeepAlive: keepAlive}).DialContext,
		DialTimeout: dialTimeout,
		ClientID:    clientID,
		TLS:         c.TLS,
	}
	if c.SASL != nil {
		t.SASL = c.SASL
	}
	return t
}

// Mechanism is a SASL mechanism (a kafka-go sasl.Mechanism) whose password
// lives in a file. It also counts the exchanges the broker cut short: some
// brokers answer bad credentials by closing the connection, which the
// client sees only as an unexpected EOF; see [Mechanism.Interrupted].
//
// Concurrency: safe for concurrent use.
type Mechanism struct {
	name, user, file string

	mu         sync.Mutex
	gen        int // incremented by Reset
	unfinished int // exchanges of generation gen started and not finished
}

// Name is the mechanism's name as the broker knows it.
func (m *Mechanism) Name() string { return m.name }

// User is the SASL user name.
func (m *Mechanism) User() string { return m.user }

// Start reads the password and starts the exchange.
func (m *Mechanism) Start(ctx context.Context) (sasl.StateMachine, []byte, error) {
	mech, err := m.mechanism()
	if err != nil {
		return nil, nil, err
	}
	sm, ir, err := mech.Start(ctx)
	if err != nil {
		return nil, nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.unfinished++
	return &session{StateMachine: sm, m: m, gen: m.gen}, ir, nil
}

// Interrupted reports whether an exchange was started and not finished
// since the last Reset: a network error then most likely means the broker
// refused the credentials.
func (m *Mechanism) Interrupted() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.unfinished > 0
}

// Reset forgets the exchanges started so far; call it when a request
// succeeded.
func (m *Mechanism) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen++
	m.unfinished = 0
}

// session is one SASL exchange, reporting its end to its mechanism.
type session struct {
	sasl.StateMachine
	m    *Mechanism
	gen  int
	done bool
}

// Next continues the exchange.
func (s *session) Next(ctx context.Context, challenge []byte) (bool, []byte, error) {
	done, resp, err := s.StateMachine.Next(ctx, challenge)
	if done && err == nil && !s.done {
		s.done = true
		s.m.mu.Lock()
		if s.m.gen == s.gen {
			s.m.unfinished--
		}
		s.m.mu.Unlock()
	}
	return done, resp, err
}

func (m *Mechanism) mechanism() (sasl.Mechanism, error) {
	pw, err := readPassword(m.file)
	if err != nil {
		return nil, err
	}
	switch m.name {
	case PLAIN:
		return plain.Mechanism{Username: m.user, Password: pw}, nil
	case SCRAMSHA256:
		return scram.Mechanism(scram.SHA256, m.user, pw)
	case SCRAMSHA512:
		return scram.Mechanism(scram.SHA512, m.user, pw)
	}
	return nil, fmt.Errorf("unknown SASL mechanism %q", m.name)
}

// readPassword reads a password file, dropping trailing line breaks (which
// editors and `echo` add). The error never contains the password.
func readPassword(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) == 0 {
		return "", errors.New("password file " + file + " is empty")
	}
	return string(b), nil
}
