package sink

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sync"
)

// Writer is the `stdout` output: it writes each record as one line of JSON
// to W and acknowledges a batch once the batch is written and flushed. It is
// the dry run a person uses to see what would be sent.
//
// Concurrency: Send is safe for concurrent use; batches are written whole,
// never interleaved. Run only waits for its context to end.
type Writer struct {
	mu sync.Mutex
	bw *bufio.Writer
}

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{bw: bufio.NewWriterSize(w, 64<<10)}
}

// Send writes b and acknowledges it. A write error is returned and the batch
// is not acknowledged.
func (w *Writer) Send(ctx context.Context, b *Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range b.Records {
		w.bw.Write(b.Records[i].Value)
		w.bw.WriteByte('\n')
	}
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("write records: %w", err)
	}
	b.Ack()
	return nil
}

// Run returns when ctx ends; the Writer has no background work.
func (w *Writer) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}
