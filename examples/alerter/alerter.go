package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// alerter reads loglet records from Kafka and posts alerts. Call run once; an
// alerter is not safe for concurrent use.
type alerter struct {
	cfg    config
	topics *regexp.Regexp
	log    *slog.Logger
	hook   *webhook
	limit  *podLimiter
	kafka  *kafka.Client
	// dialer connects the consumer group's reader, with the same TLS and
	// SASL as kafka.
	dialer *kafka.Dialer
	now    func() time.Time
	// maxWait bounds a fetch request, and so how long closing the reader
	// takes. Zero means 1s.
	maxWait time.Duration
	// closeTimeout bounds how long consume waits for the reader to close.
	// Zero means defaultCloseTimeout.
	closeTimeout time.Duration
}

// defaultCloseTimeout bounds closing the Kafka reader, which leaves the
// consumer group and commits what is pending: kafka-go's Reader.Close can
// block for a long time (segmentio/kafka-go#1248, #1006), and a stopping
// alerter must still stop, well within Kubernetes' 30s grace period.
const defaultCloseTimeout = 20 * time.Second

// newAlerter checks cfg (after applying its defaults), reads the TLS and
// SASL files it names, and returns an alerter that logs to log.
func newAlerter(cfg config, log *slog.Logger) (*alerter, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	sec, err := cfg.Security.Client(kafkaPrefix)
	if err != nil {
		return nil, err
	}
	if cfg.TLSInsecureSkipVerify {
		log.Warn(kafkaPrefix + "TLS_INSECURE_SKIP_VERIFY is true: the brokers' certificates are not verified, so anyone on the network path can read the records")
	}
	return &alerter{
		cfg:    cfg,
		topics: regexp.MustCompile(cfg.Topics),
		log:    log,
		hook: &webhook{
			url:      cfg.WebhookURL,
			client:   &http.Client{Timeout: cfg.HTTPTimeout, Transport: http.DefaultTransport.(*http.Transport).Clone()},
			retryMin: cfg.RetryMin,
			retryMax: cfg.RetryMax,
			log:      log,
		},
		limit:  newPodLimiter(cfg.PodBurst, cfg.PodInterval),
		kafka:  &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 10 * time.Second, Transport: sec.Transport("loglet-alerter")},
		dialer: sec.Dialer(),
		now:    time.Now,
	}, nil
}

// errTopicsChanged ends a consume call when topics or partitions came or went.
var errTopicsChanged = errors.New("topics changed")

// run consumes until ctx ends, then returns nil. Kafka and webhook failures
// are logged and retried, never returned.
func (a *alerter) run(ctx context.Context) error {
	defer a.hook.client.CloseIdleConnections()
	defer a.kafka.Transport.(*kafka.Transport).CloseIdleConnections()
	var wait time.Duration
	for {
		if sleep(ctx, wait) != nil {
			return nil
		}
		wait = a.cfg.TopicRefresh
		topics, err := a.discover(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			a.log.Warn("cannot list topics; retrying", "err", err, "wait", wait)
			continue
		case len(topics) == 0:
			a.log.Info("no topic matches yet", "pattern", a.cfg.Topics, "wait", wait)
			continue
		}
		err = a.consume(ctx, topics)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, errTopicsChanged):
			wait = 0
		default:
			a.log.Warn("consumer stopped; restarting", "err", err, "wait", wait)
		}
	}
}

// discover lists the topics the pattern matches, each as "name/partitions",
// sorted, so that a change in either shows as a different list.
func (a *alerter) discover(ctx context.Context) ([]string, error) {
	md, err := a.kafka.Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		return nil, err
	}
	var topics []string
	for _, t := range md.Topics {
		if t.Error == nil && !t.Internal && a.topics.MatchString(t.Name) {
			topics = append(topics, fmt.Sprintf("%s/%d", t.Name, len(t.Partitions)))
		}
	}
	slices.Sort(topics)
	return topics, nil
}

// consume reads topics as the consumer group until ctx ends, the topic list
// changes (errTopicsChanged) or the reader fails. It commits a record's offset
// only after handling it.
func (a *alerter) consume(ctx context.Context, topics []string) error {
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = t[:strings.LastIndexByte(t, '/')]
	}
	start := kafka.FirstOffset
	if a.cfg.StartAt == "end" {
		start = kafka.LastOffset
	}
	maxWait := a.maxWait
	if maxWait == 0 {
		maxWait = time.Second
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:        a.cfg.Brokers,
		Dialer:         a.dialer,
		GroupID:        a.cfg.GroupID,
		GroupTopics:    names,
		StartOffset:    start,
		CommitInterval: time.Second, // Close commits what is still pending
		MaxWait:        maxWait,
		Logger: kafka.LoggerFunc(func(msg string, args ...any) {
			a.log.Debug(fmt.Sprintf(msg, args...), "component", "kafka")
		}),
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			a.log.Warn(fmt.Sprintf(msg, args...), "component", "kafka")
		}),
	})
	defer a.closeReader(r)
	a.log.Info("consuming", "topics", names, "group", a.cfg.GroupID)

	// fetchCtx ends when the topics change; a record already being handled
	// still finishes (under ctx), so its alert is posted and committed.
	fetchCtx, stop := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		for sleep(fetchCtx, a.cfg.TopicRefresh) == nil {
			now, err := a.discover(fetchCtx)
			if err == nil && !slices.Equal(now, topics) {
				a.log.Info("topics changed", "was", topics, "now", now)
				stop(errTopicsChanged)
				return
			}
		}
	})
	defer func() {
		stop(nil)
		wg.Wait()
	}()

	for {
		m, err := r.FetchMessage(fetchCtx)
		if err != nil {
			if cause := context.Cause(fetchCtx); cause != nil {
				return cause
			}
			return fmt.Errorf("fetch: %w", err)
		}
		if err := a.handle(ctx, m); err != nil {
			return err // ctx ended before the alert was posted: do not commit
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err = r.CommitMessages(cctx, m)
		cancel()
		if err != nil {
			a.log.Warn("commit failed; the record may be read again", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "err", err)
		}
	}
}

// closeReader closes r, waiting at most closeTimeout. Past that it logs an
// error and returns, and the close goes on unowned: the offsets it would have
// committed are read again by the next consumer, and a leak check in a test
// shows where kafka-go is stuck.
func (a *alerter) closeReader(r io.Closer) {
	timeout := a.closeTimeout
	if timeout <= 0 {
		timeout = defaultCloseTimeout
	}
	done := make(chan error, 1)
	go func() { done <- r.Close() }()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil {
			a.log.Warn("closing the Kafka reader", "err", err)
		}
	case <-t.C:
		a.log.Error("the Kafka reader did not close in time; going on without it (uncommitted offsets will be read again)", "timeout", timeout)
	}
}

// handle posts the alert m calls for, if any. It returns an error only when
// ctx ends before the alert was posted.
func (a *alerter) handle(ctx context.Context, m kafka.Message) error {
	src := source{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset}
	r, err := decodeRecord(m.Value)
	if err != nil {
		a.log.Warn("skipping record", "topic", src.Topic, "partition", src.Partition, "offset", src.Offset, "err", err)
		return nil
	}
	reason := r.reason()
	if reason == "" {
		return nil
	}
	ok, suppressed := a.limit.allow(r.pod(), a.now())
	if !ok {
		a.log.Info("alert dropped by the pod's rate limit", "pod", r.pod(), "topic", src.Topic, "partition", src.Partition, "offset", src.Offset)
		return nil
	}
	err = a.hook.post(ctx, alertText(r, reason, src, suppressed))
	if rejected := (*rejectedError)(nil); errors.As(err, &rejected) {
		a.log.Error("alert dropped", "pod", r.pod(), "topic", src.Topic, "partition", src.Partition, "offset", src.Offset, "err", err)
		return nil
	}
	return err
}

// sleep waits d, or returns ctx's error if ctx ends first.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
