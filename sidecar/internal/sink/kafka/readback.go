package kafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/loglet/loglet/sidecar/internal/sink"
)

// Reasons a read-back falls back to at-least-once: the label of
// loglet_kafka_readback_fallbacks_total and [ReadBackResult.Fallback].
const (
	FallbackDisabled   = "disabled"     // LOGLET_KAFKA_READBACK=false
	FallbackDenied     = "denied"       // the principal may not read the topic (no READ ACL)
	FallbackMaxBytes   = "max_bytes"    // LOGLET_KAFKA_READBACK_MAX_BYTES fetched before the high watermark
	FallbackTimeout    = "timeout"      // LOGLET_KAFKA_READBACK_TIMEOUT passed before the high watermark
	FallbackOutOfRange = "out_of_range" // the saved offset is no longer (or not yet) in the partition
	FallbackError      = "error"        // the brokers could not be asked, or refused otherwise
)

var fallbackReasons = []string{FallbackDisabled, FallbackDenied, FallbackMaxBytes, FallbackTimeout, FallbackOutOfRange, FallbackError}

// Labels of the read-back metrics: why a read-back ran.
const (
	whenStart = "start" // ReadBack, after a stop that was not clean
	whenRetry = "retry" // before retrying a produce request whose outcome is unknown
)

// maxReadBackTries is how many times a read-back after an unknown outcome
// is tried when the brokers cannot be asked, before the records are sent
// again without it (at least once), so that a broker that answers produce
// requests but not fetches does not hold delivery up for ever.
const maxReadBackTries = 5

// fetchMaxWait is how long one read-back fetch waits for records to come.
const fetchMaxWait = 100 * time.Millisecond

// fetchMaxBytes is the most one read-back fetch asks for.
const fetchMaxBytes = 1 << 20

// ReadBackRequest asks what Kafka holds of one file's records after a
// saved position.
type ReadBackRequest struct {
	// FileID is the file's identity, the records' loglet-file header
	// (sink.Position.File).
	FileID string
	// Key is the message key the file's records were sent with; nil means
	// the key the output uses now (LOGLET_KAFKA_KEY expanded for the pod).
	Key []byte
	// Topic and Partition are where the file's last acknowledged batch
	// went (sink.Landed). An empty Topic means the topic the output uses
	// now; a negative Partition means the partition of Key in it now.
	Topic     string
	Partition int
	// FromOffset is the Kafka offset to read from: the NextOffset of the
	// file's last acknowledged batch (sink.Landed), or any offset known to
	// be at or before the first of the file's records that may be missing
	// from the checkpoint (for example the partition's end offset saved
	// before the file's first record was sent; see [Sink.EndOffset]). A
	// negative FromOffset means the partition's first offset, which is
	// exact but may well be more than the bound.
	FromOffset int64
}

// ReadBackResult says what Kafka holds of one file's records after
// [ReadBackRequest.FromOffset].
type ReadBackResult struct {
	// FileID is the request's.
	FileID string
	// Found is true when at least one of the file's records is in the
	// partition between FromOffset and the high watermark.
	Found bool
	// End is the file offset just after the last of those records (the
	// largest loglet-end header; a record without one counts with its
	// loglet-offset, so the record is sent again rather than skipped on a
	// guess). The file's reading starts there. Zero when not Found.
	End int64
	// Records is how many of the file's records were found.
	Records int
	// Landed is where the file stands in Kafka after the read-back: the
	// partition read, and the offset just after the file's last record
	// found (or FromOffset when none was). A checkpoint may save it as the
	// file's position.
	Landed sink.Landed
	// Fallback is empty when the answer is exact: every committed record of
	// the partition from FromOffset up to the high watermark was read. It
	// is a reason (FallbackDenied, ...) when it is not: then Found, End
	// and Records say nothing, and the file must be read again from its
	// checkpoint (at least once).
	Fallback string
	// Err is what caused the fall-back, when there was an error.
	Err error
}

// ReadBack reads back, for each request, the records of its file that
// Kafka holds after FromOffset, so that the pipeline can start each file
// just after its last record in Kafka, after a stop that was not clean,
// instead of re-sending what the checkpoint did not cover.
//
// It reads every partition concerned once, from the smallest FromOffset of
// its requests up to the high watermark it finds first, with the
// read_committed isolation level, never past the high watermark. A record
// counts as the file's when its key is the request's Key and its
// loglet-file header is FileID, and it is at or after the request's
// FromOffset. Another pod's records on the same partition do not match:
// they carry another key (the key is the pod name by default, unique in
// the namespace, and the topic is the namespace's), and even when keys
// collide, another file identity: dev:inode:fingerprint names one file on
// one device, with the fingerprint of its first bytes, so two pods share
// it only when they read the same file on a shared volume, which is another
// writer using the same file identity.
//
// The whole call fetches at most LOGLET_KAFKA_READBACK_MAX_BYTES (counted
// on the wire) and takes at most LOGLET_KAFKA_READBACK_TIMEOUT. A file
// whose partition could not be read to the high watermark falls back to
// at-least-once (Fallback says why), as does every file when read-back is
// off. A topic the principal may not read (TOPIC_AUTHORIZATION_FAILED: no
// READ ACL) is logged once per topic as a warning naming it and the missing
// permission; every fall-back is counted by reason. ReadBack never changes
// Ready.
//
// The results are in the requests' order. The error is non-nil only when
// ctx ended; the results then fall back with FallbackError. ReadBack may be
// called from any goroutine, also while Run runs: it uses connections of
// its own.
func (s *Sink) ReadBack(ctx context.Context, reqs []ReadBackRequest) ([]ReadBackResult, error) {
	out := make([]ReadBackResult, len(reqs))
	for i, r := range reqs {
		out[i] = ReadBackResult{FileID: r.FileID}
	}
	if len(reqs) == 0 {
		return out, ctx.Err()
	}
	if !s.cfg.ReadBack {
		for i := range out {
			s.fallback(&out[i], FallbackDisabled, nil)
		}
		return out, ctx.Err()
	}
	start := time.Now()
	defer func() { s.m.readbackSeconds.WithLabelValues(whenStart).Observe(time.Since(start).Seconds()) }()

	rctx, cancel := context.WithTimeout(ctx, s.cfg.readBackTimeout())
	defer cancel()
	rb := s.newReader(rctx, whenStart)
	defer rb.close()

	rt := s.currentRoute()
	type group struct {
		topic     string
		partition int
		key       []byte
		from      int64
		reqs      []int // indexes into reqs
	}
	var groups []*group
	for i, r := range reqs {
		key, topic := r.Key, r.Topic
		if key == nil {
			key = rt.key
		}
		if topic == "" {
			topic = rt.topic
		}
		partition := r.Partition
		if partition < 0 {
			p, err := lookupPartition(rctx, rb.tr, s.addr, topic, key)
			if err != nil {
				out[i].Landed = sink.Landed{Topic: topic, Partition: -1, NextOffset: r.FromOffset}
				s.fallback(&out[i], reasonFor(err), err)
				continue
			}
			partition = p
		}
		var g *group
		for _, h := range groups {
			if h.topic == topic && h.partition == partition && bytes.Equal(h.key, key) {
				g = h
				break
			}
		}
		if g == nil {
			g = &group{topic: topic, partition: partition, key: key, from: r.FromOffset}
			groups = append(groups, g)
		}
		g.from = min(g.from, r.FromOffset)
		g.reqs = append(g.reqs, i)
	}

	for _, g := range groups {
		files := make(map[string][]int, len(g.reqs)) // FileID → request indexes
		for _, i := range g.reqs {
			files[reqs[i].FileID] = append(files[reqs[i].FileID], i)
			out[i].Landed = sink.Landed{Topic: g.topic, Partition: g.partition, NextOffset: reqs[i].FromOffset}
		}
		found := 0
		reason, err := rb.read(g.topic, g.partition, g.from, func(off int64, key []byte, file string, pos, end int64) {
			if !bytes.Equal(key, g.key) {
				return
			}
			for _, i := range files[file] {
				if off < reqs[i].FromOffset {
					continue
				}
				res := &out[i]
				res.Found = true
				res.Records++
				found++
				res.End = max(res.End, end, pos)
				res.Landed.NextOffset = max(res.Landed.NextOffset, off+1)
			}
		})
		for _, i := range g.reqs {
			from := reqs[i].FromOffset
			switch {
			case reason != "":
				s.fallback(&out[i], reason, err)
			case from >= 0 && (from > rb.hw || from < rb.first):
				found -= out[i].Records
				s.fallback(&out[i], FallbackOutOfRange, fmt.Errorf("read back %s partition %d from offset %d: the partition holds offsets %d to %d: %w",
					g.topic, g.partition, from, rb.first, rb.hw, kafka.OffsetOutOfRange))
			case out[i].Landed.NextOffset < 0:
				out[i].Landed.NextOffset = rb.next // read from the first offset, none found
			}
		}
		if reason == "" {
			s.m.skipped.WithLabelValues(whenStart).Add(float64(found))
		}
	}
	if err := ctx.Err(); err != nil {
		for i := range out {
			if out[i].Fallback == "" {
				s.fallback(&out[i], FallbackError, err)
			}
		}
		return out, err
	}
	return out, nil
}

// EndOffset returns where the next record would go now: the topic and
// partition for the current key, and the partition's end offset (its
// high watermark). The pipeline may save it before sending a file's first
// record, as the FromOffset of a later read-back for files without a
// position of their own.
func (s *Sink) EndOffset(ctx context.Context) (sink.Landed, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	rt := s.currentRoute()
	tr := s.newTransport(rt.topic, nil)
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: s.addr, Timeout: requestTimeout, Transport: tr}
	p, err := lookupPartition(ctx, tr, s.addr, rt.topic, rt.key)
	if err != nil {
		return sink.Landed{}, err
	}
	_, last, err := listOffsets(ctx, client, rt.topic, p)
	if err != nil {
		return sink.Landed{}, err
	}
	return sink.Landed{Topic: rt.topic, Partition: p, NextOffset: last}, nil
}

// currentRoute returns the route Run last used, safe from any goroutine.
func (s *Sink) currentRoute() route {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rt
}

// fallback marks res as fallen back for reason, counts it and, for a
// denied topic, warns once per topic.
func (s *Sink) fallback(res *ReadBackResult, reason string, err error) {
	res.Found, res.End, res.Records = false, 0, 0
	res.Fallback, res.Err = reason, err
	s.m.fallbacks.WithLabelValues(reason).Inc()
	s.warnFallback(res.Landed.Topic, reason, err)
}

// warnFallback logs a warning for a fall-back: for a denied read once per
// topic for the life of the output, for other reasons at most every
// logEvery per topic and reason; never for read-back switched off (the
// operator's choice). The counter counts every one.
func (s *Sink) warnFallback(topic, reason string, err error) {
	if reason == FallbackDisabled {
		return
	}
	k := topic + "\x00" + reason
	s.warnMu.Lock()
	at, seen := s.warned[k]
	quiet := seen && (reason == FallbackDenied || time.Since(at) < logEvery)
	if !quiet {
		if s.warned == nil {
			s.warned = map[string]time.Time{}
		}
		s.warned[k] = time.Now()
	}
	s.warnMu.Unlock()
	if quiet {
		return
	}
	attrs := []any{"topic", topic, "reason", reason}
	if err != nil {
		attrs = append(attrs, "error", err.Error())
	}
	switch reason {
	case FallbackDenied:
		who := "the Kafka principal"
		if s.sasl != nil {
			who = fmt.Sprintf("the Kafka user %q", s.sasl.user)
		}
		s.log.Warn(fmt.Sprintf("%s may not READ topic %s: records whose delivery is unknown are sent again (at least once); grant READ and DESCRIBE on the topic for exactly-once after a crash, or set LOGLET_KAFKA_READBACK=false", who, topic), attrs...)
	case FallbackMaxBytes:
		s.log.Warn("read-back from Kafka stopped at LOGLET_KAFKA_READBACK_MAX_BYTES before the high watermark: records whose delivery is unknown are sent again (at least once)", attrs...)
	case FallbackTimeout:
		s.log.Warn("read-back from Kafka stopped at LOGLET_KAFKA_READBACK_TIMEOUT before the high watermark: records whose delivery is unknown are sent again (at least once)", attrs...)
	default:
		s.log.Warn("read-back from Kafka failed: records whose delivery is unknown are sent again (at least once)", attrs...)
	}
}

// reasonFor is the fall-back reason for a read-back error.
func reasonFor(err error) string {
	switch {
	case errors.Is(err, kafka.TopicAuthorizationFailed):
		return FallbackDenied
	case errors.Is(err, kafka.OffsetOutOfRange):
		return FallbackOutOfRange
	}
	return FallbackError
}

// reader fetches partitions for a read-back, counting the bytes it reads
// from the brokers against LOGLET_KAFKA_READBACK_MAX_BYTES.
type reader struct {
	s         *Sink
	ctx       context.Context
	when      string
	tr        *kafka.Transport
	client    *kafka.Client
	bytes     atomic.Int64 // read from the brokers
	counted   int64        // of bytes, already added to the metric
	next      int64        // after read: the offset reading stopped at
	first, hw int64        // after read: the partition\'s first and end offsets
}

func (s *Sink) newReader(ctx context.Context, when string) *reader {
	rb := &reader{s: s, ctx: ctx, when: when}
	rb.tr = s.newTransport(s.currentRoute().topic, &rb.bytes)
	rb.client = &kafka.Client{Addr: s.addr, Timeout: requestTimeout, Transport: rb.tr}
	return rb
}

func (rb *reader) close() {
	rb.tr.CloseIdleConnections()
	rb.count()
}

// count adds the bytes read since the last count to the metric.
func (rb *reader) count() {
	n := rb.bytes.Load()
	rb.s.m.readbackBytes.Add(float64(n - rb.counted))
	rb.counted = n
}

// read calls visit for each committed record of topic/partition from
// offset from (the first offset when negative) up to the high watermark
// found first, in offset order. It returns "" when it read that far, or
// the fall-back reason and the error when it did not.
func (rb *reader) read(topic string, partition int, from int64, visit func(off int64, key []byte, file string, pos, end int64)) (string, error) {
	s := rb.s
	s.m.readbacks.WithLabelValues(rb.when).Inc()
	defer rb.count()
	first, hw, err := rb.offsets(topic, partition)
	rb.first, rb.hw = first, hw
	if err != nil {
		// Not even the offsets: the brokers cannot be asked (an error,
		// which the retry path tries again), or refuse.
		return reasonFor(err), err
	}
	if from < 0 {
		from = first
	}
	rb.next = from
	if from > hw || from < first {
		return FallbackOutOfRange, fmt.Errorf("read back %s partition %d from offset %d: the partition holds offsets %d to %d: %w", topic, partition, from, first, hw, kafka.OffsetOutOfRange)
	}
	limit := s.cfg.readBackBytes()
	offset := from
	var lastErr error
	for attempt := 0; offset < hw; {
		if rb.bytes.Load() >= limit {
			return FallbackMaxBytes, fmt.Errorf("read back %s partition %d: %d bytes fetched (LOGLET_KAFKA_READBACK_MAX_BYTES) at offset %d of %d", topic, partition, rb.bytes.Load(), offset, hw)
		}
		res, err := rb.client.Fetch(rb.ctx, &kafka.FetchRequest{
			Topic: topic, Partition: partition, Offset: offset,
			MinBytes: 1, MaxBytes: min(fetchMaxBytes, limit-rb.bytes.Load()), MaxWait: fetchMaxWait,
			IsolationLevel: kafka.ReadCommitted,
		})
		if err == nil && res.Error != nil {
			closeRecords(res)
			err = res.Error
		}
		if err != nil {
			err = fmt.Errorf("read back %s partition %d at offset %d: %w", topic, partition, offset, err)
			if rb.expired() {
				if lastErr != nil {
					return FallbackError, errors.Join(lastErr, err)
				}
				return FallbackTimeout, err
			}
			if reason, _ := rb.reason(err); reason != FallbackError || classify(err).fatal {
				return reason, err
			}
			lastErr = err // retriable: a moved leader, a lost connection
			if !rb.sleep(attempt) {
				return FallbackError, lastErr
			}
			attempt++
			rb.tr.CloseIdleConnections() // fresh metadata
			continue
		}
		lastErr, attempt = nil, 0
		before := offset
		var readErr error
		for {
			r, err := res.Records.ReadRecord()
			if err != nil {
				readErr = err
				break
			}
			if r.Offset < offset {
				continue // the batch began before the offset asked for
			}
			if r.Offset >= hw {
				break
			}
			offset = r.Offset + 1
			file, pos, end, ok := positionOf(r.Headers)
			if !ok {
				continue
			}
			var key []byte
			if r.Key != nil {
				key, _ = kafka.ReadAll(r.Key)
			}
			visit(r.Offset, key, file, pos, end)
		}
		closeRecords(res)
		rb.next = offset
		if readErr != nil && !errors.Is(readErr, io.EOF) && offset == before {
			return FallbackError, fmt.Errorf("read back %s partition %d at offset %d: %w", topic, partition, offset, readErr)
		}
		if rb.ctx.Err() != nil && offset < hw {
			return FallbackTimeout, fmt.Errorf("read back %s partition %d: stopped at offset %d of %d: %w", topic, partition, offset, hw, rb.ctx.Err())
		}
	}
	rb.next = max(offset, hw)
	return "", nil
}

// offsets returns the partition's first offset and its last stable offset
// (the high watermark, when no transaction is open), retrying briefly.
func (rb *reader) offsets(topic string, partition int) (first, last int64, err error) {
	for attempt := 0; ; attempt++ {
		first, last, err = listOffsets(rb.ctx, rb.client, topic, partition)
		if err == nil || classify(err).fatal || errors.Is(err, kafka.TopicAuthorizationFailed) || !rb.sleep(attempt) {
			return first, last, err
		}
		rb.tr.CloseIdleConnections()
	}
}

// expired reports whether the read-back's time is up; a connection's
// deadline, set from it, may fire a moment before the context ends.
func (rb *reader) expired() bool {
	if rb.ctx.Err() != nil {
		return true
	}
	d, ok := rb.ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// sleep waits before retry attempt+1, and reports false when the
// read-back's time is up first.
func (rb *reader) sleep(attempt int) bool {
	t := time.NewTimer(rb.s.backoff(attempt))
	defer t.Stop()
	select {
	case <-rb.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// reason is the fall-back reason for err.
func (rb *reader) reason(err error) (string, error) {
	if rb.ctx.Err() != nil && !errors.Is(err, kafka.TopicAuthorizationFailed) {
		return FallbackTimeout, err
	}
	return reasonFor(err), err
}

// listOffsets returns the partition's first offset and its end offset as
// a read_committed consumer sees it.
func listOffsets(ctx context.Context, client *kafka.Client, topic string, partition int) (first, last int64, err error) {
	res, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{
		Topics:         map[string][]kafka.OffsetRequest{topic: {kafka.FirstOffsetOf(partition), kafka.LastOffsetOf(partition)}},
		IsolationLevel: kafka.ReadCommitted,
	})
	if err != nil {
		return 0, 0, fmt.Errorf("list offsets of %s partition %d: %w", topic, partition, err)
	}
	for _, p := range res.Topics[topic] {
		if p.Partition != partition {
			continue
		}
		if p.Error != nil {
			return 0, 0, fmt.Errorf("list offsets of %s partition %d: %w", topic, partition, p.Error)
		}
		return p.FirstOffset, p.LastOffset, nil
	}
	return 0, 0, fmt.Errorf("list offsets of %s partition %d: %w", topic, partition, kafka.UnknownTopicOrPartition)
}

func closeRecords(res *kafka.FetchResponse) {
	if c, ok := res.Records.(interface{ Close() error }); ok {
		c.Close()
	}
}

// positionOf returns a record's source position from its loglet-file,
// loglet-offset and loglet-end headers; end is -1 without a loglet-end.
// ok is false for a record without a file and an offset: not loglet's.
func positionOf(hs []kafka.Header) (file string, pos, end int64, ok bool) {
	end = -1
	var haveFile, havePos bool
	for _, h := range hs {
		switch h.Key {
		case HeaderFile:
			file, haveFile = string(h.Value), true
		case HeaderOffset:
			n, err := strconv.ParseInt(string(h.Value), 10, 64)
			if err != nil || n < 0 {
				return "", 0, 0, false
			}
			pos, havePos = n, true
		case HeaderEnd:
			if n, err := strconv.ParseInt(string(h.Value), 10, 64); err == nil && n >= 0 {
				end = n
			}
		}
	}
	return file, pos, end, haveFile && havePos
}

// countingConn counts the bytes read from a connection.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// resolveUnknown reads back each partition noted by a produce request
// whose outcome is unknown, from the offset just after the last record
// known to be there up to the high watermark, and marks the entries it
// finds there (the same key, loglet-file and loglet-offset) as landed, so
// that the retry sends only the others. A partition read to the high
// watermark, or given up on with a fall-back (denied, bound exceeded), is
// done with; after a fall-back the entries not found are sent again (at
// least once), those found never are. An
// error that retrying may fix (a broker not reachable) is returned, and
// the partition is read back before the next attempt.
func (s *Sink) resolveUnknown(ctx context.Context, entries []entry) error {
	if len(s.unknown) == 0 {
		return nil
	}
	start := time.Now()
	defer func() { s.m.readbackSeconds.WithLabelValues(whenRetry).Observe(time.Since(start).Seconds()) }()
	type pos struct {
		file string
		off  int64
	}
	index := make(map[pos]int, len(entries))
	for i, e := range entries {
		if !e.landed {
			index[pos{e.rec.Pos.File, e.rec.Pos.Offset}] = i
		}
	}
	rctx, cancel := context.WithTimeout(ctx, s.cfg.readBackTimeout())
	defer cancel()
	rb := s.newReader(rctx, whenRetry)
	defer rb.close()
	for len(s.unknown) > 0 {
		u := s.unknown[0]
		var found []int
		reason, err := rb.read(u.topic, u.partition, u.from, func(off int64, key []byte, file string, p, _ int64) {
			if !bytes.Equal(key, u.key) {
				return
			}
			if i, ok := index[pos{file, p}]; ok {
				delete(index, pos{file, p})
				e := &entries[i]
				e.landed, e.topic, e.partition, e.koff = true, u.topic, u.partition, off
				found = append(found, i)
				s.partial = true
			}
		})
		// The records found are in Kafka whatever else happened: they are
		// not sent again.
		s.m.skipped.WithLabelValues(whenRetry).Add(float64(len(found)))
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case reason == FallbackError && !classify(err).fatal && s.unknown[0].tries+1 < maxReadBackTries:
			s.unknown[0].tries++
			return err // read back again before the next attempt
		case reason != "":
			s.m.fallbacks.WithLabelValues(reason).Inc()
			s.warnFallback(u.topic, reason, err)
		default:
			if s.next.Topic == u.topic && s.next.Partition == u.partition {
				s.next.NextOffset = max(s.next.NextOffset, rb.next)
			}
		}
		s.unknown = s.unknown[1:]
	}
	s.unknown = nil
	return nil
}
