// Command alerter posts a message to a Slack-compatible incoming webhook for
// every log record loglet shipped to Kafka that is at level error or above
// (error, fatal, panic, critical, ...) or whose message mentions an exception
// or a panic. Each message names the pod, namespace, container and node and
// quotes the log message.
//
// It reads every topic whose name matches ALERT_TOPICS (default ^logs\.) as
// one Kafka consumer group, looking for new topics every ALERT_TOPIC_REFRESH,
// because kafka-go has no regular-expression subscription.
//
// # Delivery
//
// An offset is committed only after the record's alert was posted (or the
// record needed none), and a webhook that fails is retried with exponential
// backoff for as long as it takes, so no alert is lost when the webhook is
// down: the alerter waits, and a restart reads the record again. An alert can
// therefore be posted twice, never zero times. Two exceptions, both logged:
// an alert the webhook rejects as malformed (HTTP 400, 413 or 422) is dropped
// rather than blocking every later alert, and alerts beyond a pod's rate
// limit are dropped on purpose; the next alert from that pod says how many
// were.
//
// Stopping (SIGINT, SIGTERM) lets a request already sent to the webhook
// finish, up to ALERT_HTTP_TIMEOUT, so that an alert the webhook accepted is
// committed rather than posted again after the restart; waits between retries
// end at once.
//
// # Configuration
//
// From the environment:
//
//	ALERT_WEBHOOK_URL      incoming webhook URL (required)
//	ALERT_KAFKA_BROKERS    comma-separated bootstrap brokers, host:port (required)
//	ALERT_TOPICS           regular expression of topics to read (^logs\.)
//	ALERT_GROUP_ID         consumer group (loglet-alerter)
//	ALERT_START_AT         beginning | end: where a new group starts in a partition (beginning)
//	ALERT_TOPIC_REFRESH    how often to look for new topics (30s)
//	ALERT_POD_BURST        alerts a pod may cause at once (5)
//	ALERT_POD_INTERVAL     after the burst, one alert per pod per interval (1m)
//	ALERT_RETRY_MIN        first wait after a failed post (1s); doubles up to
//	ALERT_RETRY_MAX        the longest wait between posts (1m)
//	ALERT_HTTP_TIMEOUT     timeout of one webhook request (10s)
//
// TLS and SASL to Kafka are read, checked and applied by the same code as
// the loglet sidecar's LOGLET_KAFKA_TLS_* and LOGLET_KAFKA_SASL_* (package
// github.com/loglet/loglet/sidecar/kafkasec), under the alerter's own prefix,
// because the alerter is a consumer with an identity of its own (it needs
// Read and Describe on the topics and the consumer group, where loglet needs
// Write):
//
//	ALERT_KAFKA_TLS                       connect to Kafka with TLS (true | false)
//	ALERT_KAFKA_TLS_CA_FILE               PEM file of CAs to trust instead of the system roots
//	ALERT_KAFKA_TLS_CERT_FILE             client certificate (PEM) for mutual TLS
//	ALERT_KAFKA_TLS_KEY_FILE              client key (PEM) for mutual TLS
//	ALERT_KAFKA_TLS_SERVER_NAME           server name to verify, when it differs from the broker host
//	ALERT_KAFKA_TLS_INSECURE_SKIP_VERIFY  do not verify the brokers' certificates (logs a warning)
//	ALERT_KAFKA_SASL_MECHANISM            PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512 (empty: no SASL)
//	ALERT_KAFKA_SASL_USERNAME             SASL user name
//	ALERT_KAFKA_SASL_PASSWORD_FILE        file holding the SASL password (a mounted Secret; read
//	                                      again at every connection)
//
// The client key pair is read again at every TLS handshake and the password
// at every new connection, so renewed certificates and a rotated Secret are
// used without a restart.
//
// It logs JSON to stderr and stops cleanly on SIGINT or SIGTERM.
package main
