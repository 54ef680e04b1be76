package kafka

import (
	"errors"
	"fmt"

	"github.com/loglet/loglet/sidecar/internal/podinfo"
	"github.com/loglet/loglet/sidecar/internal/topicname"
)

// ErrTopicName is wrapped by the error for a topic template whose expansion
// is not a legal Kafka topic name (package topicname's rule).
var ErrTopicName = topicname.ErrIllegal

// route is where the records of one pod identity go: the topic and the
// message key, both expanded from the templates.
type route struct {
	pod   *podinfo.Pod
	topic string
	key   []byte
}

// newRoute expands the templates for pod and checks the topic name. The
// error names the variable at fault, and both when both are.
func newRoute(pod *podinfo.Pod, topicTmpl, keyTmpl string) (route, error) {
	var errs []error
	topic, err := pod.ExpandStrict(topicTmpl)
	if err != nil {
		errs = append(errs, fmt.Errorf("LOGLET_KAFKA_TOPIC: %w", err))
	} else if err := topicname.Check(topic); err != nil {
		errs = append(errs, fmt.Errorf("LOGLET_KAFKA_TOPIC %q expands to an unusable topic: %w", topicTmpl, err))
	}
	key, err := pod.ExpandStrict(keyTmpl)
	if err != nil {
		errs = append(errs, fmt.Errorf("LOGLET_KAFKA_KEY: %w", err))
	}
	if len(errs) > 0 {
		return route{}, errors.Join(errs...)
	}
	// A non-nil key, even an empty one, is hashed to a fixed partition,
	// which keeps the pod's records in order.
	return route{pod: pod, topic: topic, key: append([]byte{}, key...)}, nil
}
