package kafka

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	metadataAPI "github.com/segmentio/kafka-go/protocol/metadata"

	"github.com/loglet/loglet/sidecar/internal/podinfo"
	"github.com/loglet/loglet/sidecar/internal/sink"
)

// Tuning constants.
const (
	minBackoff     = 100 * time.Millisecond // first retry delay
	maxBackoff     = 5 * time.Second        // retry delay cap
	requestTimeout = 30 * time.Second       // one produce or metadata request
	// pingInterval is the health check while idle and healthy: each one
	// wakes the process, and an idle sidecar's wake-ups are paid once per
	// pod. After a failure the check comes back after retryPing, so that
	// /status/kafka sees the broker return within seconds.
	pingInterval = 60 * time.Second
	retryPing    = 5 * time.Second
	staleAfter   = 15 * time.Second // Ready fails after failing this long
	// metadataTTL bounds how stale the partition leaders may be. kafka-go
	// refreshes them after a random share of it, so the interval is also an
	// idle wake-up; a produce that finds a leader moved fetches them at once
	// (closeTransport), so a long TTL delays nothing (librdkafka's default
	// is 5 minutes too).
	metadataTTL  = 5 * time.Minute
	idleConnTime = 4 * time.Minute // below the brokers' connections.max.idle.ms
	// refusedFor is for how many requests the brokers take a request size
	// they refused as too large caps the request size; then requests may
	// grow to LOGLET_KAFKA_BATCH_BYTES again, in case the limit was raised
	// or the refusal was not about the size alone.
	refusedFor = 64
	// logEvery is the least time between two log lines about the same kind
	// of failure.
	logEvery = 30 * time.Second
	// maxQueuedBytes is where Send starts to block. It is a safety net: the
	// pipeline bounds what it hands over by LOGLET_MAX_BUFFER_BYTES.
	maxQueuedBytes = 64 << 20
	// batchOverhead is what a produce request adds to its records: request
	// and record batch headers. recordOverhead is what one record adds to
	// its key, value and file name: lengths, deltas and the other headers
	// (content-type, loglet-offset); endOverhead is what the loglet-end
	// header adds when the record has one.
	batchOverhead  = 256
	recordOverhead = 80
	endOverhead    = 24
)

// ErrStopped is returned by Send once Run has returned.
var ErrStopped = errors.New("kafka output stopped")

// Sink is the `kafka` output. Send queues batches; Run produces them in
// order, one request at a time, retrying every failure with capped
// exponential backoff for as long as it takes, and acknowledges each batch
// once the broker acknowledged all its records. Nothing is dropped: a
// record over LOGLET_KAFKA_MAX_MESSAGE_BYTES is shortened and marked
// truncated, and one the broker refuses for good (authorization, missing
// topic) is retried until the operator fixes the cause, with Ready failing
// meanwhile.
//
// Request sizes adapt to the brokers' message.max.bytes: a request the
// broker refuses as too large is split in half, and a lone record it refuses
// is shortened to half its size, until the broker takes it. The request size
// limit then grows back, doubling with each request the broker takes, up to
// LOGLET_KAFKA_BATCH_BYTES, but for the next refusedFor requests no higher
// than three quarters of the smallest request refused, so that requests do
// not alternate between refused and taken when the brokers' limit is below
// LOGLET_KAFKA_BATCH_BYTES.
//
// All records go to the topic and key expanded from the templates for the
// current pod identity; the partition is the murmur2 hash of the key, as in
// the Java client, so one pod's records stay in order on one partition.
//
// Each acknowledged batch's [sink.Batch.Landed] says where it went. With
// LOGLET_KAFKA_READBACK, a request whose outcome is unknown is not simply
// sent again: the partition is read back first and the records already
// there are dropped from the retry (see resolveUnknown), and [Sink.ReadBack]
// answers the same question for the pipeline at start.
//
// Concurrency: Send and Ready may be called from any goroutine. Run is
// called once by the owner, is the only goroutine that talks to Kafka, and
// calls [sink.Batch.Ack] from its own goroutine: an Ack callback must not
// wait for Send to return.
type Sink struct {
	cfg        Config
	pods       func() *podinfo.Pod
	log        *slog.Logger
	m          *metrics
	addr       net.Addr
	acks       kafka.RequiredAcks
	codec      kafka.Compression
	tls        *tls.Config
	sasl       *fileMechanism // nil without SASL
	otlp       *otlpEncoder   // nil for LOGLET_KAFKA_ENCODING=json
	ctype      []byte         // the content-type header
	batchBytes int
	maxQueued  int           // Send blocks beyond this many queued bytes
	staleAfter time.Duration // see staleAfter
	minBackoff time.Duration // see minBackoff
	maxBackoff time.Duration // see maxBackoff
	reqTimeout time.Duration // see requestTimeout
	running    atomic.Bool

	// Owned by Run.
	rt          route
	badPod      *podinfo.Pod // last pod whose templates did not expand
	transport   *kafka.Transport
	client      *kafka.Client
	maxRequest  int       // request size limit, lowered by MESSAGE_TOO_LARGE, raised by successes
	refused     int       // the smallest request size refused as too large, or 0
	refusedLeft int       // requests taken before refused is forgotten
	splitLogAt  time.Time // the last log line about a request split for size
	cutLogAt    time.Time // the last log line about a record shortened for size
	logKind     errKind
	logAt       time.Time
	failures    int
	failedSince time.Time
	entries     []entry // the request being delivered, reused from one to the next
	sendBuf     []entry // the entries of a retry that Kafka does not have yet
	// records encodes each request's record set. It is replaced after a
	// failed request, and its buffers (up to two request sizes) are let go
	// when the queue empties, for the memory release of a quiet sidecar.
	records *recordSetEncoder
	// next is where the next record goes on the partition last produced
	// to: the offset just after the last record acknowledged there (or the
	// partition's end offset before the first), or a zero Landed. Kept
	// only with read-back on.
	next sink.Landed
	// unknown are the partitions with records of a produce request whose
	// outcome is unknown, to read back before the next attempt.
	unknown []unknownOutcome
	partial bool // resolveUnknown found some of the request's entries in Kafka

	warnMu sync.Mutex
	warned map[string]time.Time // topic and fall-back reason → last warning

	mu      sync.Mutex
	queue   []pending
	head    int // records of queue[0] already acknowledged
	queued  int // bytes in queue
	wake    chan struct{}
	space   chan struct{} // closed and replaced when batches leave the queue
	stopped chan struct{} // closed when Run returns
	done    bool

	hmu     sync.Mutex
	lastOK  time.Time
	lastErr error // the last failure since lastOK
	fatal   error // the last non-retriable failure since lastOK
}

// pending is a queued batch.
type pending struct {
	b     *sink.Batch
	bytes int
	at    time.Time
}

// New checks cfg (Validate), reads the TLS and SASL files, expands the
// topic and key templates for pods() and checks the topic name, and
// registers the metrics on reg. Every error names the LOGLET_KAFKA_
// variable at fault. pods returns the current pod identity (for example
// podinfo.Source.Pod); a nil logger discards logs; a nil reg registers
// nowhere. New does not connect: Run does.
func New(cfg Config, pods func() *podinfo.Pod, logger *slog.Logger, reg prometheus.Registerer) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if pods == nil {
		return nil, errors.New("kafka output: no pod identity")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	acks, _ := cfg.requiredAcks()
	codec, _ := cfg.compression()
	enc, _ := cfg.encoding()
	if codec == kafka.Lz4 {
		useLZ4Codec()
	}
	tc, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	mech, err := cfg.saslMechanism()
	if err != nil {
		return nil, err
	}
	rt, err := newRoute(pods(), cfg.topic(), cfg.key())
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("kafka output metrics: %w", err)
	}
	if cfg.TLSInsecureSkipVerify {
		logger.Warn("LOGLET_KAFKA_TLS_INSECURE_SKIP_VERIFY is true: the brokers' certificates are not verified, so anyone on the network path can read and alter the logs")
	}
	s := &Sink{
		cfg:        cfg,
		pods:       pods,
		log:        logger,
		m:          m,
		addr:       kafka.TCP(cfg.brokers()...),
		acks:       acks,
		codec:      codec,
		tls:        tc,
		sasl:       mech,
		ctype:      enc.contentType(),
		batchBytes: cfg.batchBytes(),
		staleAfter: staleAfter,
		minBackoff: minBackoff,
		maxBackoff: maxBackoff,
		reqTimeout: requestTimeout,
		rt:         rt,
		wake:       make(chan struct{}, 1),
		space:      make(chan struct{}),
		stopped:    make(chan struct{}),
	}
	s.maxQueued = max(4*s.batchBytes, maxQueuedBytes)
	if enc != encodingJSON {
		s.otlp = newOTLPEncoder(enc)
	}
	s.maxRequest = s.batchBytes
	s.m.requestLimit.Set(float64(s.maxRequest))
	return s, nil
}

// Topic returns the topic records currently go to.
func (s *Sink) Topic() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rt.topic
}

// Send queues b for delivery and returns. It blocks while the queue holds
// more than maxQueuedBytes or four LOGLET_KAFKA_BATCH_BYTES, whichever is
// more (a batch is always accepted into an empty queue), until ctx ends (returning its error) or Run has returned
// (returning ErrStopped). b is acknowledged later, from Run.
func (s *Sink) Send(ctx context.Context, b *sink.Batch) error {
	n := b.Bytes()
	for {
		s.mu.Lock()
		if s.done {
			s.mu.Unlock()
			return ErrStopped
		}
		if len(s.queue) == 0 || s.queued+n <= s.maxQueued {
			s.queue = append(s.queue, pending{b: b, bytes: n, at: time.Now()})
			s.queued += n
			s.mu.Unlock()
			s.m.queued.Add(float64(n))
			select {
			case s.wake <- struct{}{}:
			default:
			}
			return nil
		}
		space := s.space
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.stopped:
			return ErrStopped
		case <-space:
		}
	}
}

// Run delivers queued batches until ctx ends, then returns nil, leaving
// what is not acknowledged unacknowledged. To drain at shutdown, stop
// calling Send, wait (with a deadline) until the batches sent are
// acknowledged, then cancel ctx. Run may be called only once.
func (s *Sink) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("kafka output: Run called twice")
	}
	defer func() {
		s.mu.Lock()
		s.done = true
		close(s.stopped)
		s.mu.Unlock()
		s.closeTransport()
	}()

	idle := time.NewTimer(0) // check the connection at once
	defer idle.Stop()
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	defer linger.Stop()
	for {
		s.mu.Lock()
		work := len(s.queue) > 0
		var wait time.Duration
		if work && s.queued < s.batchBytes && !s.queue[len(s.queue)-1].b.Final {
			// Linger for more, unless the newest batch ends its file's
			// data: what others hand over meanwhile goes in the next
			// request, sent as soon as this one is answered.
			wait = s.cfg.Linger - time.Since(s.queue[0].at)
		}
		s.mu.Unlock()

		switch {
		case !work:
			s.records.shrink()
			select {
			case <-ctx.Done():
				return nil
			case <-s.wake:
			case <-idle.C:
				if s.check(ctx) {
					idle.Reset(pingInterval)
				} else {
					idle.Reset(retryPing)
				}
			}
			continue
		case wait > 0:
			linger.Reset(wait)
			select {
			case <-ctx.Done():
				return nil
			case <-s.wake:
				continue // more data: maybe the batch is full now
			case <-linger.C:
			}
		}
		s.deliver(ctx)
		if ctx.Err() != nil {
			return nil
		}
		idle.Reset(pingInterval)
	}
}

// entry is one record of a produce request.
type entry struct {
	rec       *sink.Record
	value     []byte // rec.Value, or its shortened copy
	shortened bool   // value is shortened
	// Where the record landed, once known: from the produce response, or
	// from a read-back that found it after an unknown outcome.
	landed    bool
	partition int
	topic     string
	koff      int64 // the record's Kafka offset
}

// unknownOutcome is a partition that may hold the records of a produce
// request whose answer was lost, from offset from on, with key.
type unknownOutcome struct {
	topic     string
	partition int
	key       []byte
	from      int64
	tries     int // read-backs of it that failed
}

// deliver produces the records at the head of the queue, at most one
// request's worth, retrying until the broker acknowledges them or ctx ends,
// then acknowledges the batches they complete.
//
// A request holds the records of batches encoded with one pod identity
// (sink.Batch.Pod), and goes where that identity routes it, on every
// attempt: a record's metadata and its topic and key never come from two
// reads of the Downward API files.
func (s *Sink) deliver(ctx context.Context) {
	pod := s.headPod()
	rt := s.route(pod)
	entries := s.take(rt, pod)
	for attempt := 0; len(entries) > 0; attempt++ {
		err := s.resolveUnknown(ctx, entries)
		if err == nil {
			if err = s.produce(ctx, rt, entries); err == nil {
				break
			}
		}
		if ctx.Err() != nil {
			return
		}
		kind, err := s.classify(err)
		if kind == kindTooLarge {
			var ok bool
			if entries, ok = s.smaller(rt, entries); ok {
				continue
			}
		}
		s.failed(kind, err, rt.topic)
		if kind != kindTooLarge {
			// Fetch fresh metadata, and leave no answer pending on a
			// connection: kafka-go keeps a failed metadata answer (a
			// refused password, a denied topic) until its TTL, minutes,
			// and the fix (a Secret updated, an ACL granted) must show at
			// the next attempt.
			s.closeTransport()
		}
		t := time.NewTimer(s.backoff(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	if len(entries) > 0 {
		s.grow()
	}
	s.partial = false
	s.complete(entries)
	clear(entries[:cap(entries)]) // keep no records of acknowledged batches
	s.entries = entries[:0]
}

// smaller makes the request in entries, which the broker refused as too
// large, smaller: it lowers the request size limit to half the refused
// size, and halves the request, or, when it holds a single record, shortens
// that record to half its size. It returns the request to send instead,
// and false when the record cannot be made any shorter.
func (s *Sink) smaller(rt route, entries []entry) ([]entry, bool) {
	size := requestBytes(rt, entries)
	if s.refused == 0 || size < s.refused {
		s.refused = size
	}
	s.refusedLeft = refusedFor
	s.setRequestLimit(max(min(s.maxRequest, size/2), 1))
	if len(entries) > 1 {
		if time.Since(s.splitLogAt) >= logEvery {
			s.splitLogAt = time.Now()
			s.log.Warn("Kafka refused a produce request as too large; sending smaller ones (lower LOGLET_KAFKA_BATCH_BYTES to the brokers' message.max.bytes)",
				"topic", rt.topic, "request_bytes", size, "records", len(entries))
		}
		return entries[:len(entries)/2], true
	}
	e := &entries[0]
	v, _ := s.value(rt, e.rec, len(e.value)/2)
	if len(v) >= len(e.value) {
		return entries, false
	}
	if !e.shortened {
		s.m.truncated.Inc()
	}
	if time.Since(s.cutLogAt) >= logEvery {
		s.cutLogAt = time.Now()
		s.log.Warn("Kafka refused a record as too large; shortening it further (lower LOGLET_KAFKA_MAX_MESSAGE_BYTES below the brokers' message.max.bytes)",
			"topic", rt.topic, "record_bytes", len(e.value), "shortened_to", len(v), "file", e.rec.Pos.File, "offset", e.rec.Pos.Offset)
	}
	e.value, e.shortened = v, true
	return entries, true
}

// grow raises the request size limit after a request the broker took:
// doubling it, up to LOGLET_KAFKA_BATCH_BYTES, and within refusedFor
// requests of a refusal for size, up to three quarters of the smallest size
// refused.
func (s *Sink) grow() {
	ceiling := s.batchBytes
	if s.refusedLeft > 0 {
		s.refusedLeft--
		ceiling = min(ceiling, max(s.refused-s.refused/4, 1))
	} else {
		s.refused = 0
	}
	if s.maxRequest < ceiling {
		s.setRequestLimit(min(2*s.maxRequest, ceiling))
	}
}

func (s *Sink) setRequestLimit(n int) {
	s.maxRequest = n
	s.m.requestLimit.Set(float64(n))
}

// backoff is the delay before retry attempt+1: exponential from minBackoff,
// capped at maxBackoff, with 20% jitter.
func (s *Sink) backoff(attempt int) time.Duration {
	d := s.maxBackoff
	if attempt < 16 {
		d = min(s.minBackoff<<attempt, s.maxBackoff)
	}
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

// take returns the next request's records: from the first record not yet
// acknowledged, as many as fit in the request size limit (at least one).
// Records over the message size limit are shortened here, once.
func (s *Sink) take(rt route, pod *podinfo.Pod) []entry {
	limit := min(s.batchBytes, s.maxRequest) - batchOverhead
	entries := s.entries[:0]
	size := 0
	if s.otlp != nil {
		s.otlp.reset() // the previous request's values are acknowledged
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for qi, p := range s.queue {
		if p.b.Pod != pod {
			return entries // encoded with another pod identity: another route, another request
		}
		start := 0
		if qi == 0 {
			start = s.head
		}
		for ri := start; ri < len(p.b.Records); ri++ {
			r := &p.b.Records[ri]
			e := entry{rec: r}
			if e.value, e.shortened = s.value(rt, r, s.valueLimit(rt, r)); e.shortened {
				s.m.truncated.Inc()
			}
			n := recordBytes(rt, e)
			if len(entries) > 0 && size+n > limit {
				return entries
			}
			entries = append(entries, e)
			size += n
		}
	}
	return entries
}

// valueLimit is the longest value of r that keeps the record, alone in a
// request, within LOGLET_KAFKA_MAX_MESSAGE_BYTES.
func (s *Sink) valueLimit(rt route, r *sink.Record) int {
	return s.cfg.maxMessageBytes() - batchOverhead - recordOverhead - endBytes(r) - len(rt.key) - len(r.Pos.File)
}

func recordBytes(rt route, e entry) int {
	return len(e.value) + len(rt.key) + len(e.rec.Pos.File) + recordOverhead + endBytes(e.rec)
}

// endBytes is what r's loglet-end header adds to it.
func endBytes(r *sink.Record) int {
	if r.Pos.End > r.Pos.Offset {
		return endOverhead
	}
	return 0
}

func requestBytes(rt route, entries []entry) int {
	n := batchOverhead
	for _, e := range entries {
		n += recordBytes(rt, e)
	}
	return n
}

// complete records entries as acknowledged: it removes the batches they
// finish from the queue, wakes blocked Sends, and then acknowledges the
// batches, in queue order.
func (s *Sink) complete(entries []entry) {
	nbytes := 0
	for _, e := range entries {
		nbytes += len(e.value)
	}
	var done []*sink.Batch
	s.mu.Lock()
	left, popped, freed := len(entries), 0, 0
	for _, p := range s.queue {
		rest := len(p.b.Records) - s.head
		if rest > left {
			s.head += left
			break
		}
		left -= rest
		if e := &entries[len(entries)-left-1]; rest > 0 && e.landed {
			p.b.Landed = sink.Landed{Topic: e.topic, Partition: e.partition, NextOffset: e.koff + 1}
		}
		s.head = 0
		done = append(done, p.b)
		freed += p.bytes
		popped++
	}
	s.queue = slices.Delete(s.queue, 0, popped)
	s.queued -= freed
	if popped > 0 {
		close(s.space)
		s.space = make(chan struct{})
	}
	s.mu.Unlock()

	if len(entries) > 0 {
		s.m.acked.Add(float64(len(entries)))
		s.m.ackedBytes.Add(float64(nbytes))
		s.m.lastAck.SetToCurrentTime()
	}
	s.m.queued.Sub(float64(freed))
	for _, b := range done {
		b.Ack()
	}
}

// headPod returns the pod identity of the first queued batch: the one the
// next request is for. Only Run removes batches, so it stays the head
// until Run delivers it.
func (s *Sink) headPod() *podinfo.Pod {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return nil
	}
	return s.queue[0].b.Pod
}

// route returns where records encoded with pod go; a nil pod means the
// current identity (pods()). When the templates do not give a legal topic
// for pod, it keeps the last good route (another identity's) and logs the
// problem once per identity.
func (s *Sink) route(pod *podinfo.Pod) route {
	if pod == nil {
		pod = s.pods()
	}
	if pod == s.rt.pod || pod == s.badPod {
		return s.rt
	}
	rt, err := newRoute(pod, s.cfg.topic(), s.cfg.key())
	if err != nil {
		s.badPod = pod
		s.m.errors.WithLabelValues(kindBadTopic.name).Inc()
		s.log.Error("pod metadata changed and the topic or key template no longer expands to a usable value; keeping the previous topic and key",
			"topic", s.rt.topic, "error", err)
		return s.rt
	}
	if rt.topic != s.rt.topic {
		s.log.Info("pod metadata changed: records now go to another topic", "topic", rt.topic, "previous_topic", s.rt.topic)
	}
	s.mu.Lock()
	s.rt = rt
	s.mu.Unlock()
	return rt
}

// produce sends the entries Kafka does not have yet in one produce request
// and waits for the broker's acknowledgement, then records where each
// entry landed. With read-back on, it learns the partition's end offset
// before the first request to a partition, and when the request's outcome
// is unknown it notes the partition for resolveUnknown.
func (s *Sink) produce(ctx context.Context, rt route, entries []entry) error {
	send := entries
	if s.partial {
		send = s.sendBuf[:0]
		for _, e := range entries {
			if !e.landed {
				send = append(send, e)
			}
		}
		s.sendBuf = send
		defer func() { clear(s.sendBuf); s.sendBuf = s.sendBuf[:0] }()
	}
	if len(send) == 0 {
		s.succeeded() // Kafka had them all (resolveUnknown read them back)
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.reqTimeout)
	defer cancel()
	partition, err := s.partition(ctx, rt)
	if err != nil {
		return err
	}
	if s.cfg.ReadBack && (s.next.Topic != rt.topic || s.next.Partition != partition) {
		// Where this request's records would start, should its outcome be
		// unknown. Not knowing it must not hold delivery up: a read-back
		// then starts at the partition's first offset (-1), which the
		// bound may well stop.
		_, end, err := listOffsets(ctx, s.client, rt.topic, partition)
		if err != nil {
			end = -1
		}
		s.next = sink.Landed{Topic: rt.topic, Partition: partition, NextOffset: end}
	}
	s.m.requests.Inc()
	s.m.sent.Add(float64(len(send)))
	start := time.Now()
	if s.records == nil {
		s.records = new(recordSetEncoder)
	}
	enc := s.records
	set, err := enc.encode(rt.key, s.ctype, send, s.codec)
	if err != nil {
		return fmt.Errorf("produce %d records to %s partition %d: %w", len(send), rt.topic, partition, err)
	}
	enc.reader.Reset(set)
	res, err := s.client.RawProduce(ctx, &kafka.RawProduceRequest{
		Topic:        rt.topic,
		Partition:    partition,
		RequiredAcks: s.acks,
		RawRecords:   protocol.RawRecordSet{Reader: &enc.reader},
	})
	if err == nil && res != nil && res.Error != nil {
		err = res.Error
	}
	if err != nil {
		// kafka-go may still be writing the request from its connection's
		// goroutine, since a cancelled wait does not stop it: the next
		// request gets an encoder of its own.
		s.records = nil
		if s.cfg.ReadBack && outcomeUnknown(err) {
			s.noteUnknown(unknownOutcome{topic: rt.topic, partition: partition, key: rt.key, from: s.next.NextOffset})
		}
		return fmt.Errorf("produce %d records to %s partition %d: %w", len(send), rt.topic, partition, err)
	}
	s.m.latency.Observe(time.Since(start).Seconds())
	// Entries not sent are landed already, so send holds the entries to
	// mark in order.
	j := 0
	for i := range entries {
		if e := &entries[i]; !e.landed {
			e.landed, e.topic, e.partition, e.koff = true, rt.topic, partition, res.BaseOffset+int64(j)
			j++
		}
	}
	if s.cfg.ReadBack {
		s.next = sink.Landed{Topic: rt.topic, Partition: partition, NextOffset: res.BaseOffset + int64(len(send))}
	}
	s.succeeded()
	return nil
}

// outcomeUnknown reports whether a produce error leaves open whether the
// broker stored the records: any error but a broker's answer that it did
// not, or a connection that could not be made (a timeout, a connection
// lost after the request may have been written, REQUEST_TIMED_OUT and NOT_ENOUGH_REPLICAS_AFTER_APPEND, which
// the broker sends after appending).
func outcomeUnknown(err error) bool {
	var kerr kafka.Error
	if errors.As(err, &kerr) {
		return kerr == kafka.RequestTimedOut || kerr == kafka.NotEnoughReplicasAfterAppend
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return false // no connection: the request was never written
	}
	return true
}

// noteUnknown adds u to the partitions to read back, or lowers the offset
// of the one already noted for the same partition.
func (s *Sink) noteUnknown(u unknownOutcome) {
	for i := range s.unknown {
		if p := &s.unknown[i]; p.topic == u.topic && p.partition == u.partition && bytes.Equal(p.key, u.key) {
			p.from = min(p.from, u.from)
			return
		}
	}
	s.unknown = append(s.unknown, u)
}

// partition returns the partition for rt's key from the topic's metadata,
// asking the broker to create the topic when it does not exist (which it
// does only with auto.create.topics.enable).
func (s *Sink) partition(ctx context.Context, rt route) (int, error) {
	s.openTransport(rt.topic)
	return lookupPartition(ctx, s.transport, s.addr, rt.topic, rt.key)
}

// lookupPartition returns the partition of topic that key maps to: the
// murmur2 hash of the key over the topic's partitions, as the Java client
// does, so one key's records stay in order on one partition.
func lookupPartition(ctx context.Context, tr *kafka.Transport, addr net.Addr, topic string, key []byte) (int, error) {
	res, err := tr.RoundTrip(ctx, addr, &metadataAPI.Request{
		TopicNames:             []string{topic},
		AllowAutoTopicCreation: true,
	})
	if err != nil {
		return 0, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	for _, t := range res.(*metadataAPI.Response).Topics {
		if t.Name != topic {
			continue
		}
		if t.ErrorCode != 0 {
			return 0, fmt.Errorf("metadata of %s: %w", topic, kafka.Error(t.ErrorCode))
		}
		if len(t.Partitions) == 0 {
			return 0, fmt.Errorf("metadata of %s: %w", topic, kafka.LeaderNotAvailable)
		}
		ids := make([]int, len(t.Partitions))
		for i, p := range t.Partitions {
			ids[i] = int(p.PartitionIndex)
		}
		slices.Sort(ids)
		return kafka.Murmur2Balancer{}.Balance(kafka.Message{Key: key}, ids...), nil
	}
	return 0, fmt.Errorf("metadata of %s: %w", topic, kafka.UnknownTopicOrPartition)
}

// check asks the cluster for the topic's metadata and for its API versions
// (always a real round trip), to keep Ready truthful while idle, and
// reports whether both answered.
func (s *Sink) check(parent context.Context) (ok bool) {
	ctx, cancel := context.WithTimeout(parent, s.reqTimeout)
	defer cancel()
	rt := s.route(nil)
	_, err := s.partition(ctx, rt)
	if err == nil {
		_, err = s.client.ApiVersions(ctx, &kafka.ApiVersionsRequest{})
		if err != nil {
			err = fmt.Errorf("reach brokers: %w", err)
		}
	}
	switch {
	case err == nil:
		s.succeeded()
	case parent.Err() == nil:
		kind, err := s.classify(err)
		s.failed(kind, err, rt.topic)
		s.closeTransport() // the next check starts afresh (see deliver)
	}
	return err == nil
}

func (s *Sink) openTransport(topic string) {
	if s.transport != nil && s.transport.MetadataTopics[0] == topic {
		return
	}
	s.closeTransport()
	s.transport = s.newTransport(topic, nil)
	s.client = &kafka.Client{Addr: s.addr, Timeout: s.reqTimeout, Transport: s.transport}
}

// newTransport returns a transport to the brokers for topic's metadata,
// with the output's TLS and SASL settings, adding the bytes it reads to
// counted when that is not nil.
func (s *Sink) newTransport(topic string, counted *atomic.Int64) *kafka.Transport {
	dial := (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr := &kafka.Transport{
		Dial:           dial,
		DialTimeout:    10 * time.Second,
		IdleTimeout:    idleConnTime,
		MetadataTTL:    metadataTTL,
		MetadataTopics: []string{topic},
		ClientID:       "loglet",
		TLS:            s.tls,
	}
	if counted != nil {
		tr.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countingConn{Conn: c, n: counted}, nil
		}
	}
	if s.sasl != nil {
		tr.SASL = s.sasl
	}
	return tr
}

func (s *Sink) closeTransport() {
	if s.transport != nil {
		s.transport.CloseIdleConnections()
		s.transport, s.client = nil, nil
	}
}

// classify returns the kind of a delivery error, and the error, explained
// when the broker closed the connection during SASL authentication.
func (s *Sink) classify(err error) (errKind, error) {
	kind := classify(err)
	if kind == kindNetwork && s.sasl != nil && s.sasl.interrupted() {
		return kindAuthentication, fmt.Errorf("the broker closed the connection during SASL %s authentication as %q: %w", s.sasl.name, s.sasl.user, err)
	}
	return kind, err
}

// succeeded records a successful request.
func (s *Sink) succeeded() {
	if s.sasl != nil {
		s.sasl.reset()
	}
	if s.failures > 0 {
		s.log.Info("Kafka requests succeed again", "failed_attempts", s.failures, "after", time.Since(s.failedSince).Round(time.Millisecond))
		s.failures, s.logKind, s.logAt = 0, errKind{}, time.Time{}
	}
	s.hmu.Lock()
	s.lastOK, s.lastErr, s.fatal = time.Now(), nil, nil
	s.hmu.Unlock()
	s.m.ready.Set(1)
}

// hints tell the operator what to do about a non-retriable error.
var hints = map[errKind]string{
	kindAuthentication: "check LOGLET_KAFKA_SASL_MECHANISM, LOGLET_KAFKA_SASL_USERNAME and the password in LOGLET_KAFKA_SASL_PASSWORD_FILE",
	kindAuthorization:  "grant the user WRITE and DESCRIBE on the topic, and CREATE if it should be created automatically",
	kindTLS:            "check LOGLET_KAFKA_TLS_CA_FILE, LOGLET_KAFKA_TLS_SERVER_NAME and the client certificate",
	kindTopicMissing:   "create the topic, or enable auto.create.topics.enable on the brokers",
	kindTooLarge:       "lower LOGLET_KAFKA_MAX_MESSAGE_BYTES below the brokers' message.max.bytes",
	kindBadTopic:       "fix LOGLET_KAFKA_TOPIC",
	kindRejected:       "see the broker's reason",
}

// failed records a failed request: it counts it, logs it (at most every 30
// seconds while the kind stays the same) and updates the health.
func (s *Sink) failed(kind errKind, err error, topic string) {
	s.m.errors.WithLabelValues(kind.name).Inc()
	if s.failures == 0 {
		s.failedSince = time.Now()
	}
	s.failures++
	s.hmu.Lock()
	s.lastErr = err
	if kind.fatal {
		s.fatal = fmt.Errorf("topic %s: %s: %w (%s; records are kept and retried)", topic, kind.name, err, hints[kind])
	}
	s.hmu.Unlock()
	s.m.ready.Set(0)
	if kind == s.logKind && time.Since(s.logAt) < logEvery {
		return
	}
	s.logKind, s.logAt = kind, time.Now()
	attrs := []any{"topic", topic, "kind", kind.name, "error", err.Error(), "failed_attempts", s.failures}
	if kind.fatal {
		s.log.Error("Kafka refuses the records; they are kept and retried: "+hints[kind], attrs...)
	} else {
		s.log.Warn("Kafka request failed; retrying", attrs...)
	}
}

// Ready reports whether the output can deliver: nil when the last request
// to Kafka succeeded, or failed only briefly; otherwise an error saying
// why, naming the topic for a non-retriable error. It is what
// /status/kafka reports; it never makes the sidecar unready.
func (s *Sink) Ready() error {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	switch {
	case s.fatal != nil:
		return s.fatal
	case s.lastOK.IsZero() && s.lastErr != nil:
		return fmt.Errorf("not reachable: %w", s.lastErr)
	case s.lastOK.IsZero():
		return errors.New("not connected yet")
	case s.lastErr != nil && time.Since(s.lastOK) > s.staleAfter:
		return fmt.Errorf("no successful request for %s: %w", time.Since(s.lastOK).Round(time.Second), s.lastErr)
	}
	return nil
}
