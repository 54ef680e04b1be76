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

	"github.com/loglet/loglet/sidecar/internal/tail"
)

// DefaultRefresh is how often a [Source] polls the downwardAPI files, where
// it cannot watch them, when Source.Refresh is zero.
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
	// Refresh is the polling interval where inotify cannot watch Dir; zero
	// means DefaultRefresh.
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

// Run reloads the files when they change, until ctx ends.
//
// It watches Dir with inotify: the kubelet updates a downwardAPI volume by
// renaming its `..data` link to a new directory, which inotify reports at
// once, so an idle sidecar is not woken to look. Where inotify is not
// available, where Dir does not exist at start, or once the watch ends (Dir
// removed or moved), it polls every Refresh instead.
func (s *Source) Run(ctx context.Context) error {
	if s.Dir != "" {
		if n, err := tail.NewNotifier(s.Dir, tail.NamesOnly|tail.WritesOnly); err == nil {
			s.watch(ctx, n)
		} else if !errors.Is(err, fs.ErrNotExist) && s.Logger != nil {
			s.Logger.Warn("watch pod metadata; polling instead", "dir", s.Dir, "err", err)
		}
	}
	if ctx.Err() != nil {
		return nil
	}
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
			s.reload()
		}
	}
}

// watch reloads on every batch of n's events until ctx ends or the watch
// does (the directory itself removed or moved: its events name nothing).
func (s *Source) watch(ctx context.Context, n *tail.Notifier) {
	n.Coalesce = watchCoalesce
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	s.reload() // what changed since Load, before the watch was in place
	err := n.Run(wctx, func(events []tail.Event) {
		s.reload()
		for _, ev := range events {
			if ev.Op == tail.Listed && ev.Name == "" {
				stop()
			}
		}
	})
	if err != nil && s.Logger != nil {
		s.Logger.Warn("watch pod metadata; polling instead", "dir", s.Dir, "err", err)
	}
	if ctx.Err() == nil {
		s.reload() // what changed while the watch ended
	}
}

// watchCoalesce is the pause after each batch of events: the kubelet's
// update is a few of them (a new directory, a link, a rename).
const watchCoalesce = 100 * time.Millisecond

// reload loads the files again when their sizes or times changed.
func (s *Source) reload() {
	if prev, _ := s.sig.Load().(string); prev == s.signature() {
		return
	}
	if err := s.Load(); err != nil && s.Logger != nil {
		s.Logger.Warn("reload pod metadata", "dir", s.Dir, "err", err)
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
