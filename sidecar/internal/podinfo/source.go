package podinfo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// DefaultRefresh is how often a [Source] checks the downwardAPI files when
// Source.Refresh is zero.
const DefaultRefresh = 5 * time.Second

// Source holds the current [Pod] and refreshes it when the kubelet rewrites
// the `labels` or `annotations` file in Dir.
//
// Concurrency: Pod may be called from any goroutine at any time. Run is
// called once, by the owner, and returns when its context ends.
type Source struct {
	// Env is the Downward API environment.
	Env Env
	// Dir is the downwardAPI volume holding `labels` and `annotations`.
	// Empty, or a directory that does not exist, means no labels or
	// annotations.
	Dir string
	// Refresh is the polling interval; zero means DefaultRefresh.
	Refresh time.Duration
	// Logger receives reload errors; nil discards them.
	Logger *slog.Logger

	cur atomic.Pointer[Pod]
	sig atomic.Value // string: sizes and mtimes of the files last read
}

// Load reads the files once and publishes the result. It is safe to call
// before Run, and Run calls it again whenever the files change.
func (s *Source) Load() error {
	sig := s.signature()
	labels, err1 := s.readMap("labels")
	annotations, err2 := s.readMap("annotations")
	s.cur.Store(New(s.Env, labels, annotations))
	s.sig.Store(sig)
	return errors.Join(err1, err2)
}

// Pod returns the current pod identity. Before the first Load it returns the
// identity built from Env alone.
func (s *Source) Pod() *Pod {
	if p := s.cur.Load(); p != nil {
		return p
	}
	p := New(s.Env, nil, nil)
	s.cur.CompareAndSwap(nil, p)
	return s.cur.Load()
}

// Run polls the files until ctx ends and reloads them when they change.
func (s *Source) Run(ctx context.Context) error {
	d := s.Refresh
	if d <= 0 {
		d = DefaultRefresh
	}
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if prev, _ := s.sig.Load().(string); prev == s.signature() {
				continue
			}
			if err := s.Load(); err != nil && s.Logger != nil {
				s.Logger.Warn("reload pod metadata", "dir", s.Dir, "err", err)
			}
		}
	}
}

func (s *Source) signature() string {
	if s.Dir == "" {
		return ""
	}
	var sig string
	for _, name := range []string{"labels", "annotations"} {
		if fi, err := os.Stat(filepath.Join(s.Dir, name)); err == nil {
			sig += fmt.Sprintf("%s:%d:%d;", name, fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return sig
}

func (s *Source) readMap(name string) (map[string]string, error) {
	if s.Dir == "" {
		return nil, nil
	}
	path := filepath.Join(s.Dir, name)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	m, err := ParseDownwardFile(data)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return m, nil
}
