// Package sink defines what the pipeline hands to an output (a [Batch] of
// encoded [Record]s from one file) and the acknowledgement contract between
// them, and holds the stdout output.
//
// # Acknowledgement contract
//
// The pipeline calls Send with batches; Send may block to apply backpressure
// and returns early only when its context ends. The output calls
// [Batch.Ack] exactly once per batch, from any goroutine, after every record
// in it is durably delivered (for Kafka: acknowledged by the broker with the
// configured acks). It never acknowledges a batch in part, and never
// acknowledges one it failed to deliver: such a batch is retried, or left
// unacknowledged when the output stops, so its records are read again after a
// restart. The pipeline advances a file's checkpoint only to the end of the
// longest prefix of its batches that is acknowledged.
//
// Before calling Ack an output may set [Batch.Landed] to where the batch
// went (for Kafka: topic, partition and the offset just after its last
// record), from the goroutine that calls Ack, so the done function can
// read it. The pipeline saves it with the checkpoint so that, after a stop
// that was not clean, the Kafka output can read back what the partition
// already holds of each file instead of sending it again. Outputs that
// cannot say (stdout) leave it zero.
//
// A batch's records are encoded with one pod identity, [Batch.Pod]; an
// output that chooses a destination by the pod chooses by that one.
//
// The output's own background work (its Run) is started and stopped by its
// owner, not by the pipeline: it runs until the pipeline has returned, so
// that the acknowledgements the pipeline waits for at shutdown arrive.
//
// A record's Value stays valid until its batch is acknowledged; the output
// must not keep it after calling Ack, because the pipeline reuses the memory.
package sink
