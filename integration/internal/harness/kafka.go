package harness

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/twmb/franz-go/pkg/kfake"
)

// BrokersEnv names the variable that points the tests at a real Kafka
// cluster (comma-separated host:port) instead of an in-process one.
const BrokersEnv = "LOGLET_TEST_KAFKA_BROKERS"

// Kafka is a cluster under test: an in-process kfake cluster, or a real one
// named by BrokersEnv.
//
// Concurrency: Addrs, Client and Read may be used from any goroutine; Stop
// and Restart only from the test's goroutine.
type Kafka struct {
	// Addrs are the bootstrap brokers, host:port.
	Addrs []string
	// TLS and SASL are what a client needs to connect; nil when the
	// cluster is plain.
	TLS  *tls.Config
	SASL sasl.Mechanism

	fake    bool // kfake, not a real cluster
	opts    []kfake.Opt
	cluster *kfake.Cluster // the running kfake cluster
	tr      *kafka.Transport
}

// StartKafka starts a kfake cluster with opts, closed when the test ends,
// or returns the real cluster named by BrokersEnv (opts are then ignored;
// see Fake). With restart true the cluster keeps its data in a directory, so
// Stop and Restart keep the records.
func StartKafka(t testing.TB, restart bool, opts ...kfake.Opt) *Kafka {
	t.Helper()
	if env := os.Getenv(BrokersEnv); env != "" {
		k := &Kafka{Addrs: strings.Split(env, ",")}
		k.tr = &kafka.Transport{}
		t.Cleanup(k.tr.CloseIdleConnections)
		return k
	}
	if restart {
		opts = append(opts, kfake.DataDir(t.TempDir()))
	}
	k := &Kafka{fake: true, opts: opts}
	k.start(t, opts)
	ports := make([]int, len(k.Addrs))
	for i, a := range k.Addrs {
		_, p, _ := net.SplitHostPort(a)
		ports[i], _ = strconv.Atoi(p)
	}
	k.opts = append(k.opts, kfake.Ports(ports...))
	t.Cleanup(func() {
		if k.cluster != nil {
			k.cluster.Close()
		}
		k.closeClient()
	})
	return k
}

func (k *Kafka) start(t testing.TB, opts []kfake.Opt) {
	t.Helper()
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	k.cluster = c
	k.Addrs = c.ListenAddrs()
}

// Fake returns the kfake cluster, skipping the test when the tests run
// against a real cluster, which cannot be stopped or faulted from here.
func (k *Kafka) Fake(t testing.TB) *kfake.Cluster {
	t.Helper()
	if !k.fake {
		t.Skipf("needs the in-process cluster; %s points at a real one", BrokersEnv)
	}
	return k.cluster
}

// Stop shuts the cluster down; its ports refuse connections until Restart.
func (k *Kafka) Stop(t testing.TB) {
	t.Helper()
	c := k.Fake(t)
	if c == nil {
		t.Fatal("Stop of a stopped cluster")
	}
	c.Close()
	k.cluster = nil
	k.closeClient()
}

// Restart starts the cluster again on the same ports, with the data it had
// when StartKafka was called with restart true.
func (k *Kafka) Restart(t testing.TB) {
	t.Helper()
	if k.cluster != nil {
		t.Fatal("Restart of a running cluster")
	}
	k.start(t, k.opts)
}

// UseCredentials sets how Read and Client connect.
func (k *Kafka) UseCredentials(tc *tls.Config, mech sasl.Mechanism) {
	k.closeClient()
	k.TLS, k.SASL = tc, mech
}

// Client returns a kafka-go client for the cluster.
func (k *Kafka) Client() *kafka.Client {
	if k.tr == nil {
		k.tr = &kafka.Transport{TLS: k.TLS, SASL: k.SASL}
	}
	return &kafka.Client{Addr: kafka.TCP(k.Addrs...), Timeout: 10 * time.Second, Transport: k.tr}
}

func (k *Kafka) closeClient() {
	if k.tr != nil {
		k.tr.CloseIdleConnections()
		k.tr = nil
	}
}

// CreateTopic creates topic with the given number of partitions.
func (k *Kafka) CreateTopic(t testing.TB, topic string, partitions int) {
	t.Helper()
	res, err := k.Client().CreateTopics(context.Background(), &kafka.CreateTopicsRequest{
		Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1}}})
	if err == nil {
		err = res.Errors[topic]
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}
