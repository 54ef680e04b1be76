package parse

import "bytes"

// Joiner groups lines into records: a plain-text line followed by its
// continuation lines (indented lines, Java's "Caused by:" and "... N more",
// and everything after a Go "panic:" or "fatal error:" line up to the next
// line that starts a record) becomes one record. JSON lines are never joined:
// they are records on their own, and so is every line of any format that no
// continuation follows.
//
// The Joiner only holds a plain-text record back until the next line shows
// whether it continues; the caller flushes it when no line arrives within
// its flush timeout, and at the end of a file.
//
// Concurrency: not safe for concurrent use; one per file.
type Joiner struct {
	// MaxBytes caps a joined record; a continuation line that would pass it
	// starts a new record instead. Zero means no cap.
	MaxBytes int

	buf       []byte
	start     int64
	end       int64
	lines     int
	truncated bool
	pending   bool
	goPanic   bool
}

// Emit receives a finished record: its text, the offset of its first byte,
// the offset just past its last line's newline, its line count and whether a
// line of it was truncated. text is only valid during the call.
type Emit func(text []byte, start, end int64, lines int, truncated bool)

// Add feeds one line (without its newline) that spans [start, end) of the
// file, emitting the records it completes.
func (j *Joiner) Add(line []byte, start, end int64, truncated bool, emit Emit) {
	if j.pending && j.continues(line) && (j.MaxBytes == 0 || len(j.buf)+1+len(line) <= j.MaxBytes) {
		j.buf = append(j.buf, '\n')
		j.buf = append(j.buf, line...)
		j.end = end
		j.lines++
		j.truncated = j.truncated || truncated
		return
	}
	j.Flush(emit)
	if len(bytes.TrimSpace(line)) == 0 {
		// A blank line is no record; it is consumed with its neighbours.
		emit(nil, start, end, 0, false)
		return
	}
	if firstNonSpace(line) == '{' {
		emit(line, start, end, 1, truncated)
		return
	}
	j.buf = append(j.buf[:0], line...)
	j.start, j.end, j.lines, j.truncated, j.pending = start, end, 1, truncated, true
	j.goPanic = bytes.HasPrefix(line, []byte("panic: ")) || bytes.HasPrefix(line, []byte("fatal error: "))
}

// Pending reports whether a record is held back, and where it starts.
func (j *Joiner) Pending() (start int64, ok bool) { return j.start, j.pending }

// Flush emits the held-back record, if any.
func (j *Joiner) Flush(emit Emit) {
	if !j.pending {
		return
	}
	j.pending = false
	emit(j.buf, j.start, j.end, j.lines, j.truncated)
}

var (
	causedBy = []byte("Caused by: ")
	dotsMore = []byte("... ")
)

func (j *Joiner) continues(line []byte) bool {
	if len(line) == 0 {
		return j.goPanic
	}
	switch {
	case line[0] == ' ' || line[0] == '\t':
		return true
	case bytes.HasPrefix(line, causedBy), bytes.HasPrefix(line, dotsMore) && bytes.HasSuffix(line, []byte(" more")):
		return true
	case j.goPanic:
		return !startsRecord(line)
	}
	return false
}

// startsRecord reports whether line looks like the start of a new record:
// JSON, logfmt with a well-known key, or a leading timestamp.
func startsRecord(line []byte) bool {
	if line[0] == '{' {
		return true
	}
	for _, k := range [][]byte{[]byte("time="), []byte("level="), []byte("ts="), []byte("msg=")} {
		if bytes.HasPrefix(line, k) {
			return true
		}
	}
	_, n := parseTimestamp(line, nil)
	return n > 0
}
