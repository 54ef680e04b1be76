package agent

import (
	"context"

	"github.com/loglet/loglet/sidecar/internal/checkpoint"
	"github.com/loglet/loglet/sidecar/internal/pipeline"
	"github.com/loglet/loglet/sidecar/internal/sink/kafka"
)

// kafkaReadBack adapts the Kafka sink's read-back to the pipeline's
// ReadBacker, so that the pipeline knows nothing of Kafka's types.
type kafkaReadBack struct{ s *kafka.Sink }

// Origin returns where the sink's partition ends now.
func (k kafkaReadBack) Origin(ctx context.Context) (checkpoint.Landed, error) {
	l, err := k.s.EndOffset(ctx)
	return checkpoint.Landed{Topic: l.Topic, Partition: l.Partition, NextOffset: l.NextOffset}, err
}

// ReadBack asks the sink where each file's records end in Kafka.
func (k kafkaReadBack) ReadBack(ctx context.Context, queries []pipeline.ReadBackQuery) []pipeline.ReadBackAnswer {
	reqs := make([]kafka.ReadBackRequest, len(queries))
	for i, q := range queries {
		reqs[i] = kafka.ReadBackRequest{FileID: q.FileID, Topic: q.From.Topic, Partition: q.From.Partition, FromOffset: q.From.NextOffset}
	}
	res, _ := k.s.ReadBack(ctx, reqs) // an error only when ctx ended: every answer is then a fall-back
	out := make([]pipeline.ReadBackAnswer, len(queries))
	for i := range out {
		if i >= len(res) {
			break
		}
		r := res[i]
		out[i] = pipeline.ReadBackAnswer{
			Found: r.Found, Exact: r.Fallback == "" && r.Err == nil, End: r.End,
			Landed: checkpoint.Landed{Topic: r.Landed.Topic, Partition: r.Landed.Partition, NextOffset: r.Landed.NextOffset},
		}
	}
	return out
}
