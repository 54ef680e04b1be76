package kafka

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Kafka output's Prometheus metrics. They are registered on
// the Registerer given to New, never on a global registry.
type metrics struct {
	sent       prometheus.Counter
	acked      prometheus.Counter
	ackedBytes prometheus.Counter
	truncated  prometheus.Counter
	requests   prometheus.Counter
	// requestLimit is the request size limit: LOGLET_KAFKA_BATCH_BYTES,
	// or less after the brokers refused a request as too large.
	requestLimit prometheus.Gauge
	errors       *prometheus.CounterVec
	latency      prometheus.Histogram
	queued       prometheus.Gauge
	lastAck      prometheus.Gauge
	ready        prometheus.Gauge

	// Read-back (see Sink.ReadBack and Sink.resolveUnknown).
	skipped         *prometheus.CounterVec // by when
	readbacks       *prometheus.CounterVec // by when
	readbackBytes   prometheus.Counter
	fallbacks       *prometheus.CounterVec // by reason
	readbackSeconds *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loglet_kafka_records_sent_total",
			Help: "Records put in produce requests, counting each retry again.",
		}),
		acked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loglet_kafka_records_acked_total",
			Help: "Records the brokers acknowledged with the configured acks.",
		}),
		ackedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loglet_kafka_acked_bytes_total",
			Help: "Bytes of record values the brokers acknowledged.",
		}),
		truncated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loglet_kafka_records_truncated_total",
			Help: "Records shortened to fit LOGLET_KAFKA_MAX_MESSAGE_BYTES, or the brokers' limit when they refused them as too large.",
		}),
		requests: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loglet_kafka_produce_requests_total",
			Help: "Produce requests sent, counting each retry again.",
		}),
		requestLimit: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loglet_kafka_request_limit_bytes",
			Help: "The produce request size limit: LOGLET_KAFKA_BATCH_BYTES, or less for a while after the brokers refused a request as too large.",
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loglet_kafka_send_errors_total",
			Help: "Failed produce or metadata requests, by kind (" + kindList + ").",
		}, []string{"kind"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "loglet_kafka_produce_seconds",
			Help:    "Time from sending a produce request to its acknowledgement.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}),
		queued: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loglet_kafka_queued_bytes",
			Help: "Bytes of records handed to the Kafka output and not yet acknowledged.",
		}),
		lastAck: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loglet_kafka_last_ack_timestamp_seconds",
			Help: "Unix time of the last acknowledgement from Kafka.",
		}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loglet_kafka_ready",
			Help: "1 when the last request to Kafka succeeded, 0 when it failed (Ready tolerates brief failures).",
		}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loglet_kafka_readback_skipped_records_total",
			Help: "Records not sent again because a read-back found them in Kafka, by when the read-back ran (start: after a stop that was not clean; retry: after a produce request whose outcome is unknown).",
		}, []string{"when"}),
		readbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loglet_kafka_readbacks_total",
			Help: "Partitions read back from Kafka, by when (start, retry).",
		}, []string{"when"}),
		readbackBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loglet_kafka_readback_bytes_total",
			Help: "Bytes read from the brokers for read-backs.",
		}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loglet_kafka_readback_fallbacks_total",
			Help: "Read-backs that could not tell what Kafka holds, so records are sent again (at least once), by reason (" + strings.Join(fallbackReasons, ", ") + "); at start, one per file.",
		}, []string{"reason"}),
		readbackSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "loglet_kafka_readback_seconds",
			Help:    "Time a read-back took, by when (start: the whole ReadBack call; retry: before one retry).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}, []string{"when"}),
	}
	for _, w := range []string{whenStart, whenRetry} {
		m.skipped.WithLabelValues(w)
		m.readbacks.WithLabelValues(w)
	}
	for _, r := range fallbackReasons {
		m.fallbacks.WithLabelValues(r)
	}
	for _, k := range kinds {
		m.errors.WithLabelValues(k.name) // export zeros, so rate() works from the start
	}
	for _, c := range []prometheus.Collector{m.sent, m.acked, m.ackedBytes, m.truncated, m.requests, m.requestLimit, m.errors, m.latency, m.queued, m.lastAck, m.ready,
		m.skipped, m.readbacks, m.readbackBytes, m.fallbacks, m.readbackSeconds} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
