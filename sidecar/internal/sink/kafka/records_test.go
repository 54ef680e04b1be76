package kafka

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"

	"github.com/loglet/loglet/sidecar/internal/sink"
)

// kafkaGoRecordSet is what kafka-go's own encoder writes for entries, each
// record given to it as a protocol.Record with loglet's headers: the
// reference the encoder is held to.
func kafkaGoRecordSet(t *testing.T, key, ctype []byte, entries []entry, codec kafka.Compression) []byte {
	t.Helper()
	recs := make([]protocol.Record, len(entries))
	for i, e := range entries {
		hdrs := []protocol.Header{
			{Key: HeaderContentType, Value: ctype},
			{Key: HeaderFile, Value: []byte(e.rec.Pos.File)},
			{Key: HeaderOffset, Value: strconv.AppendInt(nil, e.rec.Pos.Offset, 10)},
		}
		if e.rec.Pos.End > e.rec.Pos.Offset {
			hdrs = append(hdrs, protocol.Header{Key: HeaderEnd, Value: strconv.AppendInt(nil, e.rec.Pos.End, 10)})
		}
		recs[i] = protocol.Record{Time: e.rec.Time, Key: protocol.NewBytes(key), Value: protocol.NewBytes(e.value), Headers: hdrs}
	}
	rs := protocol.RecordSet{Version: 2, Attributes: protocol.Attributes(codec), Records: protocol.NewRecordReader(recs...)}
	var buf bytes.Buffer
	if _, err := rs.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// testEntries returns n entries of one or two files, with the end offset
// known or not, and times that go back as well as forth.
func testEntries(n int, files int, withEnd bool) []entry {
	recs := make([]sink.Record, n)
	entries := make([]entry, n)
	base := time.Date(2020, 3, 2, 9, 22, 24, 123456789, time.UTC)
	for i := range recs {
		v := fmt.Appendf(nil, `{"@timestamp":"2020-03-02T09:22:24Z","msg":"sample log %d","fields":{"count":%d}}`, i, i*i)
		pos := sink.Position{File: fmt.Sprintf("2049:%d:9f86d081884c7d65", 131+i%files), Offset: int64(i) * 97}
		if withEnd && i%5 != 3 { // some without, as a record of unknown end has
			pos.End = pos.Offset + 97
		}
		if i%7 == 6 {
			pos.Offset += 3 // not the previous record's end
		}
		recs[i] = sink.Record{Value: v, Time: base.Add(time.Duration(i%4-1) * 1500 * time.Millisecond), Pos: pos}
		entries[i] = entry{rec: &recs[i], value: v}
	}
	return entries
}

// The record set is byte for byte what kafka-go's own encoder writes for
// the same records, with every codec: batch header, CRC, varints, headers,
// compressed records.
func TestRecordSetMatchesKafkaGo(t *testing.T) {
	useLZ4Codec()
	codecs := map[string]kafka.Compression{"none": 0, "gzip": kafka.Gzip, "snappy": kafka.Snappy, "lz4": kafka.Lz4, "zstd": kafka.Zstd}
	sizes := []struct {
		n, files int
		withEnd  bool
	}{{1, 1, true}, {1, 1, false}, {2, 1, true}, {40, 2, true}, {300, 1, false}, {1500, 3, true}}
	var enc recordSetEncoder // reused, as the sink reuses it
	for name, codec := range codecs {
		for _, sz := range sizes {
			t.Run(fmt.Sprintf("%s/%d records of %d files, end %v", name, sz.n, sz.files, sz.withEnd), func(t *testing.T) {
				entries := testEntries(sz.n, sz.files, sz.withEnd)
				key, ctype := []byte("web-1"), contentTypeJSON
				got, err := enc.encode(key, ctype, entries, codec)
				if err != nil {
					t.Fatal(err)
				}
				want := kafkaGoRecordSet(t, key, ctype, entries, codec)
				if codec == kafka.Snappy {
					// kafka-go's snappy writer ends a frame where fewer than
					// 1 KiB of its 32 KiB are left, which depends on how the
					// records are cut into writes: compare what is framed.
					got, want = unframed(t, got), unframed(t, want)
				}
				if !bytes.Equal(got, want) {
					i := 0
					for i < min(len(got), len(want)) && got[i] == want[i] {
						i++
					}
					t.Fatalf("%d bytes, kafka-go's %d; they differ from byte %d", len(got), len(want), i)
				}
			})
		}
	}
}

// unframed checks the CRC of a record set holding one snappy batch and
// returns it with its records decompressed, and its size, batch length and
// CRC zeroed.
func unframed(t *testing.T, set []byte) []byte {
	t.Helper()
	const start = 4
	h := set[start : start+recordBatchHeader]
	if got, want := binary.BigEndian.Uint32(h[17:]), crc32.Checksum(set[start+21:], castagnoli); got != want {
		t.Fatalf("CRC %#x, want %#x", got, want)
	}
	if got, want := int(binary.BigEndian.Uint32(set)), len(set)-start; got != want {
		t.Fatalf("size %d, want %d", got, want)
	}
	if got, want := int(binary.BigEndian.Uint32(h[8:])), len(set)-start-12; got != want {
		t.Fatalf("batch length %d, want %d", got, want)
	}
	r := kafka.Snappy.Codec().NewReader(bytes.NewReader(set[start+recordBatchHeader:]))
	defer r.Close()
	records, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte{0, 0, 0, 0}, h...)
	clear(out[start+8 : start+12])
	clear(out[start+17 : start+21])
	return append(out, records...)
}

// kafka-go's decoder reads the record set back to the records given:
// times to the millisecond, keys, values and headers.
func TestRecordSetDecodes(t *testing.T) {
	entries := testEntries(50, 2, true)
	var enc recordSetEncoder
	set, err := enc.encode([]byte("web-1"), contentTypeJSON, entries, kafka.Snappy)
	if err != nil {
		t.Fatal(err)
	}
	var rs protocol.RecordSet
	if _, err := rs.ReadFrom(bytes.NewReader(set)); err != nil {
		t.Fatal(err)
	}
	type rec struct {
		Time       time.Time
		Key, Value string
		Headers    map[string]string
	}
	var got, want []rec
	for _, e := range entries {
		h := map[string]string{HeaderContentType: string(contentTypeJSON), HeaderFile: e.rec.Pos.File, HeaderOffset: strconv.FormatInt(e.rec.Pos.Offset, 10)}
		if e.rec.Pos.End > e.rec.Pos.Offset {
			h[HeaderEnd] = strconv.FormatInt(e.rec.Pos.End, 10)
		}
		want = append(want, rec{Time: e.rec.Time.Truncate(time.Millisecond), Key: "web-1", Value: string(e.value), Headers: h})
	}
	for {
		r, err := rs.Records.ReadRecord()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		k, _ := io.ReadAll(r.Key)
		v, _ := io.ReadAll(r.Value)
		h := map[string]string{}
		for _, x := range r.Headers {
			h[x.Key] = string(x.Value)
		}
		got = append(got, rec{Time: r.Time.UTC(), Key: string(k), Value: string(v), Headers: h})
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("decoded records (-want +got):\n%s", d)
	}
}

// An encoder keeps a low rate's buffer when the output goes quiet and lets
// a burst's go, then encodes as before.
func TestRecordSetEncoderShrinks(t *testing.T) {
	var enc recordSetEncoder
	small, big := testEntries(20, 1, true), testEntries(3000, 1, true)
	for _, tc := range []struct {
		entries []entry
		codec   kafka.Compression
		kept    bool
	}{
		{small, kafka.Lz4, true},
		{big, 0, false},
		{big, kafka.Gzip, true}, // compressed under keepBytes; its records buffer goes
		{small, 0, true},
	} {
		want := kafkaGoRecordSet(t, []byte("web-1"), contentTypeJSON, tc.entries, tc.codec)
		got, err := enc.encode([]byte("web-1"), contentTypeJSON, tc.entries, tc.codec)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%d records, %v: not kafka-go's bytes", len(tc.entries), tc.codec)
		}
		before, beforeRecords := cap(enc.buf), cap(enc.records)
		if tc.codec == kafka.Gzip && beforeRecords <= keepBytes {
			t.Fatalf("the records buffer is %d bytes: the test needs more", beforeRecords)
		}
		enc.shrink()
		if kept := cap(enc.buf) == before && before > 0; kept != tc.kept || cap(enc.records) > keepBytes {
			t.Errorf("%d records, %v: buffer of %d bytes kept %v, want %v (records buffer %d bytes)", len(tc.entries), tc.codec, before, kept, tc.kept, cap(enc.records))
		}
	}
	var none *recordSetEncoder
	none.shrink() // a sink that has not sent yet
}

// Any request's record set is kafka-go's bytes: the fuzzer picks the
// records' count, values, files, offsets, ends and times (after the epoch
// itself and before 2262, where kafka-go's millisecond arithmetic is
// exact), the key and the codec.
func FuzzRecordSet(f *testing.F) {
	useLZ4Codec()
	f.Add([]byte("web-1"), []byte(`{"msg":"a"}`+"\n"+`{"msg":"bb"}`), "2049:131:9f86d081884c7d65", int64(0), int64(1583140944123), uint8(0), uint8(3))
	f.Add([]byte{}, []byte(""), "", int64(1<<40), int64(0), uint8(2), uint8(1))
	f.Add([]byte("k"), bytes.Repeat([]byte("x\n"), 300), "f", int64(5), int64(9214646400000), uint8(4), uint8(200))
	codecs := []kafka.Compression{0, kafka.Gzip, kafka.Lz4, kafka.Zstd}
	f.Fuzz(func(t *testing.T, key, values []byte, file string, offset, millis int64, codecN, n uint8) {
		if offset < 0 || offset > 1<<50 || millis < 0 || millis > 9214646400000 || n == 0 {
			t.Skip()
		}
		parts := bytes.Split(values, []byte("\n"))
		recs := make([]sink.Record, n)
		entries := make([]entry, n)
		for i := range recs {
			v := parts[i%len(parts)]
			pos := sink.Position{File: file, Offset: offset}
			if i%3 != 2 {
				pos.End = offset + int64(len(v)) + 1
			}
			offset += int64(len(v)) + 1
			if i%4 == 3 {
				offset += int64(i) // a gap: the next offset is not this end
			}
			tm := time.UnixMilli(millis + int64(i%5-2)*int64(len(v))).UTC()
			if tm.UnixMilli() < 1 {
				tm = time.UnixMilli(1) // kafka-go takes 0 for "no time" and writes the present
			}
			recs[i] = sink.Record{Value: v, Time: tm, Pos: pos}
			entries[i] = entry{rec: &recs[i], value: v}
		}
		codec := codecs[int(codecN)%len(codecs)]
		if key == nil {
			key = []byte{} // the sink's key is never nil; kafka-go writes nil as null
		}
		var enc recordSetEncoder
		got, err := enc.encode(key, contentTypeJSON, entries, codec)
		if err != nil {
			t.Fatal(err)
		}
		if want := kafkaGoRecordSet(t, key, contentTypeJSON, entries, codec); !bytes.Equal(got, want) {
			t.Fatalf("%d records, codec %v: %d bytes, kafka-go's %d", n, codec, len(got), len(want))
		}
	})
}
