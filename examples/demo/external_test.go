package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// buildBinaries builds loglet and the counter into a temporary directory,
// as make demo does into bin/.
func buildBinaries(t *testing.T) (loglet, counter string) {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(filepath.Separator), "../../sidecar/cmd/loglet", "../counter")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return filepath.Join(dir, "loglet"), filepath.Join(dir, "counter")
}

// TestRunWithLogletKafkaBrokers runs the demo against a cluster of the
// test's own, named by LOGLET_KAFKA_BROKERS, whose topic already holds a
// record from an earlier run: the demo uses that cluster, shows only the
// records of its own run, and leaves the cluster's other contents alone.
func TestRunWithLogletKafkaBrokers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs loglet and the counter; skipped with -short")
	}
	loglet, counter := buildBinaries(t)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "logs.demo"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{Addr: kafka.TCP(cluster.ListenAddrs()...), Topic: "logs.demo", Transport: tr, BatchTimeout: time.Millisecond}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, kafka.Message{Value: []byte(`{"level":"info","msg":"from an earlier run"}`)}); err != nil {
		t.Fatal(err)
	}
	w.Close()

	var out, stderr syncBuffer
	stop, cancelStop := context.WithCancel(t.Context())
	defer cancelStop()
	environ := []string{"LOGLET_KAFKA_BROKERS=" + strings.Join(cluster.ListenAddrs(), ",")}
	done := make(chan error, 1)
	go func() {
		done <- run(stop, t.Context(), options{loglet: loglet, counter: counter, interval: 20 * time.Millisecond}, environ, newPrinter(&out, false), &stderr)
	}()
	lines := regexp.MustCompile(`(?m)^\S+ INFO  sample log count=(\d+) .*  demo/counter-7d9c5-x2x4z  logs\.demo/0@(\d+)$`)
	deadline := time.Now().Add(time.Minute)
	for len(lines.FindAllString(out.String(), -1)) < 3 {
		select {
		case err := <-done:
			t.Fatalf("run ended early: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than 3 records after a minute\nstdout:\n%s\nstderr:\n%s", out.String(), stderr.String())
		}
	}
	cancelStop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("run did not return within a minute of the stop")
	}
	text := out.String()
	want := "  Kafka     the cluster at " + strings.Join(cluster.ListenAddrs(), ",") + " (LOGLET_KAFKA_BROKERS), topic logs.demo\n"
	if !strings.Contains(text, want) {
		t.Errorf("output does not name the cluster: want %q in\n%s", want, text)
	}
	if strings.Contains(text, "from an earlier run") {
		t.Errorf("the record of an earlier run was printed:\n%s", text)
	}
	// Offsets continue after the earlier record: the demo produced to the
	// test's cluster, not to one of its own.
	m := lines.FindStringSubmatch(text)
	if m == nil || m[1] != "0" || m[2] != "1" {
		t.Errorf("first record line %q, want count 0 at offset 1", m)
	}
}
