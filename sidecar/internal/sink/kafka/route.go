package kafka

import (
	"errors"
	"fmt"

	"github.com/loglet/loglet/sidecar/internal/podinfo"
)

// ErrTopicName is wrapped by the error for a topic template whose expansion
// is not a legal Kafka topic name.
var ErrTopicName = errors.New("illegal topic name")

// maxTopicLen is Kafka's limit on a topic name's length.
const maxTopicLen = 249

// checkTopicName reports whether name is a legal Kafka topic name: 1 to 249
// characters from [a-zA-Z0-9._-], and neither "." nor "..".
func checkTopicName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrTopicName)
	case name == "." || name == "..":
		return fmt.Errorf("%w %q", ErrTopicName, name)
	case len(name) > maxTopicLen:
		return fmt.Errorf("%w: %d characters, at most %d allowed", ErrTopicName, len(name), maxTopicLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' {
			continue
		}
		return fmt.Errorf("%w %q: character %q at %d (allowed: a-z A-Z 0-9 . _ -)", ErrTopicName, name, c, i)
	}
	return nil
}

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
	} else if err := checkTopicName(topic); err != nil {
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
