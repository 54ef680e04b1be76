package pipeline

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the pipeline's Prometheus metrics. They are registered on the
// Registerer given to New; nothing is global.
type metrics struct {
	linesRead      prometheus.Counter
	bytesRead      prometheus.Counter
	records        *prometheus.CounterVec // by format
	parseErrors    *prometheus.CounterVec // by format attempted
	typeErrors     prometheus.Counter
	truncated      prometheus.Counter
	recordsAcked   prometheus.Counter
	rotations      prometheus.Counter
	truncations    prometheus.Counter
	deleted        prometheus.Counter
	lagBytes       *prometheus.GaugeVec // by file
	bufferedBytes  prometheus.GaugeFunc
	lastAck        prometheus.Gauge
	filesOpen      prometheus.Gauge
	checkpointErrs prometheus.Counter
	skipped        *prometheus.CounterVec // by reason
	truncBackoffs  prometheus.Counter
	copiesSkipped  prometheus.Counter
	dropped        prometheus.Counter // records dropped on purpose by a shaping rule
}

func newMetrics(reg prometheus.Registerer, buffered func() float64) (*metrics, error) {
	m := &metrics{
		linesRead: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loglet_lines_read_total", Help: "Lines read from log files."}),
		bytesRead: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loglet_bytes_read_total", Help: "Bytes read from log files."}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loglet_records_total", Help: "Records produced from log lines, by detected format."}, []string{"format"}),
		parseErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loglet_parse_errors_total", Help: "Records whose text was invalid and was shipped as a plain message, by the format attempted."}, []string{"format"}),
		typeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loglet_type_errors_total", Help: "Field values that could not be converted to their pinned type (LOGLET_FIELD_TYPES)."}),
		truncated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loglet_truncated_records_total", Help: "Records cut to LOGLET_MAX_LINE_BYTES."}),
		recordsAcked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loglet_records_acked_total", Help: "Records the sink acknowledged as delivered."}),
		rotations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loglet_rotations_total", Help: "Files seen renamed away or deleted while tracked."}),
		truncations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loglet_truncations_total", Help: "Files seen truncated below their read offset (copy-truncate); read again from 0."}),
		deleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loglet_files_deleted_total", Help: "Rotated files removed after every line was acknowledged (LOGLET_DELETE_SHIPPED)."}),
		lagBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "loglet_file_lag_bytes", Help: "Bytes of a file not yet acknowledged by the sink."}, []string{"file"}),
		bufferedBytes: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "loglet_buffered_bytes", Help: "Bytes of records handed to the sink and not yet acknowledged."}, buffered),
		lastAck: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loglet_last_ack_timestamp_seconds", Help: "Unix time of the last acknowledgement from the sink."}),
		filesOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loglet_files_open", Help: "Log files whose descriptor is held: every tracked file, from discovery until it is forgotten."}),
		checkpointErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loglet_checkpoint_errors_total", Help: "Failed attempts to save the checkpoint state."}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loglet_files_skipped_total", Help: "Directory entries matching the include pattern that were not read, by reason: symlink (links are never followed) or not_regular (FIFOs, sockets, devices, directories)."}, []string{"reason"}),
		truncBackoffs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loglet_truncation_backoffs_total", Help: "Times a file that kept being truncated was left alone for a while before it was read again."}),
		copiesSkipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loglet_copied_bytes_skipped_total", Help: "Bytes of copies of truncated files (copytruncate) that were not read again, because they had been read from the original."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loglet_records_dropped_total", Help: "Records dropped on purpose by a rule (LOGLET_DROP_LEVELS, LOGLET_DROP_IF, LOGLET_SAMPLE); their lines count as delivered. loglet_shape_records_total has them by rule."}),
	}
	for _, c := range []prometheus.Collector{m.linesRead, m.bytesRead, m.records, m.parseErrors, m.typeErrors,
		m.truncated, m.recordsAcked, m.rotations, m.truncations, m.deleted, m.lagBytes, m.bufferedBytes,
		m.lastAck, m.filesOpen, m.checkpointErrs, m.skipped, m.truncBackoffs, m.copiesSkipped, m.dropped} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
