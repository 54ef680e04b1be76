package tail

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// DefaultReadSize is the size of a Reader's read buffer when ReadSize is 0.
const DefaultReadSize = 64 << 10

// LineFunc receives a complete line without its newline, the byte range
// [start, end) it spans in the file (end includes the newline), and whether
// it was cut to the line size limit. line is only valid during the call.
type LineFunc func(line []byte, start, end int64, truncated bool)

// Reader reads complete lines from an open file, starting at an offset.
//
// A last line with no newline yet is held back until it is completed or the
// caller flushes it (FlushPartial) at the end of the file's life. A line
// longer than MaxLine is cut to MaxLine bytes, handed out once its newline
// arrives with truncated set, and the rest of it skipped.
//
// Concurrency: a Reader is used by one goroutine; it owns nothing but its
// buffers and does not close the file.
type Reader struct {
	// MaxLine is the longest line handed out whole; longer lines are cut.
	// Zero means 1 MiB.
	MaxLine int
	// ReadSize is the read buffer's size; zero means DefaultReadSize.
	ReadSize int

	f         *os.File
	off       int64  // next file offset to read
	buf       []byte // read buffer
	carry     []byte // start of an incomplete line (at most MaxLine bytes)
	carryFrom int64  // file offset of carry's first byte
	carrying  bool
	cut       bool   // the carried line passed MaxLine
	head      []byte // the file's first bytes as this Reader read them, up to FingerprintSize
}

// NewReader returns a Reader of f positioned at offset.
func NewReader(f *os.File, offset int64) *Reader {
	return &Reader{f: f, off: offset}
}

func (r *Reader) maxLine() int {
	if r.MaxLine > 0 {
		return r.MaxLine
	}
	return 1 << 20
}

// Offset is the next file offset the Reader will read.
func (r *Reader) Offset() int64 { return r.off }

// Partial reports whether a started line is held back, and where it starts.
func (r *Reader) Partial() (start int64, ok bool) { return r.carryFrom, r.carrying }

// PartialTail returns the last (up to) n bytes of the held-back line, which
// end at Offset; valid until the next Read or Reset.
func (r *Reader) PartialTail(n int) []byte {
	if !r.carrying || r.cut {
		return nil
	}
	return r.carry[max(len(r.carry)-n, 0):]
}

// Head returns the file's first bytes as this Reader read them (up to
// FingerprintSize), when it read them: a fingerprint taken from them is of
// the content the lines came from, even if the file was rewritten since.
// Nil when the Reader started past the beginning. Valid until the next
// Read or Reset.
func (r *Reader) Head() []byte { return r.head }

// Reset restarts reading at offset, dropping any held-back line (after a
// truncation the file's old content is gone).
func (r *Reader) Reset(offset int64) {
	r.off = offset
	r.head = r.head[:0]
	r.carry = r.carry[:0]
	r.carrying, r.cut = false, false
}

// Read reads once from the file and hands out every line completed by the
// data read. It returns the number of bytes read, and io.EOF when there was
// nothing new.
func (r *Reader) Read(fn LineFunc) (int, error) {
	if r.buf == nil {
		size := r.ReadSize
		if size <= 0 {
			size = DefaultReadSize
		}
		r.buf = make([]byte, size)
	}
	n, err := r.f.ReadAt(r.buf, r.off)
	if n == 0 {
		if err == nil || errors.Is(err, io.EOF) {
			return 0, io.EOF
		}
		return 0, fmt.Errorf("read %s: %w", r.f.Name(), err)
	}
	chunk := r.buf[:n]
	base := r.off
	r.off += int64(n)
	if base == int64(len(r.head)) && len(r.head) < FingerprintSize {
		r.head = append(r.head, chunk[:min(n, FingerprintSize-len(r.head))]...)
	}
	limit := r.maxLine()
	pos := 0
	for pos < len(chunk) {
		nl := bytes.IndexByte(chunk[pos:], '\n')
		if nl < 0 {
			r.hold(chunk[pos:], base+int64(pos), limit)
			break
		}
		end := base + int64(pos+nl+1)
		if r.carrying {
			r.hold(chunk[pos:pos+nl], base+int64(pos), limit)
			fn(r.carry, r.carryFrom, end, r.cut)
			r.carry = r.carry[:0]
			r.carrying, r.cut = false, false
		} else {
			line := chunk[pos : pos+nl]
			truncated := len(line) > limit
			if truncated {
				line = line[:limit]
			}
			fn(line, base+int64(pos), end, truncated)
		}
		pos += nl + 1
	}
	return n, nil
}

// hold appends part of an incomplete line to the carry, up to max bytes.
func (r *Reader) hold(part []byte, at int64, limit int) {
	if !r.carrying {
		r.carrying = true
		r.carryFrom = at
		r.carry = r.carry[:0]
	}
	room := limit - len(r.carry)
	if len(part) > room {
		part = part[:max(room, 0)]
		r.cut = true
	}
	r.carry = append(r.carry, part...)
}

// FlushPartial hands out the held-back line, if any, as it is: at the end of
// a rotated or deleted file, or at shutdown, it will not be completed.
func (r *Reader) FlushPartial(fn LineFunc) {
	if !r.carrying {
		return
	}
	fn(r.carry, r.carryFrom, r.off, r.cut)
	r.carry = r.carry[:0]
	r.carrying, r.cut = false, false
}
