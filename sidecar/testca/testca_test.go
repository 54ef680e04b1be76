package testca

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestIssuedCertificatesVerify: what Issue signs verifies against the CA's
// pool for 127.0.0.1 and localhost and its usage, and not against another
// CA or for another usage or name.
func TestIssuedCertificatesVerify(t *testing.T) {
	ca, other := New(t, "test CA"), New(t, "other CA")
	server := ca.Issue(t, "localhost", x509.ExtKeyUsageServerAuth)
	leaf, err := x509.ParseCertificate(server.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"127.0.0.1", "localhost"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: name, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("verify for %s: %v", name, err)
		}
	}
	var unknown x509.UnknownAuthorityError
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: other.Pool()}); !errors.As(err, &unknown) {
		t.Errorf("verify against another CA: %v, want an unknown authority", err)
	}
	var invalid x509.CertificateInvalidError
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); !errors.As(err, &invalid) {
		t.Errorf("verify for client use: %v, want an invalid certificate", err)
	}
	var host x509.HostnameError
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "example.com"}); !errors.As(err, &host) {
		t.Errorf("verify for example.com: %v, want a host name error", err)
	}
}

// TestFileAndPEM: the CA's file holds its certificate, and PEM gives a
// pair that tls.X509KeyPair loads.
func TestFileAndPEM(t *testing.T) {
	ca := New(t, "test CA")
	b, err := os.ReadFile(ca.File(t))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("CA file: %q, want a PEM certificate", b)
	}
	if got, err := x509.ParseCertificate(block.Bytes); err != nil || !got.Equal(ca.Cert) {
		t.Fatalf("CA file holds another certificate (%v)", err)
	}
	certPEM, keyPEM := PEM(t, ca.Issue(t, "client", x509.ExtKeyUsageClientAuth))
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatalf("X509KeyPair: %v", err)
	}
}

// TestServerTLSHandshake: a client trusting only the CA completes a
// handshake with ServerTLS over a real connection.
func TestServerTLSHandshake(t *testing.T) {
	ca := New(t, "test CA")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", ca.ServerTLS(t))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			err = c.(*tls.Conn).Handshake()
			c.Close()
		}
		done <- err
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.Close()
	if err := <-done; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
