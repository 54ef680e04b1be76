package pipeline

import (
	"github.com/loglet/loglet/sidecar/internal/checkpoint"
	"github.com/loglet/loglet/sidecar/internal/tail"
)

// ackPrefix is the acknowledged prefix of one file, in file offsets: the
// spans of the file handed to the sink, in file order, and how far from
// the start every one of them is acknowledged. The checkpoint saves the
// prefix's end, never more: a span acknowledged out of order waits until
// every span before it is acknowledged too.
//
// A span is handed out with the item it stands for (the pipeline's batch),
// which is given back when the span leaves the prefix's queue, so the
// caller can reuse it; the prefix knows nothing else of it.
//
// Generations: when the file's content ends (a truncation, a rewrite),
// endGeneration starts the prefix again at 0; the spans of the old content
// that are still out leave the queue when acknowledged, in order, but no
// longer move the prefix.
//
// Concurrency: none of its own; the file's mutex guards it (file.mu).
type ackPrefix[T any] struct {
	gen   int       // the current generation
	spans []span[T] // handed out and not yet popped, in file order
	first uint64    // the ticket of spans[0]

	committed     int64              // end of the acknowledged prefix
	committedTail tail.Fingerprint   // the bytes just before committed
	landed        *checkpoint.Landed // where the last span of the prefix went in the output

	readEnd     int64            // end of what was handed out
	readTail    tail.Fingerprint // the bytes just before readEnd
	readTailSet bool
}

// span is one range of the file handed out, up to end.
type span[T any] struct {
	item   T
	gen    int
	end    int64
	tail   tail.Fingerprint
	landed checkpoint.Landed
	acked  bool
}

// resume places the prefix at offset, acknowledged (a checkpoint, a start
// at the end, a copy placed after what was read), with the fingerprint of
// the bytes before it (zero Len when unknown) and where it landed.
func (a *ackPrefix[T]) resume(offset int64, before tail.Fingerprint, landed *checkpoint.Landed) {
	a.committed, a.readEnd = offset, offset
	a.committedTail, a.readTail, a.readTailSet = before, before, before.Len > 0
	a.landed = landed
}

// handOut appends the span up to end, whose last bytes hash to before, and
// returns its ticket for ack. An end at or before readEnd (a batch that
// consumed nothing new) leaves readEnd where it is.
func (a *ackPrefix[T]) handOut(item T, end int64, before tail.Fingerprint) uint64 {
	tk := a.first + uint64(len(a.spans))
	a.spans = append(a.spans, span[T]{item: item, gen: a.gen, end: end, tail: before})
	if end > a.readEnd {
		a.readEnd = end
		a.readTail, a.readTailSet = before, before.Len > 0
	}
	return tk
}

// ack marks the span of ticket tk acknowledged, landed where the output
// says (zero: it does not say), and pops every acknowledged span at the
// head of the queue, moving the prefix over those of the current
// generation. It appends the popped spans' items to popped and returns it,
// with how many bytes the prefix moved. An unknown ticket, or one already
// acknowledged, changes nothing.
func (a *ackPrefix[T]) ack(tk uint64, landed checkpoint.Landed, popped []T) ([]T, int64) {
	if tk < a.first || tk-a.first >= uint64(len(a.spans)) || a.spans[tk-a.first].acked {
		return popped, 0
	}
	s := &a.spans[tk-a.first]
	s.acked, s.landed = true, landed
	var advanced int64
	for len(a.spans) > 0 && a.spans[0].acked {
		head := a.spans[0]
		a.spans[0] = span[T]{}
		a.spans = a.spans[1:]
		a.first++
		if head.gen == a.gen {
			advanced += head.end - a.committed
			a.committed, a.committedTail = head.end, head.tail
			if head.landed.Topic != "" {
				l := head.landed
				a.landed = &l
			}
		}
		popped = append(popped, head.item)
	}
	return popped, advanced
}

// endGeneration ends the current content: it returns how far it was handed
// out and the fingerprint of the bytes before that (tailSet false when
// unknown), and starts the prefix again at 0 in a new generation. Where the
// output put the last records stays known.
func (a *ackPrefix[T]) endGeneration() (end int64, before tail.Fingerprint, tailSet bool) {
	end, before, tailSet = a.readEnd, a.readTail, a.readTailSet
	a.gen++
	a.committed, a.readEnd = 0, 0
	a.committedTail = tail.Fingerprint{}
	a.readTail, a.readTailSet = tail.Fingerprint{}, false
	return end, before, tailSet
}

// settled reports whether everything handed out has been acknowledged.
func (a *ackPrefix[T]) settled() bool { return len(a.spans) == 0 && a.committed == a.readEnd }

// saved is what a checkpoint of the file may save: the prefix's end, the
// fingerprint of the bytes before it (zero Len when unknown, and always at
// 0), and where its last span landed (nil when the output never said).
func (a *ackPrefix[T]) saved() (offset int64, before tail.Fingerprint, landed *checkpoint.Landed) {
	if a.committed == 0 {
		before = tail.Fingerprint{}
	} else {
		before = a.committedTail
	}
	return a.committed, before, a.landed
}

// unacknowledged is the byte range handed out and not yet acknowledged
// (from == to when there is none).
func (a *ackPrefix[T]) unacknowledged() (from, to int64) { return a.committed, a.readEnd }
