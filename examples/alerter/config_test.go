package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLoadConfig(t *testing.T) {
	got, err := loadConfig(map[string]string{
		"ALERT_WEBHOOK_URL":   "https://hooks.slack.com/services/T0/B0/x",
		"ALERT_KAFKA_BROKERS": "k1:9092,k2:9092",
		"ALERT_POD_BURST":     "2",
		"ALERT_RETRY_MAX":     "5m",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := config{
		WebhookURL: "https://hooks.slack.com/services/T0/B0/x", Brokers: []string{"k1:9092", "k2:9092"},
		Topics: `^logs\.`, GroupID: "loglet-alerter", StartAt: "beginning", TopicRefresh: 30 * time.Second,
		PodBurst: 2, PodInterval: time.Minute, RetryMin: time.Second, RetryMax: 5 * time.Minute, HTTPTimeout: 10 * time.Second,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("loadConfig (-want +got):\n%s", diff)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	ok := map[string]string{"ALERT_WEBHOOK_URL": "http://hook", "ALERT_KAFKA_BROKERS": "k:9092"}
	tests := []struct {
		name, key, value string
		want             string
	}{
		{"no webhook", "ALERT_WEBHOOK_URL", "", "ALERT_WEBHOOK_URL is required"},
		{"webhook not a URL", "ALERT_WEBHOOK_URL", "hooks.slack.com/x", `ALERT_WEBHOOK_URL "hooks.slack.com/x" is not an http(s) URL`},
		{"no brokers", "ALERT_KAFKA_BROKERS", "", "ALERT_KAFKA_BROKERS is required"},
		{"bad pattern", "ALERT_TOPICS", "logs.(", "ALERT_TOPICS: error parsing regexp"},
		{"bad start", "ALERT_START_AT", "latest", `ALERT_START_AT "latest": want beginning or end`},
		{"bad duration", "ALERT_RETRY_MIN", "soon", `ALERT_RETRY_MIN`},
		{"negative", "ALERT_POD_INTERVAL", "-1s", "ALERT_POD_INTERVAL -1s: want a positive duration"},
		{"retry max below min", "ALERT_RETRY_MAX", "10ms", "ALERT_RETRY_MAX 10ms is below ALERT_RETRY_MIN 1s"},
		{"negative burst", "ALERT_POD_BURST", "-3", "ALERT_POD_BURST -3: want a positive number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			environ := map[string]string{}
			for k, v := range ok {
				environ[k] = v
			}
			environ[tt.key] = tt.value
			_, err := loadConfig(environ)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("loadConfig with %s=%q: %v, want an error containing %q", tt.key, tt.value, err, tt.want)
			}
		})
	}
}
