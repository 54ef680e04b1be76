package pipeline

import (
	"context"
	"time"

	"github.com/loglet/loglet/sidecar/internal/checkpoint"
	"github.com/loglet/loglet/sidecar/internal/tail"
)

// ReadBacker is an output that can say which of a file's records it
// already delivered: the Kafka sink, which reads its partition back. After
// a stop that was not clean (a crash, an OOM kill, a shutdown that timed
// out), records sent after the last saved checkpoint may have landed;
// reading them back lets the pipeline start each file after the last one
// that did, instead of sending them again.
//
// Concurrency: called from Run's goroutine, before the readers start.
type ReadBacker interface {
	// Origin is where the output's partition ends now, before anything is
	// sent: a later read-back for a file with no acknowledged batch yet
	// starts there.
	Origin(ctx context.Context) (checkpoint.Landed, error)
	// ReadBack answers, for each query, where the file's records found in
	// the output end. An answer that is not Exact means the output could
	// not tell (read-back off or denied, a bound reached): the file is then
	// read from its checkpoint, at least once.
	ReadBack(ctx context.Context, queries []ReadBackQuery) []ReadBackAnswer
}

// ReadBackQuery asks where the records of the file FileID that landed at
// or after From end.
type ReadBackQuery struct {
	FileID string
	From   checkpoint.Landed
}

// ReadBackAnswer is the answer to a ReadBackQuery: when Exact and Found,
// the file's records up to End (a file offset) are in the output already,
// the last of them at Landed.
type ReadBackAnswer struct {
	Found, Exact bool
	End          int64
	Landed       checkpoint.Landed
}

// originTimeout bounds asking the output for its origin at start: a broker
// that does not answer must not hold the sidecar's start back long.
const originTimeout = 2 * time.Second

// readBackAtStart runs after the state is loaded and before the first scan.
// After a stop that was not clean, it asks the output which records of each
// file already landed and moves the files' start positions past them: the
// entries of files with a checkpoint, and entries it makes for files found
// on disk with none (their records may have been sent before the first
// save). Then it records the output's current origin and saves the state at
// once, so that a crash before the first regular save still has a place
// to read back from. It returns the entries to start from.
func (p *Pipeline) readBackAtStart(ctx context.Context, st checkpoint.State, exists bool) []checkpoint.Entry {
	rb := p.cfg.ReadBack
	entries := st.Files
	if rb == nil {
		return entries
	}
	p.origin = st.Origin
	if exists && !st.Clean {
		entries = p.readBack(ctx, rb, st)
	}
	octx, cancel := context.WithTimeout(ctx, originTimeout)
	origin, err := rb.Origin(octx)
	cancel()
	if err != nil {
		p.log.Warn("could not learn where the Kafka partition ends; a crash before the first acknowledgement re-sends from the last known origin", "err", err)
		return entries
	}
	// Every file's records from now on land past here; those sent before
	// are accounted for by the read-back above or by the checkpoints.
	p.origin = &origin
	if err := p.store.SaveState(checkpoint.State{Files: entries, Origin: p.origin}); err != nil {
		p.log.Error("save checkpoints", "err", err)
	}
	return entries
}

// readBack queries the output for every file of the state, and for every
// file on disk that has no entry, and applies the exact answers.
func (p *Pipeline) readBack(ctx context.Context, rb ReadBacker, st checkpoint.State) []checkpoint.Entry {
	start := time.Now()
	entries := append([]checkpoint.Entry(nil), st.Files...)
	known := make(map[tail.Identity]bool, len(entries))
	var queries []ReadBackQuery
	var targets []int // index into entries, per query
	from := func(l *checkpoint.Landed) (checkpoint.Landed, bool) {
		switch {
		case l != nil:
			return *l, true
		case st.Origin != nil:
			return *st.Origin, true
		}
		return checkpoint.Landed{}, false
	}
	found, _ := tail.Scan(p.cfg.LogDir) // an unlistable directory: nothing is read back, and the scan reports it
	sizes := map[tail.Identity]int64{}
	for _, fd := range found {
		if fd.Kind == tail.Regular {
			sizes[fd.ID] = fd.Size
		}
	}
	for i, e := range entries {
		id := tail.Identity{Dev: e.Dev, Ino: e.Ino}
		known[id] = true
		if size, ok := sizes[id]; !ok || size <= e.Offset {
			// Nothing past the checkpoint, so nothing of it was sent: no
			// need to read back (and an old position would make the
			// read-back start far back, past its bound).
			continue
		}
		if f, ok := from(e.Landed); ok {
			queries = append(queries, ReadBackQuery{FileID: e.ID, From: f})
			targets = append(targets, i)
		}
	}
	// Files with no entry: their identity is what their first record
	// carried, the fingerprint of their first bytes (up to 1 KiB) when they
	// were first read. For a file that had reached 1 KiB by then, that is
	// what it holds now; for a smaller one the query finds nothing, and the
	// file is read from 0 as before.
	if f, ok := from(nil); ok {
		for _, e := range p.unknownFiles(found, known) {
			entries = append(entries, e)
			queries = append(queries, ReadBackQuery{FileID: e.ID, From: f})
			targets = append(targets, len(entries)-1)
		}
	}
	if len(queries) == 0 {
		return st.Files
	}
	answers := rb.ReadBack(ctx, queries)
	skipped, exact := int64(0), 0
	keep := make([]bool, len(entries))
	for i := range st.Files {
		keep[i] = true
	}
	for qi, a := range answers {
		if qi >= len(targets) {
			break
		}
		i := targets[qi]
		e := &entries[i]
		if !a.Exact {
			continue
		}
		exact++
		if !a.Found || a.End <= e.Offset {
			continue
		}
		skipped += a.End - e.Offset
		e.Offset = a.End
		e.TailLen, e.Tail = 0, "" // the tail was taken at the old offset; the head still checks the file
		l := a.Landed
		e.Landed = &l
		keep[i] = true
	}
	out := entries[:0:0]
	for i, e := range entries {
		if keep[i] {
			out = append(out, e)
		}
	}
	p.log.Info("read back from Kafka what landed after the last checkpoint (the last stop was not clean)",
		"files", len(queries), "exact", exact, "bytes_already_delivered", skipped, "took", time.Since(start).Round(time.Millisecond).String())
	return out
}

// unknownFiles returns an entry at offset 0 for each regular file found in
// the log directory that the state does not know, with the identity its
// first record would have carried.
func (p *Pipeline) unknownFiles(found []tail.Found, known map[tail.Identity]bool) []checkpoint.Entry {
	var out []checkpoint.Entry
	for _, fd := range found {
		if fd.Kind != tail.Regular || known[fd.ID] || fd.Size == 0 || !(p.matcher.Match(fd.Name) || p.rotatedAway(fd.Name)) {
			continue
		}
		f, fi, err := tail.Open(p.cfg.LogDir, fd.Name)
		if err != nil {
			continue
		}
		fp, err := tail.ReadFingerprint(f, int(min(fi.Size(), tail.FingerprintSize)))
		f.Close()
		if err != nil {
			continue
		}
		id, _ := tail.IdentityOf(fi)
		e := tail.NewFileID(id, fp).Entry(fp)
		e.Path = fd.Name
		out = append(out, e)
	}
	return out
}
