package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// scriptedHook is an httptest webhook that answers requests with the given
// statuses in turn (200 after the script ends) and records what it received.
type scriptedHook struct {
	mu         sync.Mutex
	statuses   []int
	retryAfter string
	got        []string // texts of all requests, accepted or not
}

func (h *scriptedHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct{ Text string }
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&body) != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.got = append(h.got, body.Text)
	status := http.StatusOK
	if len(h.statuses) > 0 {
		status, h.statuses = h.statuses[0], h.statuses[1:]
	}
	if h.retryAfter != "" {
		w.Header().Set("Retry-After", h.retryAfter)
	}
	w.WriteHeader(status)
	io.WriteString(w, http.StatusText(status))
}

func (h *scriptedHook) received() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.got...)
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// postContext is the context of a post in a test: post retries for as long
// as it takes, so a test whose webhook never accepts would otherwise never
// end.
func postContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestWebhookPost(t *testing.T) {
	tests := []struct {
		name       string
		statuses   []int
		retryAfter string
		wantErr    error // nil, or a *rejectedError
		wantSent   int
		wantWaits  []time.Duration // upper bounds; backoff is jittered down to half
	}{
		{"accepted", nil, "", nil, 1, nil},
		{"accepted with 204", []int{204}, "", nil, 1, nil},
		{"down for a while", []int{503, 500, 502, 404, 503}, "", nil, 6,
			[]time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond}},
		{"retry after", []int{429, 429}, "7", nil, 3, []time.Duration{7 * time.Second, 7 * time.Second}},
		{"retry after capped", []int{503}, "86400", nil, 2, []time.Duration{maxRetryAfter}},
		{"bad payload", []int{400}, "", &rejectedError{}, 1, nil},
		{"too large", []int{503, 413}, "", &rejectedError{}, 2, []time.Duration{10 * time.Millisecond}},
		{"unprocessable", []int{422}, "", &rejectedError{}, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &scriptedHook{statuses: tt.statuses, retryAfter: tt.retryAfter}
			srv := httptest.NewServer(h)
			defer srv.Close()
			var waits []time.Duration
			w := &webhook{
				url: srv.URL, client: srv.Client(), retryMin: 10 * time.Millisecond, retryMax: 50 * time.Millisecond, log: testLogger(t),
				sleep: func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return nil },
			}
			err := w.post(postContext(t), "hello & <world>")
			if tt.wantErr == nil && err != nil {
				t.Errorf("post: %v", err)
			}
			var rejected *rejectedError
			if tt.wantErr != nil && !errors.As(err, &rejected) {
				t.Errorf("post = %v, want a rejection", err)
			}
			want := make([]string, tt.wantSent)
			for i := range want {
				want[i] = "hello & <world>"
			}
			if diff := cmp.Diff(want, h.received()); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			if len(waits) != len(tt.wantWaits) {
				t.Fatalf("waited %v, want %d waits at most %v", waits, len(tt.wantWaits), tt.wantWaits)
			}
			for i, d := range waits {
				if d > tt.wantWaits[i] || d < tt.wantWaits[i]/2 {
					t.Errorf("wait %d = %v, want within [%v, %v]", i, d, tt.wantWaits[i]/2, tt.wantWaits[i])
				}
			}
		})
	}
}

func TestWebhookPostRetriesUnreachable(t *testing.T) {
	// Nothing listens on addr until the third wait.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	h := &scriptedHook{}
	srv := httptest.NewUnstartedServer(h)
	defer srv.Close()
	attempts := 0
	w := &webhook{
		url: "http://" + addr, client: &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}, retryMin: time.Millisecond, retryMax: time.Millisecond, log: testLogger(t),
		sleep: func(ctx context.Context, d time.Duration) error {
			if attempts++; attempts == 3 {
				l, err := net.Listen("tcp", addr)
				if err != nil {
					return err
				}
				srv.Listener.Close()
				srv.Listener = l
				srv.Start()
			}
			return nil
		},
	}
	defer w.client.CloseIdleConnections()
	if err := w.post(postContext(t), "x"); err != nil {
		t.Fatalf("post: %v", err)
	}
	if attempts != 3 || len(h.received()) != 1 {
		t.Errorf("%d waits and %d delivered requests, want 3 and 1", attempts, len(h.received()))
	}
}

func TestWebhookPostStopsWithContext(t *testing.T) {
	srv := httptest.NewServer(&scriptedHook{statuses: []int{503, 503, 503, 503, 503}})
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	waits := 0
	w := &webhook{
		url: srv.URL, client: srv.Client(), retryMin: time.Millisecond, retryMax: time.Millisecond, log: testLogger(t),
		sleep: func(ctx context.Context, d time.Duration) error {
			if waits++; waits == 2 {
				cancel()
			}
			return ctx.Err()
		},
	}
	if err := w.post(ctx, "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("post = %v, want context.Canceled", err)
	}
}

// TestWebhookPostFinishesRequestInFlight ends ctx while the webhook handles
// the request. post waits for the answer: an alert the webhook accepted
// counts as posted (so the alerter commits its offset rather than posting it
// again after a restart), and a failed one is not retried.
func TestWebhookPostFinishesRequestInFlight(t *testing.T) {
	for _, tt := range []struct {
		status  int
		wantErr error
	}{
		{http.StatusOK, nil},
		{http.StatusServiceUnavailable, context.Canceled},
		{http.StatusBadRequest, &rejectedError{}},
	} {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			received, release := make(chan struct{}, 1), make(chan struct{})
			var requests atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				received <- struct{}{}
				select {
				case <-release:
				case <-time.After(10 * time.Second):
				}
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			w := &webhook{
				url: srv.URL, client: &http.Client{Timeout: 10 * time.Second}, retryMin: time.Millisecond, retryMax: time.Millisecond, log: testLogger(t),
				sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() },
			}
			defer w.client.CloseIdleConnections()
			done := make(chan error, 1)
			go func() { done <- w.post(ctx, "x") }()
			select {
			case <-received:
			case <-time.After(10 * time.Second):
				t.Fatal("no request within 10s")
			}
			cancel()
			close(release)
			var err error
			select {
			case err = <-done:
			case <-time.After(15 * time.Second):
				t.Fatal("post did not return within 15s")
			}
			var rejected *rejectedError
			switch {
			case tt.wantErr == nil && err != nil,
				errors.As(tt.wantErr, &rejected) && !errors.As(err, &rejected),
				errors.Is(tt.wantErr, context.Canceled) && !errors.Is(err, context.Canceled):
				t.Errorf("post = %v, want %v", err, tt.wantErr)
			}
			if n := requests.Load(); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}
