package kafka

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/bits"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// Header names of every record loglet produces.
const (
	HeaderContentType = "content-type"  // application/json, or application/x-protobuf for otlp_proto
	HeaderFile        = "loglet-file"   // the source file's identity (dev:inode:fingerprint)
	HeaderOffset      = "loglet-offset" // the record's byte offset in that file, in decimal
	HeaderEnd         = "loglet-end"    // the byte offset just after the record in that file, in decimal (when known)
)

// recordBatchHeader is the size of a record batch's fields before its
// records (magic 2, KIP-98): base offset 8, batch length 4, partition
// leader epoch 4, magic 1, CRC 4, attributes 2, last offset delta 4, first
// and max timestamps 8 each, producer id 8, producer epoch 2, base
// sequence 4 and the record count 4.
const recordBatchHeader = 61

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// recordSetEncoder writes the record set of a produce request (a
// [protocol.RawRecordSet]) from a request's entries: its size and one
// record batch (magic 2) holding one record per entry, each with the
// route's key, its value and loglet's headers (content-type, loglet-file,
// loglet-offset, and loglet-end when the record's end is known).
//
// The bytes are those kafka-go's own encoder writes for the same records
// (TestRecordSetMatchesKafkaGo compares them, compressed or not), but
// appended to one buffer: kafka-go writes each field of each record
// through an io.Writer into its page buffer, about 25 calls a record (a
// varint, a key, a value, a header name or value each), which was most of
// the 23% of loglet's CPU that kafka-go took at full speed. Timestamps are
// in milliseconds since the epoch, as kafka-go writes them, but computed
// without its overflow past 2262, rounded down before 1970 (kafka-go
// rounds towards zero), and kept at the epoch itself (where kafka-go,
// taking 0 for no time, writes the present).
//
// Concurrency: one request at a time, from encode until kafka-go has
// written the request.
type recordSetEncoder struct {
	buf     []byte // the record set, reused from one request to the next
	records []byte // the records before compression, when compressing
	zw      appendWriter
	reader  bytes.Reader // over buf, for kafka-go to copy it into its request
}

// keepBytes is the most buffer an encoder keeps while the output has
// nothing to send: what a request at a low rate needs.
const keepBytes = 64 << 10

// shrink lets go of buffers above keepBytes, which only a burst's requests
// need. It does nothing on a nil encoder.
func (enc *recordSetEncoder) shrink() {
	if enc == nil {
		return
	}
	if cap(enc.buf) > keepBytes {
		enc.buf = nil
	}
	if cap(enc.records) > keepBytes {
		enc.records = nil
	}
}

// encode returns the record set of entries, compressed with codec (none
// when it is 0). The bytes are valid until the next call.
func (enc *recordSetEncoder) encode(key, ctype []byte, entries []entry, codec kafka.Compression) ([]byte, error) {
	if len(entries) == 0 {
		return nil, fmt.Errorf("encode a record set: no records")
	}
	b := enc.buf[:0]
	b = append(b, 0, 0, 0, 0) // the record set's size
	start := len(b)
	b = append(b, make([]byte, recordBatchHeader)...)
	first := millis(entries[0].rec.Time)
	maxTime := first
	records := b
	var z kafka.CompressionCodec
	if codec != 0 {
		if z = codec.Codec(); z == nil {
			return nil, fmt.Errorf("encode a record set: no codec for compression %d", codec)
		}
		records = enc.records[:0]
	}
	var num recordNumbers
	for i := range entries {
		e := &entries[i]
		t := millis(e.rec.Time)
		maxTime = max(maxTime, t)
		records = appendRecord(records, t-first, int64(i), key, ctype, e, &num)
	}
	if z != nil {
		enc.records = records
		enc.zw.b = b
		w := z.NewWriter(&enc.zw)
		if _, err := w.Write(records); err != nil {
			return nil, fmt.Errorf("compress a record set with %s: %w", z.Name(), err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("compress a record set with %s: %w", z.Name(), err)
		}
		b, enc.zw.b = enc.zw.b, nil
	} else {
		b = records
	}
	h := b[start : start+recordBatchHeader]
	be := binary.BigEndian
	// base offset 0 (h[0:8])
	be.PutUint32(h[8:], uint32(len(b)-start-12)) // the bytes after this field
	be.PutUint32(h[12:], ^uint32(0))             // partition leader epoch -1
	h[16] = 2                                    // magic
	be.PutUint16(h[21:], uint16(codec)&7)        // attributes: the codec
	be.PutUint32(h[23:], uint32(len(entries)-1)) // last offset delta
	be.PutUint64(h[27:], uint64(first))
	be.PutUint64(h[35:], uint64(maxTime))
	be.PutUint64(h[43:], ^uint64(0)) // producer id -1
	be.PutUint16(h[51:], ^uint16(0)) // producer epoch -1
	be.PutUint32(h[53:], ^uint32(0)) // base sequence -1
	be.PutUint32(h[57:], uint32(len(entries)))
	be.PutUint32(h[17:], crc32.Checksum(b[start+21:], castagnoli))
	be.PutUint32(b[start-4:], uint32(len(b)-start))
	enc.buf = b
	return b, nil
}

// recordNumbers keeps the decimal offsets of the record last written: a
// record's offset is most often the previous one's end, whose digits are
// then reused.
type recordNumbers struct {
	offset, end   [20]byte
	nOffset, nEnd int
	lastEnd       int64
	hasEnd        bool
}

// appendRecord appends one record of a batch: its length, attributes (0),
// timestamp and offset deltas, key, value and headers.
func appendRecord(b []byte, timeDelta, offsetDelta int64, key, ctype []byte, e *entry, num *recordNumbers) []byte {
	pos := e.rec.Pos
	if num.hasEnd && pos.Offset == num.lastEnd {
		num.offset, num.nOffset = num.end, num.nEnd
	} else {
		num.nOffset = len(strconv.AppendInt(num.offset[:0], pos.Offset, 10))
	}
	offset := num.offset[:num.nOffset]
	withEnd := pos.End > pos.Offset
	num.hasEnd = withEnd
	var end []byte
	if withEnd {
		num.nEnd = len(strconv.AppendInt(num.end[:0], pos.End, 10))
		num.lastEnd = pos.End
		end = num.end[:num.nEnd]
	}
	headers := int64(3)
	size := 1 + varintSize(timeDelta) + varintSize(offsetDelta) +
		bytesSize(len(key)) + bytesSize(len(e.value)) +
		bytesSize(len(HeaderContentType)) + bytesSize(len(ctype)) +
		bytesSize(len(HeaderFile)) + bytesSize(len(pos.File)) +
		bytesSize(len(HeaderOffset)) + bytesSize(len(offset))
	if withEnd {
		headers = 4
		size += bytesSize(len(HeaderEnd)) + bytesSize(len(end))
	}
	size += varintSize(headers)
	b = binary.AppendVarint(b, int64(size))
	b = append(b, 0) // attributes
	b = binary.AppendVarint(b, timeDelta)
	b = binary.AppendVarint(b, offsetDelta)
	b = appendBytes(b, key)
	b = appendBytes(b, e.value)
	b = binary.AppendVarint(b, headers)
	b = appendString(b, HeaderContentType)
	b = appendBytes(b, ctype)
	b = appendString(b, HeaderFile)
	b = appendString(b, pos.File)
	b = appendString(b, HeaderOffset)
	b = appendBytes(b, offset)
	if withEnd {
		b = appendString(b, HeaderEnd)
		b = appendBytes(b, end)
	}
	return b
}

// millis is t in milliseconds since the Unix epoch, the record
// timestamps of Kafka; a zero t, which no record has, is the present, as
// kafka-go takes it.
func millis(t time.Time) int64 {
	if t.IsZero() {
		t = time.Now()
	}
	return t.UnixMilli()
}

// appendBytes appends b with its length as a varint, as Kafka's records
// hold keys, values and header values.
func appendBytes(dst, b []byte) []byte {
	return append(binary.AppendVarint(dst, int64(len(b))), b...)
}

func appendString(dst []byte, s string) []byte {
	return append(binary.AppendVarint(dst, int64(len(s))), s...)
}

// varintSize is the length of n as a zig-zag varint.
func varintSize(n int64) int {
	u := uint64(n<<1) ^ uint64(n>>63)
	return (bits.Len64(u|1) + 6) / 7
}

func bytesSize(n int) int { return varintSize(int64(n)) + n }

// appendWriter is an io.Writer appending to b, for the compressors.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}
