package kafka_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/loglet/loglet/integration/internal/harness"
)

// seqWriter is an app writing numbered logrus JSON lines, padded to about
// pad bytes, n at a time every interval, in the background.
type seqWriter struct {
	f    *os.File
	next int
	background
	// bytes counts what was written, for the outage test.
	mu    sync.Mutex
	bytes int64
}

func startSeqWriter(t *testing.T, path string, total, perTick int, tick time.Duration, pad int) *seqWriter {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	w := &seqWriter{f: f, background: background{stop: make(chan struct{})}}
	padding := strings.Repeat("x", max(pad-110, 1))
	w.done.Go(func() {
		defer f.Close()
		tk := time.NewTicker(tick)
		defer tk.Stop()
		var buf []byte
		for w.next < total {
			buf = buf[:0]
			for i := 0; i < perTick && w.next < total; i++ {
				buf = fmt.Appendf(buf, `{"time":%q,"level":"info","msg":"request served","seq":%d,"pad":%q}`+"\n",
					time.Now().UTC().Format(time.RFC3339Nano), w.next, padding)
				w.next++
			}
			if _, err := f.Write(buf); err != nil {
				t.Errorf("app write: %v", err)
				return
			}
			w.mu.Lock()
			w.bytes += int64(len(buf))
			w.mu.Unlock()
			select {
			case <-tk.C:
			case <-w.stop:
				return
			}
		}
	})
	t.Cleanup(w.halt)
	return w
}

// background is an app's writing goroutine: it ends when stop is closed,
// and done waits for it.
type background struct {
	stop chan struct{}
	done sync.WaitGroup
}

// halt stops the writer and waits for it; it may be called more than once.
func (w *background) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	w.done.Wait()
}

func (w *seqWriter) written() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.bytes
}

// checkpoint returns the offset the sidecar's checkpoint holds for the file
// with identity id, 0 when there is none yet.
func checkpoint(t *testing.T, p *pod, id string) int64 {
	t.Helper()
	data, err := os.ReadFile(p.stateFile())
	if errors.Is(err, fs.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version int
		Files   []struct {
			ID     string
			Offset int64
		}
	}
	if err := json.Unmarshal(data, &doc); err != nil || doc.Version != 3 {
		t.Fatalf("checkpoint file %s (version %d): %v", p.stateFile(), doc.Version, err)
	}
	for _, f := range doc.Files {
		if f.ID == id {
			return f.Offset
		}
	}
	return 0
}

// record is what the crash and outage tests need of a message.
type record struct {
	seq    int
	file   string
	offset int64
}

func records(t *testing.T, msgs []harness.Message) []record {
	t.Helper()
	out := make([]record, len(msgs))
	for i, m := range msgs {
		var v struct{ Fields struct{ Seq *int } }
		if err := json.Unmarshal([]byte(m.Value), &v); err != nil || v.Fields.Seq == nil {
			t.Fatalf("message %d: no fields.seq (%v): %s", i, err, m.Value)
		}
		off, err := strconv.ParseInt(m.Headers["loglet-offset"], 10, 64)
		if err != nil {
			t.Fatalf("message %d: loglet-offset %q", i, m.Headers["loglet-offset"])
		}
		out[i] = record{*v.Fields.Seq, m.Headers["loglet-file"], off}
	}
	return out
}

// TestCrash writes 300,000 lines while the sidecar is SIGKILLed at random
// moments five times and restarted. Every line must reach Kafka; a line may
// be duplicated only by a crash that happened while it was in flight (in
// Kafka, but past the saved checkpoint). After a final SIGTERM and restart,
// nothing more is sent.
func TestCrash(t *testing.T) {
	const total = 300_000
	k := harness.StartKafka(t, false, kfake.NumBrokers(1))
	p := newPod(t, "web-1", uniq("crash"), nil)
	k.CreateTopic(t, p.topic(), 1)
	env := p.env(k)

	w := startSeqWriter(t, p.app.Path, total, 400, 10*time.Millisecond, 150)
	sc := harness.StartSidecar(t, env)
	type window struct{ from, to int64 } // offsets a crash left in flight
	var windows []window
	var file string
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for kill := range 5 {
		alive := time.Duration(300+rng.IntN(1700)) * time.Millisecond
		time.Sleep(alive)
		sc.Kill()
		time.Sleep(200 * time.Millisecond) // let a produce request sent before the kill land
		last := k.Last(t, p.topic())
		if len(last) == 0 {
			t.Logf("kill %d: nothing in Kafka yet", kill)
		} else {
			file = last[0].Headers["loglet-file"]
			end, _ := strconv.ParseInt(last[0].Headers["loglet-offset"], 10, 64)
			windows = append(windows, window{checkpoint(t, p, file), end})
			t.Logf("kill %d after %s: checkpoint %d, last offset in Kafka %d", kill, alive, windows[len(windows)-1].from, end)
		}
		sc = harness.StartSidecar(t, env)
	}
	w.done.Wait()
	sc.WaitFor(t, 2*time.Minute, "every line in Kafka", func() bool { return k.Count(t, p.topic()) >= total })
	sc.WaitFor(t, 30*time.Second, "the last acknowledgements", func() bool {
		n := k.Count(t, p.topic())
		time.Sleep(time.Second)
		return k.Count(t, p.topic()) == n
	})

	if _, err := sc.Stop(30 * time.Second); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	before := k.Count(t, p.topic())
	sc = harness.StartSidecar(t, env)
	sc.WaitFor(t, 30*time.Second, "/status/kafka 200 after the restart", func() bool { s, _ := sc.Get("/status/kafka"); return s == 200 })
	time.Sleep(2 * time.Second)
	if after := k.Count(t, p.topic()); after != before {
		t.Errorf("a restart after SIGTERM sent %d records again", after-before)
	}

	recs := records(t, k.Read(t, p.topic(), int(before), time.Minute))
	count := map[int]int{}
	for _, r := range recs {
		count[r.seq]++
		if r.file != file {
			t.Fatalf("record from file %q, want %q", r.file, file)
		}
		inFlight := 0
		for _, w := range windows {
			if r.offset >= w.from && r.offset <= w.to {
				inFlight++
			}
		}
		if count[r.seq] > 1+inFlight {
			t.Errorf("line %d (offset %d) delivered %d times, but in flight at only %d crashes", r.seq, r.offset, count[r.seq], inFlight)
		}
	}
	missing := 0
	for seq := range total {
		if count[seq] == 0 {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d lines never reached Kafka", missing, total)
	}
	t.Logf("%d records for %d lines: %d duplicates from %d crashes", len(recs), total, len(recs)-total, len(windows))
}
