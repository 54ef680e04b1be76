package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv("ALERTER_TEST_RUN_MAIN") == "1" {
		main() // TestCommand runs the test binary as the alerter command
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// TestCommand runs the command as a process, configured from the
// environment, and stops it with SIGINT.
func TestCommand(t *testing.T) {
	t.Parallel()
	k := startKafka(t)
	k.createTopic("logs.shop", 1)
	k.produce("logs.shop", testRecord{pod: "cart-1", level: "error", msg: "db down"})
	hook, url := startHook(t)

	var stderr bytes.Buffer
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ALERTER_TEST_RUN_MAIN=1", "ALERT_WEBHOOK_URL="+url, "ALERT_KAFKA_BROKERS="+k.addrs[0])
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-done
		}
		t.Logf("alerter's stderr:\n%s", stderr.String())
	}()
	eventually(t, "the alert", func() bool { return len(hook.alerts()) >= 1 })
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("alerter exited with %v after SIGINT, want 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("alerter still running 30s after SIGINT")
	}
	if diff := cmp.Diff([]string{"cart-1: db down"}, hook.alerts()); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"0:1/1"}, k.committed("loglet-alerter", "logs.shop", 1)); diff != "" {
		t.Errorf("committed/end offsets (-want +got):\n%s", diff)
	}
}

func TestCommandRejectsBadConfig(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ALERTER_TEST_RUN_MAIN=1", "ALERT_WEBHOOK_URL=", "ALERT_KAFKA_BROKERS=")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || !bytes.Contains(out, []byte("ALERT_WEBHOOK_URL is required")) {
		t.Errorf("alerter without configuration: %v, output %s; want exit status 2 naming ALERT_WEBHOOK_URL", err, out)
	}
}
