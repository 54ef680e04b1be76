package pipeline

import (
	"context"
	"errors"
	"os"
	"strings"
	"time"

	"github.com/loglet/loglet/sidecar/internal/checkpoint"
	"github.com/loglet/loglet/sidecar/internal/tail"
	"github.com/loglet/loglet/sidecar/rotation"
)

// usableEntries returns the checkpoint entries whose identity and
// fingerprints parse (tail.FromEntry, tail.ParseFingerprint), and warns of
// each other one: an entry that cannot be trusted to name the file under
// its inode is dropped, and that file is read as one the state does not
// know (from 0 when a state exists: sent again, never skipped). A nil
// entries stays nil, which means no state.
func (p *Pipeline) usableEntries(entries []checkpoint.Entry) []checkpoint.Entry {
	out := entries[:0:0]
	for _, e := range entries {
		_, _, err := tail.FromEntry(e)
		if err == nil && e.TailLen > 0 {
			_, err = tail.ParseFingerprint(e.TailLen, e.Tail)
		}
		if err != nil {
			p.log.Warn("checkpoint entry unusable; its file is read as if it had none", "path", e.Path, "err", err)
			continue
		}
		out = append(out, e)
	}
	return out
}

// scan lists the directory and reconciles it with the tracked files: new
// files are opened and get a reader, renamed ones a new name, dormant ones
// that changed a new reader, and vanished ones are let go. The first scan
// (entries != nil) also resumes files that have a checkpoint but no longer
// match the include pattern (renamed away while the sidecar was down).
//
// Only regular files are ever opened, and never through a symbolic link:
// links and special files are skipped, counted and logged once per name.
func (p *Pipeline) scan(ctx, sendCtx context.Context, entries map[tail.Identity]checkpoint.Entry, firstStart bool) {
	found, err := tail.Scan(p.cfg.LogDir)
	if err != nil {
		p.log.Error("scan log directory", "err", err)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := make(map[tail.Identity]bool, len(found))
	names := make(map[string]bool, len(found))
	for _, fd := range found {
		names[fd.Name] = true
		matched := p.matcher.Match(fd.Name)
		if fd.Kind != tail.Regular {
			if matched || p.rotatedAway(fd.Name) {
				p.skipLocked(fd.Name, fd.Kind)
			}
			continue
		}
		fl := p.files[fd.ID]
		if fl == nil {
			if _, hasEntry := entries[fd.ID]; !matched && !hasEntry && !p.rotatedAway(fd.Name) {
				continue
			}
			if fl = p.openLocked(fd, matched); fl == nil {
				continue
			}
			seen[fl.id] = true
			e, hasEntry := entries[fl.id]
			switch {
			case hasEntry:
				fid, head, _ := tail.FromEntry(e) // usableEntries kept only entries it accepts
				fl.fp, fl.fpSet = head, true
				fl.setFileID(fid)
				var before tail.Fingerprint
				if e.TailLen > 0 {
					before, _ = tail.ParseFingerprint(e.TailLen, e.Tail) // checked by usableEntries too
				}
				fl.acks.resume(e.Offset, before, e.Landed)
			case firstStart && entries != nil && p.cfg.StartAtEnd:
				fl.acks.resume(fl.size, tail.Fingerprint{}, nil)
			case p.holdIfCopyLocked(fl):
				continue // placed by resolveCopiesLocked below
			}
			p.log.Info("tracking log file", "path", fl.path, "offset", fl.acks.committed)
			p.startLocked(ctx, sendCtx, fl)
			continue
		}
		seen[fd.ID] = true
		if fl.name != fd.Name {
			if fl.name == p.active {
				p.m.rotations.Inc()
			}
			p.log.Info("log file renamed", "from", fl.name, "to", fd.Name)
			p.m.lagBytes.DeleteLabelValues(fl.name)
			if p.byName[fl.name] == fl {
				delete(p.byName, fl.name)
			}
			fl.path, fl.name = p.pathOf(fd.Name), fd.Name
			p.byName[fd.Name] = fl
			p.wakeReaderLocked(fl) // its name decides how long it waits
		}
		if fl.matched != matched {
			p.wakeReaderLocked(fl)
		}
		fl.matched = matched
		changed := fd.Size != fl.size || !fd.ModTime.Equal(fl.mtime)
		fl.size, fl.mtime = fd.Size, fd.ModTime
		if fl.state == stateDormant {
			fl.mu.Lock()
			readEnd := fl.acks.readEnd
			fl.mu.Unlock()
			if fd.Size != readEnd || changed {
				p.startLocked(ctx, sendCtx, fl)
			}
		}
	}
	for name := range p.skipped {
		if !names[name] {
			delete(p.skipped, name) // gone: a new entry of that name is reported again
		}
	}
	for id, fl := range p.files {
		if seen[id] {
			continue
		}
		if fl.matched && fl.name == p.active {
			p.m.rotations.Inc() // the active file was deleted
		}
		fl.matched = false
		p.wakeReaderLocked(fl) // deleted or moved away: read to its end, then let go
		if fl.state == stateDormant || fl.state == stateHeld {
			fl.state = stateGone
			p.markDirty() // forgotten, and its descriptor closed, at the next save
		}
	}
	p.resolveCopiesLocked(ctx, sendCtx)
}

func (p *Pipeline) pathOf(name string) string { return p.cfg.LogDir + string(os.PathSeparator) + name }

// openLocked opens a newly found file and starts tracking it, or returns nil
// when it is not a regular file (it is then skipped) or cannot be opened.
// The identity is the opened descriptor's, which may differ from the scan's
// when the name was replaced in between.
func (p *Pipeline) openLocked(fd tail.Found, matched bool) *file {
	f, fi, err := tail.Open(p.cfg.LogDir, fd.Name)
	var nr *tail.NotRegularError
	if errors.As(err, &nr) {
		p.skipLocked(fd.Name, nr.Kind)
		return nil
	}
	if err != nil {
		p.log.Warn("open log file", "name", fd.Name, "err", err)
		return nil
	}
	id, _ := tail.IdentityOf(fi)
	if p.files[id] != nil {
		f.Close() // the name now holds a file tracked under another name; the next scan renames it
		return nil
	}
	fl := &file{id: id, f: f, wake: make(chan struct{}, 1), path: p.pathOf(fd.Name), name: fd.Name, matched: matched, size: fi.Size(), mtime: fi.ModTime()}
	p.files[id] = fl
	p.byName[fd.Name] = fl
	p.m.filesOpen.Inc()
	return fl
}

// skipLocked counts and logs, once per name, a directory entry that is not
// read because it is not a regular file.
func (p *Pipeline) skipLocked(name string, kind tail.Kind) {
	if prev, ok := p.skipped[name]; ok && prev == kind {
		return
	}
	p.skipped[name] = kind
	p.m.skipped.WithLabelValues(kind.String()).Inc()
	p.log.Warn("skipping log directory entry: only regular files are read, and links are never followed",
		"name", name, "kind", kind.String())
}

// forgetLocked stops tracking fl and returns its descriptor, for the caller
// to close. fl has no reader and everything read from it is acknowledged.
func (p *Pipeline) forgetLocked(fl *file) *os.File {
	delete(p.files, fl.id)
	if p.byName[fl.name] == fl {
		delete(p.byName, fl.name)
	}
	p.m.lagBytes.DeleteLabelValues(fl.name)
	f := fl.f
	if f != nil {
		fl.f = nil
		p.m.filesOpen.Dec()
	}
	return f
}

// rotatedAway reports whether an unknown file that the include pattern does
// not match must be read all the same: a rotation of the active file
// (app.log.1) that the pipeline never saw under the active name, because it
// was created and rotated away while the sidecar was down or between two
// scans. Compressed and excluded files are left alone.
func (p *Pipeline) rotatedAway(name string) bool {
	return rotation.Of(p.active, name) && !strings.HasPrefix(name, ".") && !rotation.IsCompressed(name) && !p.matcher.Excluded(name)
}

// holdIfCopyLocked holds a new file named like a rotation of a tracked
// file: it may be copytruncate's copy ("cp p.log p.log.1; truncate p.log"),
// maybe still being written by cp. It is left unread until it can be told
// which content of the original it copies (resolveCopiesLocked).
func (p *Pipeline) holdIfCopyLocked(n *file) bool {
	for _, c := range p.files {
		if c != n && c.state != stateHeld && c.f != nil && rotation.Of(c.name, n.name) {
			n.state, n.copyOf, n.heldAt = stateHeld, c, time.Now()
			return true
		}
	}
	return false
}

// resolveCopiesLocked starts the held files that can now be placed:
//   - a copy of an ended generation of the original (it was truncated since)
//     is read from where the original's reading of that generation stopped,
//     so what the app wrote after that and before the copy is read from the
//     copy, and nothing twice;
//   - a file that, after RotateWait, begins with neither the original's
//     past nor its current content is no copy, and is read from 0;
//   - a copy of the original's current content that sees no truncation
//     within RotateWait is a plain copy, which the original's reader ships
//     whole: only what is appended to it later is read. An empty file is
//     waited for the same way (cp may not have written yet).
func (p *Pipeline) resolveCopiesLocked(ctx, sendCtx context.Context) {
	for _, n := range p.files {
		if n.state != stateHeld {
			continue
		}
		c := n.copyOf
		fi, err := n.f.Stat()
		if err != nil {
			continue
		}
		size := fi.Size()
		c.mu.Lock()
		hist := append([]generation(nil), c.hist...)
		cur, curSet := c.fp, c.fpSet
		c.mu.Unlock()
		start, found := int64(0), false
		for i := len(hist) - 1; i >= 0 && !found; i-- {
			g := hist[i]
			if g.head.Len == 0 || int64(g.head.Len) > size {
				continue
			}
			if ok, _ := g.head.Matches(n.f); !ok {
				continue
			}
			found, start = true, min(size, g.end)
			if g.tailSet && size >= g.end {
				if ok, _ := g.tail.MatchesAt(n.f, g.end-int64(g.tail.Len)); !ok {
					start = 0 // the same head, but not the content that was read
				}
			}
		}
		if !found {
			waited := time.Since(n.heldAt)
			if waited < p.cfg.RotateWait && p.files[c.id] == c {
				// The original's reader may still end the generation this
				// copies (it may be reading it now): wait for that.
				continue
			}
			current := size == 0
			if curSet && cur.Len > 0 && int64(cur.Len) <= size {
				current, _ = cur.Matches(n.f)
			}
			if !current && size > 0 && c.f != nil {
				// The original's content, read or not yet.
				k := int(min(size, tail.FingerprintSize))
				a, errA := tail.ReadFingerprint(n.f, k)
				b, errB := tail.ReadFingerprint(c.f, k)
				current = errA == nil && errB == nil && a == b
			}
			changed := false
			if current && curSet && c.f != nil {
				ok, _ := cur.Matches(c.f)
				changed = !ok
			}
			switch {
			case current && changed && waited < 10*p.cfg.RotateWait:
				// The original no longer holds what it was read from: it
				// was truncated, and its reader has yet to end the
				// generation. Wait for that, to place the copy after what
				// was read.
				continue
			case current && !changed:
				start = size // a plain copy: the original holds (and reads) all of it
			}
		}
		n.copyOf = nil
		n.acks.resume(start, tail.Fingerprint{}, nil)
		if start > 0 {
			p.m.copiesSkipped.Add(float64(start))
			p.log.Info("reading a copy of a log file (copytruncate) after what was read from the original",
				"path", n.path, "copy_of", c.name, "offset", start)
		}
		p.log.Info("tracking log file", "path", n.path, "offset", start)
		p.startLocked(ctx, sendCtx, n)
	}
}
