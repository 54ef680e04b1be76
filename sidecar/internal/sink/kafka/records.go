package kafka

import (
	"bytes"
	"io"
	"strconv"

	"github.com/segmentio/kafka-go"
)

// Header names of every record loglet produces.
const (
	HeaderContentType = "content-type"  // application/json, or application/x-protobuf for otlp_proto
	HeaderFile        = "loglet-file"   // the source file's identity (dev:inode:fingerprint)
	HeaderOffset      = "loglet-offset" // the record's byte offset in that file, in decimal
	HeaderEnd         = "loglet-end"    // the byte offset just after the record in that file, in decimal (when known)
)

// recordReader feeds a produce request's records to kafka-go without a
// kafka.Message per record: the record, its key and value readers and its
// headers are reused from one record to the next, which kafka-go allows
// because it encodes each record before reading the next.
type recordReader struct {
	entries  []entry
	i        int
	key      []byte
	ctype    []byte
	rec      kafka.Record
	k, v     bytesReader
	hdr      [4]kafka.Header
	file     string
	fileB    []byte
	offset   []byte
	end      []byte
	fileSeen bool
}

func newRecordReader(key, contentType []byte, entries []entry) *recordReader {
	return &recordReader{entries: entries, key: key, ctype: contentType, offset: make([]byte, 0, 20), end: make([]byte, 0, 20)}
}

// ReadRecord returns the next record, or io.EOF after the last.
func (r *recordReader) ReadRecord() (*kafka.Record, error) {
	if r.i >= len(r.entries) {
		return nil, io.EOF
	}
	e := &r.entries[r.i]
	r.i++
	if !r.fileSeen || e.rec.Pos.File != r.file {
		r.file, r.fileB, r.fileSeen = e.rec.Pos.File, []byte(e.rec.Pos.File), true
	}
	r.offset = strconv.AppendInt(r.offset[:0], e.rec.Pos.Offset, 10)
	r.hdr = [4]kafka.Header{
		{Key: HeaderContentType, Value: r.ctype},
		{Key: HeaderFile, Value: r.fileB},
		{Key: HeaderOffset, Value: r.offset},
	}
	hdrs := r.hdr[:3]
	if e.rec.Pos.End > e.rec.Pos.Offset {
		r.end = strconv.AppendInt(r.end[:0], e.rec.Pos.End, 10)
		r.hdr[3] = kafka.Header{Key: HeaderEnd, Value: r.end}
		hdrs = r.hdr[:4]
	}
	r.k.Reset(r.key)
	r.v.Reset(e.value)
	r.rec = kafka.Record{Time: e.rec.Time, Key: &r.k, Value: &r.v, Headers: hdrs}
	return &r.rec, nil
}

// bytesReader is a reusable kafka.Bytes over a byte slice.
type bytesReader struct{ bytes.Reader }

// Close does nothing: the bytes belong to the batch.
func (*bytesReader) Close() error { return nil }
