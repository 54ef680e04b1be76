package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

const usage = `usage: alerter [-version]

Posts a Slack-compatible webhook message for every loglet record in Kafka at
level error or above or whose message mentions an exception or a panic.

Environment:
  ALERT_WEBHOOK_URL      incoming webhook URL (required)
  ALERT_KAFKA_BROKERS    comma-separated bootstrap brokers, host:port (required)
  ALERT_TOPICS           regular expression of topics to read (^logs\.)
  ALERT_GROUP_ID         consumer group (loglet-alerter)
  ALERT_START_AT         beginning | end: where a new group starts in a partition (beginning)
  ALERT_TOPIC_REFRESH    how often to look for new topics (30s)
  ALERT_POD_BURST        alerts a pod may cause at once (5)
  ALERT_POD_INTERVAL     after the burst, one alert per pod per interval (1m)
  ALERT_RETRY_MIN        first wait after a failed post (1s); doubles up to
  ALERT_RETRY_MAX        the longest wait between posts (1m)
  ALERT_HTTP_TIMEOUT     timeout of one webhook request (10s)

TLS and SASL to Kafka, checked and applied exactly as the loglet sidecar's
LOGLET_KAFKA_TLS_* and LOGLET_KAFKA_SASL_* (the same code, package
sidecar/kafkasec), under the alerter's own prefix:
  ALERT_KAFKA_TLS                       connect to Kafka with TLS (true | false)
  ALERT_KAFKA_TLS_CA_FILE               PEM file of CAs to trust instead of the system roots
  ALERT_KAFKA_TLS_CERT_FILE             client certificate (PEM) for mutual TLS
  ALERT_KAFKA_TLS_KEY_FILE              client key (PEM) for mutual TLS
  ALERT_KAFKA_TLS_SERVER_NAME           server name to verify, when it differs from the broker host
  ALERT_KAFKA_TLS_INSECURE_SKIP_VERIFY  do not verify the brokers' certificates (logs a warning)
  ALERT_KAFKA_SASL_MECHANISM            PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512 (empty: no SASL)
  ALERT_KAFKA_SASL_USERNAME             SASL user name
  ALERT_KAFKA_SASL_PASSWORD_FILE        file holding the SASL password (a mounted Secret; read
                                        again at every connection)
`

// version is loglet's version, set with -ldflags "-X main.version=..." by the
// Makefile and the Dockerfile.
var version = "0.2.0"

func main() {
	flag.Usage = func() {
		fmt.Fprint(flag.CommandLine.Output(), usage)
	}
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println("alerter", version)
		return
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	environ := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		environ[k] = v
	}
	cfg, err := loadConfig(environ)
	if err != nil {
		log.Error("configuration", "err", err)
		os.Exit(2)
	}
	a, err := newAlerter(cfg, log)
	if err != nil {
		log.Error("configuration", "err", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := a.run(ctx); err != nil {
		log.Error("alerter stopped", "err", err)
		os.Exit(1)
	}
}
