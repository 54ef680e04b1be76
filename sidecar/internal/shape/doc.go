// Package shape applies the user's record-shaping rules while the parser
// builds each record (it implements parse.Shaper): drop, sample, redact,
// remove fields, and log_to_metrics. The rules come from environment
// variables, one rule kind per variable, several rules of a kind separated
// by ';':
//
//	LOGLET_DROP_LEVELS=debug,trace          drop records at these normalised levels
//	LOGLET_DROP_IF=path=/healthz;msg~^GET /metrics && status=200
//	                                        drop records matching any condition
//	LOGLET_SAMPLE=10:path~^/api/;100:level=info
//	                                        keep 1 in N of the records matching (first rule wins);
//	                                        kept ones carry "sample_rate":N
//	LOGLET_REDACT=msg,token~[A-Za-z0-9]{32};*~[\w.+-]+@[\w-]+\.[\w.]+
//	                                        replace matches in msg / named fields / * (all strings) with [REDACTED]
//	LOGLET_REMOVE_FIELDS=password,kubernetes.annotations
//	                                        remove fields, or members of the kubernetes block
//	LOGLET_KEEP_FIELDS=user,path,status     keep only these keys in "fields"
//	LOGLET_METRICS=app_requests_total counter by=level,path;app_latency_ms histogram latency_ms buckets=5,10,50,100
//	                                        Prometheus metrics from log fields, on /metrics
//	LOGLET_METRICS_MAX_SERIES=100           label sets per metric; more fold into "other"
//
// A condition is FIELD=VALUE, FIELD!=VALUE, FIELD~RE2 or FIELD!~RE2, several
// joined by && (all must hold). FIELD is msg, level (the normalised level,
// whatever LOGLET_NORMALIZE_LEVELS says) or a key of "fields"; a
// non-string value is compared as its JSON text (status=200). A record
// without the field fails = and ~ and passes != and !~. A ';' inside a
// pattern is written \x3b.
//
// A record goes through the rules in a fixed order: redact, metrics, drop
// by level, drop by condition, sample, remove/keep. So metrics count every
// record, those dropped or sampled out included (what an agent-side metric
// is for), and never see an unredacted value. Each rule is counted in
// loglet_shape_records_total{action,rule}; a dropped record moves the
// checkpoint like a delivered one and is never read again
// (loglet_records_dropped_total).
//
// In the dry run (LOGLET_SINK=stdout) nothing is dropped: a record a rule
// would drop is printed with "loglet_dropped" naming the rule, so the
// effect of the rules can be seen before shipping.
package shape
