package pipeline

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/loglet/loglet/sidecar/internal/checkpoint"
	"github.com/loglet/loglet/sidecar/internal/tail"
)

// fpAt is a stand-in fingerprint of the bytes before offset end: distinct
// per end, so the test can tell which span's fingerprint was kept.
func fpAt(end int64) tail.Fingerprint { return tail.Fingerprint{Len: 8, Sum: uint64(end)} }

// prefixOp is one call on an ackPrefix: hand out a span up to end, ack the
// span of a ticket (landing at topic's offset next when topic is set), or
// end the generation.
type prefixOp struct {
	kind   string // "out", "ack" or "endGen"
	end    int64  // out: the span's end
	ticket int    // ack: the ticket (negative: one never handed out)
	topic  string // ack: where the output says it landed ("": it does not say)
	next   int64
}

func handOut(end int64) prefixOp { return prefixOp{kind: "out", end: end} }
func ackOf(tk int) prefixOp      { return prefixOp{kind: "ack", ticket: tk} }
func landedAck(tk int, topic string, next int64) prefixOp {
	return prefixOp{kind: "ack", ticket: tk, topic: topic, next: next}
}
func endGen() prefixOp { return prefixOp{kind: "endGen"} }

// prefixState is what the test observes after the ops.
type prefixState struct {
	Offset      int64 // what the checkpoint may save
	TailSum     uint64
	Landed      *checkpoint.Landed
	From, To    int64 // unacknowledged range
	Settled     bool
	Popped      []int64 // ends of the popped spans' items, in pop order
	Advanced    int64   // total bytes the prefix moved
	EndedAt     []int64 // what each endGeneration returned
	EndedTailOK []bool
}

func TestAckPrefix(t *testing.T) {
	tests := []struct {
		name  string
		start int64 // resume at start (with its fingerprint) when > 0
		ops   []prefixOp
		want  prefixState
	}{
		{
			name: "in order",
			ops:  []prefixOp{handOut(10), handOut(25), ackOf(0), ackOf(1)},
			want: prefixState{Offset: 25, TailSum: 25, From: 25, To: 25, Settled: true, Popped: []int64{10, 25}, Advanced: 25},
		},
		{
			name: "out of order: the prefix waits for the first span",
			ops:  []prefixOp{handOut(10), handOut(25), handOut(40), ackOf(2), ackOf(1)},
			want: prefixState{Offset: 0, From: 0, To: 40},
		},
		{
			name: "out of order, then the gap closes",
			ops:  []prefixOp{handOut(10), handOut(25), handOut(40), ackOf(2), ackOf(0)},
			want: prefixState{Offset: 10, TailSum: 10, From: 10, To: 40, Popped: []int64{10}, Advanced: 10},
		},
		{
			name: "a twice acknowledged or unknown ticket changes nothing",
			ops:  []prefixOp{handOut(10), handOut(25), ackOf(0), ackOf(0), ackOf(7), ackOf(-2)},
			want: prefixState{Offset: 10, TailSum: 10, From: 10, To: 25, Popped: []int64{10}, Advanced: 10},
		},
		{
			name:  "resumed from a checkpoint",
			start: 100,
			ops:   []prefixOp{handOut(150), ackOf(0)},
			want:  prefixState{Offset: 150, TailSum: 150, From: 150, To: 150, Settled: true, Popped: []int64{150}, Advanced: 50},
		},
		{
			name: "the end handed out never moves back",
			ops:  []prefixOp{handOut(30), handOut(20), ackOf(1)},
			want: prefixState{Offset: 0, From: 0, To: 30},
		},
		{
			name: "a second acknowledgement of a waiting span is ignored",
			ops:  []prefixOp{handOut(10), handOut(20), landedAck(1, "a", 5), landedAck(1, "b", 9), ackOf(0)},
			want: prefixState{Offset: 20, TailSum: 20, Landed: &checkpoint.Landed{Topic: "a", NextOffset: 5},
				From: 20, To: 20, Settled: true, Popped: []int64{10, 20}, Advanced: 20},
		},
		{
			name: "where the last span of the prefix landed; an output that says nothing keeps it",
			ops: []prefixOp{handOut(10), handOut(20), handOut(30),
				landedAck(1, "logs", 7), landedAck(0, "logs", 5), ackOf(2)},
			want: prefixState{Offset: 30, TailSum: 30, Landed: &checkpoint.Landed{Topic: "logs", NextOffset: 7},
				From: 30, To: 30, Settled: true, Popped: []int64{10, 20, 30}, Advanced: 30},
		},
		{
			name: "truncation: old spans no longer move the prefix",
			ops:  []prefixOp{handOut(10), handOut(50), ackOf(0), endGen(), handOut(5), ackOf(1), ackOf(2)},
			want: prefixState{Offset: 5, TailSum: 5, From: 5, To: 5, Settled: true,
				Popped: []int64{10, 50, 5}, Advanced: 15, EndedAt: []int64{50}, EndedTailOK: []bool{true}},
		},
		{
			name: "truncation: old spans acknowledged after it move nothing",
			ops:  []prefixOp{handOut(10), handOut(50), endGen(), handOut(5), ackOf(0), ackOf(1)},
			want: prefixState{Offset: 0, From: 0, To: 5, Popped: []int64{10, 50},
				EndedAt: []int64{50}, EndedTailOK: []bool{true}},
		},
		{
			name: "truncation: a new span acknowledged first waits behind the old ones",
			ops:  []prefixOp{handOut(10), handOut(50), endGen(), handOut(5), ackOf(2)},
			want: prefixState{Offset: 0, From: 0, To: 5, EndedAt: []int64{50}, EndedTailOK: []bool{true}},
		},
		{
			name: "truncation: nothing saved of the new content before it is acknowledged",
			ops:  []prefixOp{handOut(10), ackOf(0), endGen()},
			want: prefixState{Offset: 0, From: 0, To: 0, Settled: true, Popped: []int64{10}, Advanced: 10,
				EndedAt: []int64{10}, EndedTailOK: []bool{true}},
		},
		{
			name: "two truncations: only the newest generation counts",
			ops: []prefixOp{handOut(10), endGen(), handOut(20), endGen(), handOut(3),
				ackOf(2), ackOf(1), ackOf(0)},
			want: prefixState{Offset: 3, TailSum: 3, From: 3, To: 3, Settled: true, Popped: []int64{10, 20, 3},
				Advanced: 3, EndedAt: []int64{10, 20}, EndedTailOK: []bool{true, true}},
		},
		{
			name: "a generation ended before anything was handed out",
			ops:  []prefixOp{endGen(), handOut(4), ackOf(0)},
			want: prefixState{Offset: 4, TailSum: 4, From: 4, To: 4, Settled: true, Popped: []int64{4}, Advanced: 4,
				EndedAt: []int64{0}, EndedTailOK: []bool{false}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a ackPrefix[int64]
			if tt.start > 0 {
				a.resume(tt.start, fpAt(tt.start), nil)
			}
			var got prefixState
			for _, op := range tt.ops {
				switch op.kind {
				case "endGen":
					end, _, ok := a.endGeneration()
					got.EndedAt = append(got.EndedAt, end)
					got.EndedTailOK = append(got.EndedTailOK, ok)
				case "ack":
					var adv int64
					landed := checkpoint.Landed{Topic: op.topic, NextOffset: op.next}
					got.Popped, adv = a.ack(uint64(op.ticket), landed, got.Popped)
					got.Advanced += adv
				case "out":
					a.handOut(op.end, op.end, fpAt(op.end))
				}
			}
			var before tail.Fingerprint
			got.Offset, before, got.Landed = a.saved()
			got.TailSum = before.Sum
			got.From, got.To = a.unacknowledged()
			got.Settled = a.settled()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
