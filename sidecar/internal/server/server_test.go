package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestEndpoints: a failing report (Kafka) shows on /status and
// /status/kafka and never on /readyz; a failing readiness check
// (checkpoints) fails /readyz.
func TestEndpoints(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "loglet_test_total", Help: "test"})
	reg.MustRegister(c)
	c.Add(3)
	var kafkaDown, diskBroken atomic.Bool
	s := &Server{Gatherer: reg,
		Checks: map[string]Checker{
			"checkpoints": CheckerFunc(func() error {
				if diskBroken.Load() {
					return errors.New("save checkpoints: no space left on device")
				}
				return nil
			}),
		},
		Reports: map[string]Checker{
			"kafka": CheckerFunc(func() error {
				if kafkaDown.Load() {
					return errors.New("topic logs.shop: authorization: TOPIC_AUTHORIZATION_FAILED")
				}
				return nil
			}),
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()

	type answer struct {
		Status int
		Body   string
	}
	check := func(state string, want map[string]answer) {
		t.Helper()
		got := map[string]answer{}
		for path := range want {
			code, body := get(t, base+path)
			got[path] = answer{code, body}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", state, diff)
		}
	}
	check("all well", map[string]answer{
		"/healthz":             {200, "ok\n"},
		"/readyz":              {200, "checkpoints: ok\n"},
		"/status":              {200, "checkpoints: ok\nkafka: ok\n"},
		"/status/kafka":        {200, "ok\n"},
		"/status/checkpoints":  {200, "ok\n"},
		"/status/elasticsearh": {404, "no check \"elasticsearh\"; the checks are checkpoints, kafka\n"},
	})
	kafkaDown.Store(true)
	check("Kafka refuses", map[string]answer{
		"/healthz":            {200, "ok\n"},
		"/readyz":             {200, "checkpoints: ok\n"},
		"/status":             {503, "checkpoints: ok\nkafka: topic logs.shop: authorization: TOPIC_AUTHORIZATION_FAILED\n"},
		"/status/kafka":       {503, "topic logs.shop: authorization: TOPIC_AUTHORIZATION_FAILED\n"},
		"/status/checkpoints": {200, "ok\n"},
	})
	diskBroken.Store(true)
	check("Kafka refuses, checkpoints fail", map[string]answer{
		"/healthz":            {200, "ok\n"},
		"/readyz":             {503, "checkpoints: save checkpoints: no space left on device\n"},
		"/status/checkpoints": {503, "save checkpoints: no space left on device\n"},
	})
	if code, body := get(t, base+"/metrics"); code != 200 || !strings.Contains(body, "loglet_test_total 3") {
		t.Errorf("/metrics = %d %q", code, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestZeroServer: no checks, no metrics.
func TestZeroServer(t *testing.T) {
	var s Server
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/status": 200, "/status/kafka": 404, "/metrics": 404} {
		if code, body := get(t, base+path); code != want {
			t.Errorf("%s = %d %q, want %d", path, code, body, want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestPprofIsOptIn: the profiles are served only with Pprof set.
func TestPprofIsOptIn(t *testing.T) {
	for _, on := range []bool{false, true} {
		h := (&Server{Pprof: on}).Handler()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/pprof/", nil))
		want := http.StatusNotFound
		if on {
			want = http.StatusOK
		}
		if rec.Code != want {
			t.Errorf("Pprof=%v: /debug/pprof/ = %d, want %d", on, rec.Code, want)
		}
	}
}
