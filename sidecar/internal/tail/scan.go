package tail

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/radovskyb/watcher"
)

// Found is a file that Scan found.
type Found struct {
	Path string
	Name string
	ID   Identity
	Info os.FileInfo
}

// Matcher decides which file names are shipped: those that match Include
// and not Exclude (filepath.Match patterns on the base name). Names starting
// with '.' are never shipped, so the state directory and temporary files on
// the volume are left alone.
type Matcher struct {
	Include string
	Exclude string
}

// Validate checks that both patterns are well-formed.
func (m Matcher) Validate() error {
	for _, p := range []string{m.Include, m.Exclude} {
		if _, err := filepath.Match(p, "x"); err != nil {
			return fmt.Errorf("pattern %q: %w", p, err)
		}
	}
	return nil
}

// Match reports whether name is shipped.
func (m Matcher) Match(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false
	}
	if ok, _ := filepath.Match(m.Include, name); !ok {
		return false
	}
	if m.Exclude != "" {
		if ex, _ := filepath.Match(m.Exclude, name); ex {
			return false
		}
	}
	return true
}

// Scan lists the regular files in dir (not recursively), sorted by name.
// With all false it returns only those m matches; with all true, every
// regular file, so a caller can find files it still has checkpoints for
// under a name that no longer matches.
func Scan(dir string, m Matcher, all bool) ([]Found, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var out []Found
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() && e.Type()&os.ModeSymlink == 0 {
			continue
		}
		if !all && !m.Match(name) {
			continue
		}
		path := filepath.Join(dir, name)
		fi, err := os.Stat(path)
		if err != nil || !fi.Mode().IsRegular() {
			continue // vanished or not a regular file behind a link
		}
		id, ok := IdentityOf(fi)
		if !ok {
			continue
		}
		out = append(out, Found{Path: path, Name: name, ID: id, Info: fi})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Watch polls dir with github.com/radovskyb/watcher every interval and sends
// on changed (without blocking; one pending signal is enough) whenever a file
// is created, removed, renamed or moved. It returns when ctx ends.
func Watch(ctx context.Context, dir string, interval time.Duration, changed chan<- struct{}) error {
	if interval <= 0 {
		return fmt.Errorf("watch %s: interval %v is not positive", dir, interval)
	}
	w := watcher.New()
	w.IgnoreHiddenFiles(true)
	w.FilterOps(watcher.Create, watcher.Remove, watcher.Rename, watcher.Move)
	if err := w.Add(dir); err != nil {
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	started := make(chan error, 1)
	go func() { started <- w.Start(interval) }()

	signal := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	// The watcher blocks on its channels, so drain them until it has closed.
	// Closing can take a poll interval: ctx.Done is then no longer selected,
	// so that the loop waits instead of spinning on it.
	done := ctx.Done()
	for {
		select {
		case <-done:
			done = nil
			go func() { w.Wait(); w.Close() }()
		case <-w.Event:
			signal()
		case <-w.Error:
			// The directory itself vanished or could not be listed; the
			// caller's periodic rescan reports it.
			signal()
		case <-w.Closed:
			<-started
			return nil
		case err := <-started:
			if err != nil {
				return fmt.Errorf("watch %s: %w", dir, err)
			}
			return nil
		}
	}
}
