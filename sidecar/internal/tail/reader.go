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

// Line is a complete line: its text without the newline, the byte range
// [Start, End) it spans in the file (End includes the newline), and whether
// it was cut to the line size limit. The Reader returns the same Line each
// time: it and its Text are only valid until the Reader's next call.
type Line struct {
	Text       []byte
	Start, End int64
	Truncated  bool
}

// LineFunc receives a complete line without its newline, the byte range
// [start, end) it spans in the file (end includes the newline), and whether
// it was cut to the line size limit. line is only valid during the call.
type LineFunc func(line []byte, start, end int64, truncated bool)

// Reader reads complete lines from an open file, starting at an offset.
//
// It is pulled: [Reader.Fill] reads once from the file, and [Reader.Next]
// then returns, one at a time, the lines that data completed, until it
// returns nil; Fill reads again. Waiting for more data is the caller's:
// Fill never blocks beyond the read itself, and reports io.EOF when there
// was nothing new. ([Reader.Read] is Fill and Next in one call, for callers
// that want every line through a function.)
//
// A last line with no newline yet is held back until it is completed or the
// caller takes it ([Reader.Flush]) at the end of the file's life. A line
// longer than MaxLine is cut to MaxLine bytes, handed out once its newline
// arrives with Truncated set, and the rest of it skipped.
//
// Concurrency: a Reader is used by one goroutine; it owns nothing but its
// buffers and does not close the file.
type Reader struct {
	// MaxLine is the longest line handed out whole; longer lines are cut.
	// Zero means 1 MiB.
	MaxLine int
	// ReadSize is the most new data one Fill reads (the buffer is TailSize
	// larger); zero means DefaultReadSize.
	ReadSize int

	f         *os.File
	off       int64  // next file offset to read
	buf       []byte // read buffer
	chunk     []byte // the data of the last Fill, in buf
	base      int64  // file offset of chunk's first byte
	pos       int    // how much of chunk Next has consumed
	carry     []byte // start of an incomplete line (at most MaxLine bytes)
	carryFrom int64  // file offset of carry's first byte
	carrying  bool
	cut       bool   // the carried line passed MaxLine
	head      []byte // the file's first bytes as this Reader read them, up to FingerprintSize
	line      Line   // what Next and Flush return
	// The last TailSize (or fewer) bytes read, which end at off: the next
	// Fill reads them again and compares (see ErrRewritten).
	prev    [TailSize]byte
	prevLen int
}

// ErrRewritten is Fill's error when the bytes just before the read
// position are no longer those it read there: the file was truncated and
// written again past the read position between two reads (copytruncate
// and a fast writer). The caller starts the file again from 0; nothing
// of the new content was taken.
var ErrRewritten = errors.New("the bytes before the read position changed")

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
// end at Offset; valid until the next Fill, Read or Reset.
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
// Fill, Read or Reset.
func (r *Reader) Head() []byte { return r.head }

// TailBefore returns the tail fingerprint (TailAt) of the bytes before end
// as this Reader read them, when the last Fill's data (with the bytes it
// read again) still holds them; ok is false otherwise. Unlike TailAt on
// the file, it is of the content the lines came from, even if the file was
// rewritten since. Valid until the next Fill, Read or Reset.
func (r *Reader) TailBefore(end int64) (fp Fingerprint, ok bool) {
	l := min(int64(TailSize), end)
	if end == r.off && int64(r.prevLen) >= l {
		return FingerprintOf(r.prev[int64(r.prevLen)-l : r.prevLen]), true
	}
	if r.chunk == nil || end > r.off || end-l < r.base {
		return Fingerprint{}, false
	}
	i := end - r.base
	return FingerprintOf(r.chunk[i-l : i]), true
}

// Reset restarts reading at offset, dropping any held-back line and any
// line of the last Fill not yet taken (after a truncation the file's old
// content is gone).
func (r *Reader) Reset(offset int64) {
	r.off = offset
	r.prevLen = 0
	r.head = r.head[:0]
	r.chunk, r.pos = nil, 0
	r.carry = r.carry[:0]
	r.carrying, r.cut = false, false
}

// Fill reads once from the file; Next then returns the lines the data
// completes. It returns the number of bytes read, and io.EOF when there was
// nothing new. While Next still has lines of the last Fill to return, Fill
// reads nothing and returns 0 and nil.
//
// After its first read, the same read also takes the (up to) TailSize
// bytes before the read position again, and Fill returns ErrRewritten,
// having taken nothing, when they changed. While a partial line is held
// back it does not compare: a writer may cut such a line back and finish
// it differently (applib does after a failed write), which the caller
// checks at the end of the file.
func (r *Reader) Fill() (int, error) {
	if r.pos < len(r.chunk) {
		return 0, nil
	}
	if r.buf == nil {
		size := r.ReadSize
		if size <= 0 {
			size = DefaultReadSize
		}
		r.buf = make([]byte, size+TailSize)
	}
	k := 0 // bytes read again before off; buf has room for them beside ReadSize
	if !r.carrying {
		k = r.prevLen
	}
	got, err := r.f.ReadAt(r.buf[:len(r.buf)-TailSize+k], r.off-int64(k))
	if got >= k && !bytes.Equal(r.buf[:k], r.prev[r.prevLen-k:r.prevLen]) {
		r.chunk, r.pos = nil, 0
		return 0, ErrRewritten
	}
	// Fewer than k bytes: the file is now shorter than what was read,
	// which the caller finds at the end of the file.
	n := max(got-k, 0)
	if n == 0 {
		r.chunk, r.pos = nil, 0
		if err == nil || errors.Is(err, io.EOF) {
			return 0, io.EOF
		}
		return 0, fmt.Errorf("read %s: %w", r.f.Name(), err)
	}
	r.chunk, r.pos = r.buf[k:got], 0
	r.base = r.off
	r.off += int64(n)
	r.prevLen = min(got, TailSize)
	copy(r.prev[:], r.buf[got-r.prevLen:got])
	if r.base == int64(len(r.head)) && len(r.head) < FingerprintSize {
		r.head = append(r.head, r.chunk[:min(n, FingerprintSize-len(r.head))]...)
	}
	return n, nil
}

// Next returns the next line completed by the data of the last Fill, and
// nil when there is none left (an incomplete last line is then held back).
// The Line is valid until the next call.
func (r *Reader) Next() *Line {
	chunk, pos := r.chunk, r.pos
	if pos >= len(chunk) {
		return nil
	}
	limit := r.maxLine()
	nl := bytes.IndexByte(chunk[pos:], '\n')
	if nl < 0 {
		r.hold(chunk[pos:], r.base+int64(pos), limit)
		r.pos = len(chunk)
		return nil
	}
	l := &r.line
	l.End = r.base + int64(pos+nl+1)
	r.pos = pos + nl + 1
	if r.carrying {
		r.hold(chunk[pos:pos+nl], r.base+int64(pos), limit)
		l.Text, l.Start, l.Truncated = r.carry, r.carryFrom, r.cut
		r.carry = r.carry[:0] // l.Text keeps its bytes until the next hold
		r.carrying, r.cut = false, false
		return l
	}
	text := chunk[pos : pos+nl]
	l.Truncated = len(text) > limit
	if l.Truncated {
		text = text[:limit]
	}
	l.Text, l.Start = text, r.base+int64(pos)
	return l
}

// Read reads once from the file and hands out every line completed by the
// data read: Fill, then Next until it returns nil. It returns the number
// of bytes read, and io.EOF when there was nothing new.
func (r *Reader) Read(fn LineFunc) (int, error) {
	n, err := r.Fill()
	for l := r.Next(); l != nil; l = r.Next() {
		fn(l.Text, l.Start, l.End, l.Truncated)
	}
	return n, err
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

// Flush returns the held-back line, if any, as it is, and stops holding it:
// at the end of a rotated or deleted file it will not be completed. It
// returns nil when no line is held back, or while Next still has lines of
// the last Fill to return (take them first). The Line is valid until the
// next call.
func (r *Reader) Flush() *Line {
	if !r.carrying || r.pos < len(r.chunk) {
		return nil
	}
	r.line = Line{Text: r.carry, Start: r.carryFrom, End: r.off, Truncated: r.cut}
	r.carry = r.carry[:0]
	r.carrying, r.cut = false, false
	return &r.line
}

// FlushPartial hands out the held-back line, if any, as it is (see Flush).
func (r *Reader) FlushPartial(fn LineFunc) {
	if l := r.Flush(); l != nil {
		fn(l.Text, l.Start, l.End, l.Truncated)
	}
}
