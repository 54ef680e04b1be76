// Package kafka_test runs the real loglet binary against a Kafka cluster
// (in-process kfake over TCP, or the real one named by
// LOGLET_TEST_KAFKA_BROKERS) and checks what reaches the topics.
package kafka_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/loglet/loglet/integration/internal/harness"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

var uniqSeq atomic.Int64

// uniq returns name with a suffix unique to this run, so that tests against
// a real cluster never read another run's topic.
func uniq(name string) string {
	return fmt.Sprintf("%s-%x-%d", name, time.Now().UnixNano()&0xffffff, uniqSeq.Add(1))
}

// pod is one simulated pod: its identity, its log volume and the app
// writing into it.
type pod struct {
	name, namespace string
	dir             string // holds logs/, state/ and podinfo/
	app             *harness.App
}

func newPod(t *testing.T, name, namespace string, labels map[string]string) *pod {
	t.Helper()
	p := &pod{name: name, namespace: namespace, dir: t.TempDir()}
	if err := os.MkdirAll(filepath.Join(p.dir, "podinfo"), 0o755); err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for k, v := range labels {
		fmt.Fprintf(&sb, "%s=%q\n", k, v)
	}
	if err := os.WriteFile(filepath.Join(p.dir, "podinfo", "labels"), []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	p.app = harness.NewApp(t, filepath.Join(p.dir, "logs"), name+".log")
	return p
}

// topic is where the pod's records go with the default topic template.
func (p *pod) topic() string { return "logs." + p.namespace }

// stateFile is the sidecar's checkpoint file.
func (p *pod) stateFile() string { return filepath.Join(p.dir, "state", "checkpoints.json") }

// env is the sidecar's environment for this pod and cluster, with extra
// variables added or overriding.
func (p *pod) env(k *harness.Kafka, extra ...string) map[string]string {
	env := map[string]string{
		"POD_NAME": p.name, "POD_NAMESPACE": p.namespace, "POD_UID": "uid-" + p.name, "POD_IP": "10.1.2.3",
		"NODE_NAME": "node-1", "CONTAINER_NAME": "app",
		"KUBERNETES_SERVICE_HOST": "10.96.0.1", // as the kubelet sets it: loglet reads NODE_NAME and CONTAINER_NAME only in a pod
		"LOGLET_LOG_DIR":          filepath.Join(p.dir, "logs"),
		"LOGLET_STATE_DIR":        filepath.Join(p.dir, "state"),
		"LOGLET_PODINFO_DIR":      filepath.Join(p.dir, "podinfo"),
		"LOGLET_POLL_INTERVAL":    "50ms",
		"LOGLET_SHUTDOWN_TIMEOUT": "10s",
		"LOGLET_KAFKA_BROKERS":    strings.Join(k.Addrs, ","),
	}
	for _, kv := range extra {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return env
}
