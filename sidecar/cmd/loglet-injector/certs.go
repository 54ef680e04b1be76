package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certFiles serves a certificate and key read from files, and reads them
// again when either file changes (a Secret volume swaps both through a
// symlink), so a rotation needs no restart. A pair that does not load (half
// written, or mismatched) is logged and the last good one kept.
//
// getCertificate is safe for concurrent use; it stats both files on every
// TLS handshake, which the API server's kept-alive connections make rare.
type certFiles struct {
	certPath, keyPath string
	logger            *slog.Logger

	mu     sync.Mutex
	cert   *tls.Certificate
	stamps [2]fileStamp // of certPath and keyPath when cert was read
	failed [2]fileStamp // the stamps of a pair that did not load, not retried
}

type fileStamp struct {
	info os.FileInfo
}

func (a fileStamp) same(b fileStamp) bool {
	if a.info == nil || b.info == nil {
		return a.info == b.info
	}
	return os.SameFile(a.info, b.info) && a.info.ModTime().Equal(b.info.ModTime()) && a.info.Size() == b.info.Size()
}

func (c *certFiles) stat() ([2]fileStamp, error) {
	var s [2]fileStamp
	for i, p := range []string{c.certPath, c.keyPath} {
		fi, err := os.Stat(p)
		if err != nil {
			return s, err
		}
		s[i] = fileStamp{fi}
	}
	return s, nil
}

// load reads the pair; the first call's error stops the injector from
// starting.
func (c *certFiles) load() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loadLocked()
}

func (c *certFiles) loadLocked() error {
	stamps, err := c.stat()
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(c.certPath, c.keyPath)
	if err != nil {
		c.failed = stamps
		return fmt.Errorf("serving certificate %s, %s: %w", c.certPath, c.keyPath, err)
	}
	c.cert, c.stamps = &cert, stamps
	c.logger.Info("loaded serving certificate", "file", c.certPath, "not_after", cert.Leaf.NotAfter.Format(time.RFC3339))
	return nil
}

func (c *certFiles) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	stamps, err := c.stat()
	switch {
	case err != nil:
		c.logger.Warn("serving certificate files unreadable; keeping the loaded one", "err", err)
	case stamps[0].same(c.stamps[0]) && stamps[1].same(c.stamps[1]):
	case stamps[0].same(c.failed[0]) && stamps[1].same(c.failed[1]):
	default:
		if err := c.loadLocked(); err != nil {
			c.logger.Warn("serving certificate changed but does not load; keeping the loaded one", "err", err)
		}
	}
	return c.cert, nil
}
