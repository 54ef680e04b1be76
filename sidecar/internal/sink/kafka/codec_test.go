package kafka

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/segmentio/kafka-go/compress"
)

func TestLZ4CodecUsesSmallBlocksAndRoundTrips(t *testing.T) {
	useLZ4Codec()
	useLZ4Codec() // idempotent
	codec := compress.Lz4.Codec()
	if _, ok := codec.(*lz4Codec); !ok {
		t.Fatalf("kafka-go's lz4 codec is %T, want *lz4Codec", codec)
	}
	var data []byte
	for i := 0; len(data) < 1<<20; i++ {
		data = fmt.Appendf(data, `{"@timestamp":"2020-03-02T09:22:24Z","level":"info","msg":"sample log %d","fields":{"count":%d}}`+"\n", i, i*7)
	}
	for round := range 3 { // writers come back from the pool with their block size
		var buf bytes.Buffer
		w := codec.NewWriter(&buf)
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		frame := buf.Bytes()
		// LZ4 frame: 4-byte magic, FLG, then BD, whose bits 4-6 give the
		// block size: 4 is 64 KiB, 5 is 256 KiB, 6 is 1 MiB, 7 is 4 MiB.
		if len(frame) < 6 || frame[5]>>4&7 != 5 {
			t.Fatalf("round %d: frame header % x: block size is not 256 KiB", round, frame[:min(len(frame), 6)])
		}
		if len(frame) >= len(data)/4 {
			t.Errorf("round %d: %d bytes compressed to %d", round, len(data), len(frame))
		}
		r := codec.NewReader(bytes.NewReader(frame))
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("round %d: %d bytes decompressed to %d different ones", round, len(data), len(got))
		}
	}
}
