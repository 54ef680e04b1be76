package kafka_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/loglet/loglet/integration/internal/harness"
)

// rotatingWriter is an app writing numbered JSON lines to its active file
// and rotating it by rename every rotateEvery lines, in the background.
type rotatingWriter struct{ background }

func startRotatingWriter(t *testing.T, path string, total, perTick, rotateEvery int, tick time.Duration) *rotatingWriter {
	t.Helper()
	w := &rotatingWriter{background{stop: make(chan struct{})}}
	pad := strings.Repeat("x", 60)
	w.done.Go(func() {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			t.Errorf("app: %v", err)
			return
		}
		defer func() { f.Close() }()
		var buf []byte
		rotation := 0
		for seq := 0; seq < total; {
			buf = buf[:0]
			for i := 0; i < perTick && seq < total; i++ {
				buf = fmt.Appendf(buf, `{"level":"info","msg":"request served","seq":%d,"pad":%q}`+"\n", seq, pad)
				seq++
				if seq%rotateEvery == 0 {
					if _, err := f.Write(buf); err != nil {
						t.Errorf("app write: %v", err)
						return
					}
					buf = buf[:0]
					f.Close()
					rotation++
					if err := os.Rename(path, fmt.Sprintf("%s.%d", path, rotation)); err != nil { // logrotate's names: web-1.log.N
						t.Errorf("app rotate: %v", err)
						return
					}
					if f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644); err != nil {
						t.Errorf("app: %v", err)
						return
					}
				}
			}
			if _, err := f.Write(buf); err != nil {
				t.Errorf("app write: %v", err)
				return
			}
			select {
			case <-time.After(tick):
			case <-w.stop:
				return
			}
		}
	})
	t.Cleanup(w.halt)
	return w
}

// TestCrashExactlyOnce: the sidecar is SIGKILLed
// ten times at random moments, some within a second of its start and some
// during a catch-up larger than its buffer, while the app writes 300,000
// lines through rename rotations. Before re-sending, loglet reads back what
// Kafka already has: every line arrives exactly once.
func TestCrashExactlyOnce(t *testing.T) {
	const total = 300_000
	k := harness.StartKafka(t, false, kfake.NumBrokers(1))
	p := newPod(t, "web-1", uniq("exact"), nil)
	k.CreateTopic(t, p.topic(), 1)
	env := p.env(k, "LOGLET_MAX_BUFFER_BYTES=1MiB")

	w := startRotatingWriter(t, filepath.Join(p.dir, "logs", "web-1.log"), total, 500, 40_000, 10*time.Millisecond)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 13))
	sc := harness.StartSidecar(t, env)
	for kill := range 10 {
		alive := time.Duration(100+rng.IntN(1900)) * time.Millisecond // within a second of start, often
		if kill == 4 {
			sc.Kill()
			time.Sleep(3 * time.Second) // a backlog larger than the buffer builds up
			sc = harness.StartSidecar(t, env)
			alive = 700 * time.Millisecond // killed during the catch-up
		}
		time.Sleep(alive)
		sc.Kill()
		sc = harness.StartSidecar(t, env)
	}
	w.done.Wait()
	sc.WaitFor(t, 2*time.Minute, "every line in Kafka", func() bool { return k.Count(t, p.topic()) >= total })
	sc.WaitFor(t, 30*time.Second, "the last acknowledgements", func() bool {
		n := k.Count(t, p.topic())
		time.Sleep(time.Second)
		return k.Count(t, p.topic()) == n
	})
	n := k.Count(t, p.topic())
	t.Logf("the last run's read-back fall-backs: %v", sc.Metric("loglet_kafka_readback_fallbacks_total"))
	checkExactlyOnce(t, records(t, k.Read(t, p.topic(), int(n), time.Minute)), total, "web-1 after 10 SIGKILLs")
}
