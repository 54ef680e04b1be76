package kafka

import (
	"errors"
	"strings"
	"testing"

	"github.com/loglet/loglet/sidecar/internal/podinfo"
)

func TestNewRoute(t *testing.T) {
	pod := podinfo.New(podinfo.Env{Name: "web-1", Namespace: "shop"},
		map[string]string{"team": "pay"}, map[string]string{"loglet/topic": "audit trail"})
	rt, err := newRoute(pod, "logs.{namespace}.{label:team}", "{pod}")
	if err != nil || rt.topic != "logs.shop.pay" || string(rt.key) != "web-1" {
		t.Fatalf("newRoute = %+v, %v", rt, err)
	}
	if rt, err := newRoute(pod, "logs", ""); err != nil || rt.key == nil || len(rt.key) != 0 {
		t.Errorf("empty key: %+v, %v; want a non-nil empty key", rt, err)
	}
	for _, tt := range []struct{ topic, key, want string }{
		{"{annotation:loglet/topic}", "{pod}", `LOGLET_KAFKA_TOPIC "{annotation:loglet/topic}" expands to an unusable topic: illegal topic name "audit trail"`},
		{"{node}", "{pod}", `LOGLET_KAFKA_TOPIC: "{node}": {node} expands to nothing: NODE_NAME is not set`},
		{"logs.{label:none}", "{pod}", `LOGLET_KAFKA_TOPIC: "logs.{label:none}": {label:none} expands to nothing: the pod has no label "none"`},
		{"logs", "{label:none}", `LOGLET_KAFKA_KEY: "{label:none}": {label:none} expands to nothing`},
		{"logs", "{nope}", "LOGLET_KAFKA_KEY: bad template"},
	} {
		_, err := newRoute(pod, tt.topic, tt.key)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("newRoute(%q, %q) = %v, want %q", tt.topic, tt.key, err, tt.want)
		}
	}
	// Both templates bad: both named at once.
	_, err = newRoute(podinfo.New(podinfo.Env{}, nil, nil), "logs.{namespace}", "{pod}")
	var me *podinfo.MissingError
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "LOGLET_KAFKA_TOPIC") || !strings.Contains(err.Error(), "LOGLET_KAFKA_KEY") {
		t.Errorf("newRoute for a pod without metadata = %v, want both variables named", err)
	}
}
