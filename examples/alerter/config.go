package main

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"time"

	"github.com/caarlos0/env/v10"

	"github.com/loglet/loglet/sidecar/kafkasec"
)

// config is the alerter's configuration. Its zero value, apart from the two
// required fields, means the defaults documented on each field.
type config struct {
	// WebhookURL is the Slack-compatible incoming webhook. Required.
	WebhookURL string `env:"ALERT_WEBHOOK_URL"`
	// Brokers are the bootstrap brokers, host:port. Required.
	Brokers []string `env:"ALERT_KAFKA_BROKERS" envSeparator:","`
	// Topics is a regular expression; every topic whose name it matches is
	// read. Empty means ^logs\. (loglet's default topics, logs.{namespace}).
	Topics string `env:"ALERT_TOPICS"`
	// GroupID is the Kafka consumer group. Empty means loglet-alerter.
	GroupID string `env:"ALERT_GROUP_ID"`
	// StartAt is where the group starts reading a partition it has no
	// committed offset for: "beginning" (the default when empty) or "end".
	StartAt string `env:"ALERT_START_AT"`
	// TopicRefresh is how often the topic list is read again to find new
	// topics and partitions. Zero means 30s.
	TopicRefresh time.Duration `env:"ALERT_TOPIC_REFRESH"`
	// PodBurst is how many alerts one pod may cause at once. Zero means 5.
	PodBurst int `env:"ALERT_POD_BURST"`
	// PodInterval is how often a pod earns one more alert once its burst is
	// spent. Zero means 1m.
	PodInterval time.Duration `env:"ALERT_POD_INTERVAL"`
	// RetryMin is the wait after the first failed post; it doubles after
	// each further failure. Zero means 1s.
	RetryMin time.Duration `env:"ALERT_RETRY_MIN"`
	// RetryMax caps the wait between posts. Zero means 1m.
	RetryMax time.Duration `env:"ALERT_RETRY_MAX"`
	// HTTPTimeout bounds one webhook request. Zero means 10s.
	HTTPTimeout time.Duration `env:"ALERT_HTTP_TIMEOUT"`
	// Security is TLS and SASL to Kafka, read exactly as the loglet sidecar
	// reads its own (package kafkasec), under the alerter's prefix:
	// ALERT_KAFKA_TLS, ALERT_KAFKA_TLS_CA_FILE, ALERT_KAFKA_SASL_MECHANISM,
	// ALERT_KAFKA_SASL_USERNAME, ALERT_KAFKA_SASL_PASSWORD_FILE and the rest.
	kafkasec.Security `envPrefix:"ALERT_KAFKA_"`
}

// kafkaPrefix is the prefix of the alerter's Kafka variables.
const kafkaPrefix = "ALERT_KAFKA_"

// loadConfig reads the configuration from environ (NAME=value pairs keyed by
// name) and checks it.
func loadConfig(environ map[string]string) (config, error) {
	var c config
	if err := env.ParseWithOptions(&c, env.Options{Environment: environ}); err != nil {
		var agg env.AggregateError
		if !errors.As(err, &agg) {
			return config{}, err
		}
		// Name the variable rather than the Go field.
		var errs []error
		for _, e := range agg.Errors {
			var pe env.ParseError
			if errors.As(e, &pe) {
				if f, ok := reflect.TypeFor[config]().FieldByName(pe.Name); ok {
					name := f.Tag.Get("env")
					if len(f.Index) > 1 { // a kafkasec.Security field
						name = kafkaPrefix + name
					}
					e = fmt.Errorf("%s: %w", name, pe.Err)
				}
			}
			errs = append(errs, e)
		}
		return config{}, errors.Join(errs...)
	}
	c = c.withDefaults()
	return c, c.validate()
}

// withDefaults returns c with its zero fields set to their defaults.
func (c config) withDefaults() config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.Topics == "" {
		c.Topics = `^logs\.`
	}
	if c.GroupID == "" {
		c.GroupID = "loglet-alerter"
	}
	if c.StartAt == "" {
		c.StartAt = "beginning"
	}
	if c.PodBurst == 0 {
		c.PodBurst = 5
	}
	def(&c.TopicRefresh, 30*time.Second)
	def(&c.PodInterval, time.Minute)
	def(&c.RetryMin, time.Second)
	def(&c.RetryMax, time.Minute)
	def(&c.HTTPTimeout, 10*time.Second)
	return c
}

// validate reports every problem in c (after withDefaults), joined.
func (c config) validate() error {
	var errs []error
	if c.WebhookURL == "" {
		errs = append(errs, errors.New("ALERT_WEBHOOK_URL is required"))
	} else if u, err := url.Parse(c.WebhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("ALERT_WEBHOOK_URL %q is not an http(s) URL", c.WebhookURL))
	}
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("ALERT_KAFKA_BROKERS is required"))
	}
	if _, err := regexp.Compile(c.Topics); err != nil {
		errs = append(errs, fmt.Errorf("ALERT_TOPICS: %w", err))
	}
	if c.StartAt != "beginning" && c.StartAt != "end" {
		errs = append(errs, fmt.Errorf("ALERT_START_AT %q: want beginning or end", c.StartAt))
	}
	if c.PodBurst < 0 {
		errs = append(errs, fmt.Errorf("ALERT_POD_BURST %d: want a positive number", c.PodBurst))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"ALERT_TOPIC_REFRESH", c.TopicRefresh},
		{"ALERT_POD_INTERVAL", c.PodInterval},
		{"ALERT_RETRY_MIN", c.RetryMin},
		{"ALERT_RETRY_MAX", c.RetryMax},
		{"ALERT_HTTP_TIMEOUT", c.HTTPTimeout},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s %v: want a positive duration", d.name, d.v))
		}
	}
	if err := c.Security.Validate(kafkaPrefix); err != nil {
		errs = append(errs, err)
	}
	if c.RetryMax < c.RetryMin {
		errs = append(errs, fmt.Errorf("ALERT_RETRY_MAX %v is below ALERT_RETRY_MIN %v", c.RetryMax, c.RetryMin))
	}
	return errors.Join(errs...)
}
