package kafka

import (
	"io"
	"sync"

	"github.com/pierrec/lz4/v4"
	"github.com/segmentio/kafka-go/compress"
	kafkalz4 "github.com/segmentio/kafka-go/compress/lz4"
)

// lz4BlockSize is the LZ4 frame block size loglet compresses with.
// pierrec/lz4's default, 4 MiB, holds two 4 MiB buffers per writer for
// requests of at most LOGLET_KAFKA_BATCH_BYTES (1 MiB); 256 KiB blocks need
// an eighth of that and compress loglet's records within a few percent as
// well (LZ4 matches reach back only 64 KiB; Kafka's Java client uses 64 KiB
// blocks).
const lz4BlockSize = lz4.Block256Kb

var installLZ4 sync.Once

// useLZ4Codec puts loglet's lz4 codec in kafka-go's codec table, which is
// where kafka.Compression.Codec, and so the record set encoder, looks
// codecs up (kafka-go's own encoder too, which the tests compare with);
// there is no other way to choose the block size. It is idempotent, and
// decoding is unchanged.
func useLZ4Codec() {
	installLZ4.Do(func() { compress.Codecs[compress.Lz4] = &lz4Codec{} })
}

// lz4Codec is kafka-go's lz4 codec with lz4BlockSize blocks.
//
// Concurrency: safe for concurrent use, as kafka-go requires.
type lz4Codec struct {
	kafkalz4.Codec // Code, Name and NewReader

	writers sync.Pool // *lz4.Writer
}

// NewWriter returns a writer compressing to w in lz4BlockSize blocks.
func (c *lz4Codec) NewWriter(w io.Writer) io.WriteCloser {
	z, _ := c.writers.Get().(*lz4.Writer)
	if z == nil {
		z = lz4.NewWriter(w)
		// Apply fails only for a size lz4 does not know; the writer would
		// then keep its default size, which works too.
		_ = z.Apply(lz4.BlockSizeOption(lz4BlockSize))
	} else {
		z.Reset(w)
	}
	return &lz4Writer{z: z, pool: &c.writers}
}

type lz4Writer struct {
	z    *lz4.Writer
	pool *sync.Pool
}

func (w *lz4Writer) Write(p []byte) (int, error) { return w.z.Write(p) }

// Close flushes the frame and returns the writer to the pool.
func (w *lz4Writer) Close() error {
	z := w.z
	if z == nil {
		return nil
	}
	w.z = nil
	err := z.Close()
	z.Reset(nil)
	w.pool.Put(z)
	return err
}
