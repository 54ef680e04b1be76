package tail

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/radovskyb/watcher"

	"github.com/loglet/loglet/sidecar/rotation"
)

// Kind is what a directory entry is, as far as shipping goes.
type Kind int

const (
	// Regular is a regular file: the only kind that is ever read.
	Regular Kind = iota
	// Symlink is a symbolic link: never followed, whatever it points to.
	Symlink
	// Special is anything else: a directory, FIFO, socket or device.
	Special
)

// String names the kind as the skip metrics' reason label does.
func (k Kind) String() string {
	switch k {
	case Regular:
		return "regular"
	case Symlink:
		return "symlink"
	default:
		return "not_regular"
	}
}

// Found is a directory entry that Scan found. ID, Size and ModTime describe a
// Regular entry as lstat saw it; the file must still be opened with Open,
// which checks the entry again.
type Found struct {
	Name    string
	Kind    Kind
	ID      Identity
	Size    int64
	ModTime time.Time
}

// Matcher decides which file names are shipped: those that match Include
// and not Exclude (filepath.Match patterns on the base name). Names starting
// with '.' are never shipped, so the state directory and temporary files on
// the volume are left alone. With Owned set, a name must also be the active
// file Active or one of its rotations (package rotation): on a directory
// shared by several pods, "{pod}*.log" then matches only this pod's files.
type Matcher struct {
	Include string
	Exclude string
	Active  string
	Owned   bool
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
	if m.Excluded(name) {
		return false
	}
	return !m.Owned || rotation.Owned(m.Active, name)
}

// Excluded reports whether name matches the exclude pattern.
func (m Matcher) Excluded(name string) bool {
	if m.Exclude == "" {
		return false
	}
	ex, _ := filepath.Match(m.Exclude, name)
	return ex
}

// Scan lists the entries of dir (not recursively), sorted by name, without
// following symbolic links: a link is reported as a Symlink whatever it
// points to. Hidden names (starting with '.') are left out.
func Scan(dir string) ([]Found, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	out := make([]Found, 0, len(entries))
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		fd := Found{Name: name}
		switch t := e.Type(); {
		case t&os.ModeSymlink != 0:
			fd.Kind = Symlink
		case !t.IsRegular():
			fd.Kind = Special
		default:
			fi, err := os.Lstat(filepath.Join(dir, name))
			if err != nil {
				continue // vanished
			}
			if !fi.Mode().IsRegular() {
				fd.Kind = Special // replaced since ReadDir
				if fi.Mode()&os.ModeSymlink != 0 {
					fd.Kind = Symlink
				}
				break
			}
			id, ok := IdentityOf(fi)
			if !ok {
				continue
			}
			fd.ID, fd.Size, fd.ModTime = id, fi.Size(), fi.ModTime()
		}
		out = append(out, fd)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ErrNotRegular is returned by Open for a name that is not a regular file
// in the directory itself: a symbolic link (never followed), a FIFO, socket,
// device or directory. Use errors.As with *NotRegularError for the kind.
var ErrNotRegular = errors.New("not a regular file")

// NotRegularError is Open's error for a name that is not a regular file.
type NotRegularError struct {
	Path string
	Kind Kind
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s: %s, not a regular file", e.Path, e.Kind)
}

// Is makes errors.Is(err, ErrNotRegular) hold.
func (e *NotRegularError) Is(target error) bool { return target == ErrNotRegular }

// Open opens the regular file name inside dir for reading. It never follows
// a symbolic link (O_NOFOLLOW on a single path component, so nothing outside
// dir can be reached through the name), never blocks on a FIFO (O_NONBLOCK),
// and checks the opened descriptor with fstat: anything but a regular file
// is closed at once and reported as a *NotRegularError. The app container
// that writes the directory may be hostile; see DESIGN.md's threat model.
func Open(dir, name string) (*os.File, os.FileInfo, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') {
		return nil, nil, fmt.Errorf("open %q: not a file name", name)
	}
	path := filepath.Join(dir, name)
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, nil, &NotRegularError{Path: path, Kind: Symlink}
	}
	if err != nil {
		return nil, nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() || onPseudoFS(fd) {
		f.Close()
		return nil, nil, &NotRegularError{Path: path, Kind: Special}
	}
	return f, fi, nil
}

// pseudoFS are the magic numbers (statfs f_type) of kernel file systems
// whose files look regular but are not logs: their stat size is 0 or a lie
// (/proc/self/status reads 1.4 KB at size 0), and they can hold the
// sidecar's own environment and credentials. Only a bind mount can put one
// in the log directory, but the check costs one system call per open.
var pseudoFS = map[int64]bool{
	0x9fa0:     true, // proc
	0x62656572: true, // sysfs
	0x64626720: true, // debugfs
	0x74726163: true, // tracefs
	0x73636673: true, // securityfs
	0x27e0eb:   true, // cgroup
	0x63677270: true, // cgroup2
	0x62656570: true, // configfs
	0x1cd1:     true, // devpts
	0xcafe4a11: true, // bpf
	0x6e736673: true, // nsfs
}

func onPseudoFS(fd int) bool {
	var st syscall.Statfs_t
	if err := syscall.Fstatfs(fd, &st); err != nil {
		return false
	}
	return pseudoFS[int64(st.Type)]
}

// Watch polls dir with github.com/radovskyb/watcher every interval and sends
// on changed (without blocking; one pending signal is enough) whenever a file
// is created, removed, renamed or moved. It returns when ctx ends. It is the
// safety net beside Notify, and the only source of changes on file systems
// that send no inotify events.
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
			signal(changed)
		case <-w.Error:
			// The directory itself vanished or could not be listed; the
			// caller's periodic rescan reports it.
			signal(changed)
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

// signal sends on changed without blocking.
func signal(changed chan<- struct{}) {
	select {
	case changed <- struct{}{}:
	default:
	}
}
