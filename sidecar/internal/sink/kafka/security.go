package kafka

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// The SASL mechanisms LOGLET_KAFKA_SASL_MECHANISM accepts.
const (
	saslPlain    = "PLAIN"
	saslSCRAM256 = "SCRAM-SHA-256"
	saslSCRAM512 = "SCRAM-SHA-512"
)

// tlsConfig builds the TLS client configuration, or returns nil when TLS is
// off. It reads the CA file and checks the client key pair now, so a bad file
// is a start-up error naming its variable (both problems at once when the
// CA file and the key pair are bad); the key pair is read again at
// every handshake, so a renewed certificate is picked up without a restart.
func (c *Config) tlsConfig() (*tls.Config, error) {
	if !c.TLS {
		return nil, nil
	}
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.TLSServerName,
		InsecureSkipVerify: c.TLSInsecureSkipVerify, //nolint:gosec // only on explicit request, with a warning at start
	}
	var errs []error
	if c.TLSCAFile != "" {
		pem, err := os.ReadFile(c.TLSCAFile)
		pool := x509.NewCertPool()
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("LOGLET_KAFKA_TLS_CA_FILE: %w", err))
		case !pool.AppendCertsFromPEM(pem):
			errs = append(errs, fmt.Errorf("LOGLET_KAFKA_TLS_CA_FILE: no PEM certificate in %s", c.TLSCAFile))
		}
		tc.RootCAs = pool
	}
	if c.TLSCertFile != "" {
		certFile, keyFile := c.TLSCertFile, c.TLSKeyFile
		if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
			errs = append(errs, fmt.Errorf("LOGLET_KAFKA_TLS_CERT_FILE and LOGLET_KAFKA_TLS_KEY_FILE: %w", err))
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

// saslMechanism returns the SASL mechanism, or nil when SASL is off. It
// checks the password file now; the password is read again for every new
// connection, so a rotated Secret is picked up without a restart, and it is
// kept nowhere else.
func (c *Config) saslMechanism() (*fileMechanism, error) {
	if c.SASLMechanism == "" {
		return nil, nil
	}
	m := &fileMechanism{name: c.SASLMechanism, user: c.SASLUsername, file: c.SASLPasswordFile}
	if _, err := m.mechanism(); err != nil {
		return nil, fmt.Errorf("LOGLET_KAFKA_SASL_PASSWORD_FILE: %w", err)
	}
	return m, nil
}

// fileMechanism is a SASL mechanism whose password lives in a file. It
// also counts the exchanges the broker cut short: some brokers answer bad
// credentials by closing the connection, which the client sees only as an
// unexpected EOF.
//
// Concurrency: safe for concurrent use.
type fileMechanism struct {
	name, user, file string

	mu         sync.Mutex
	gen        int // incremented by reset
	unfinished int // exchanges of generation gen started and not finished
}

// Name is the mechanism's name as the broker knows it.
func (m *fileMechanism) Name() string { return m.name }

// Start reads the password and starts the exchange.
func (m *fileMechanism) Start(ctx context.Context) (sasl.StateMachine, []byte, error) {
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

// interrupted reports whether an exchange was started and not finished
// since the last reset.
func (m *fileMechanism) interrupted() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.unfinished > 0
}

// reset forgets the exchanges started so far: a request just succeeded.
func (m *fileMechanism) reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen++
	m.unfinished = 0
}

// session is one SASL exchange, reporting its end to its mechanism.
type session struct {
	sasl.StateMachine
	m    *fileMechanism
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

func (m *fileMechanism) mechanism() (sasl.Mechanism, error) {
	pw, err := readPassword(m.file)
	if err != nil {
		return nil, err
	}
	switch m.name {
	case saslPlain:
		return plain.Mechanism{Username: m.user, Password: pw}, nil
	case saslSCRAM256:
		return scram.Mechanism(scram.SHA256, m.user, pw)
	case saslSCRAM512:
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
