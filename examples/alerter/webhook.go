package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// webhook posts messages to a Slack-compatible incoming webhook, retrying
// until the webhook accepts each one. It is safe for concurrent use if its
// client is.
type webhook struct {
	url      string
	client   *http.Client
	retryMin time.Duration // wait after the first failure; doubles per failure
	retryMax time.Duration // cap on that wait
	log      *slog.Logger
	// sleep waits d or until ctx ends; nil means the package's sleep.
	// Tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

// rejectedError is the webhook refusing a message for good: posting the same
// message again cannot succeed.
type rejectedError struct {
	status int
	body   string
}

func (e *rejectedError) Error() string {
	return fmt.Sprintf("webhook rejected the message: %d %s", e.status, e.body)
}

// maxRetryAfter caps how long a Retry-After header can make the poster wait.
const maxRetryAfter = 5 * time.Minute

// post sends text as {"text": text}. It retries, with exponential backoff and
// jitter or as long as a Retry-After header asks, on network errors and on
// every status but 2xx and the three that mean the message itself is bad
// (400, 413, 422), for which it returns a *rejectedError. It returns nil once
// the webhook answered 2xx, or ctx.Err() when ctx ends first.
//
// A request already sent when ctx ends is not abandoned: the webhook may have
// accepted it, and not knowing would make the alerter post the alert again
// after a restart. It ends with the webhook's answer or the client's
// timeout; post then returns nil if the answer was 2xx, else ctx.Err().
func (w *webhook) post(ctx context.Context, text string) error {
	body, err := json.Marshal(struct {
		Text string `json:"text"`
	}{text})
	if err != nil {
		return err
	}
	backoff := w.retryMin
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		reqCtx, cancel := w.requestContext(ctx)
		status, retryAfter, err := w.try(reqCtx, body)
		cancel()
		if err == nil {
			if attempt > 1 {
				w.log.Info("webhook accepted the alert after retries", "attempts", attempt)
			}
			return nil
		}
		if rejected := (*rejectedError)(nil); errors.As(err, &rejected) {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		if retryAfter > 0 {
			wait = min(retryAfter, maxRetryAfter)
		}
		w.log.Warn("webhook post failed; retrying", "attempt", attempt, "status", status, "err", err, "wait", wait)
		if err := w.wait(ctx, wait); err != nil {
			return err
		}
		backoff = min(2*backoff, w.retryMax)
	}
}

// defaultRequestTimeout bounds a request when the client has no Timeout.
const defaultRequestTimeout = 10 * time.Second

// requestContext returns the context of one request: ctx's values without
// its cancellation (see post), ending after the client's Timeout, or
// defaultRequestTimeout if it has none.
func (w *webhook) requestContext(ctx context.Context) (context.Context, context.CancelFunc) {
	d := w.client.Timeout
	if d <= 0 {
		d = defaultRequestTimeout
	}
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

// try makes one request and returns the status (0 without a response), the
// Retry-After delay if the response had one, and nil if it was 2xx.
func (w *webhook) try(ctx context.Context, body []byte) (int, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, &rejectedError{body: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	if resp.StatusCode/100 == 2 {
		return resp.StatusCode, 0, nil
	}
	text := strings.TrimSpace(string(msg))
	switch resp.StatusCode {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return resp.StatusCode, 0, &rejectedError{status: resp.StatusCode, body: text}
	}
	var retryAfter time.Duration
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		retryAfter = time.Duration(s) * time.Second
	}
	return resp.StatusCode, retryAfter, fmt.Errorf("webhook answered %s: %s", resp.Status, text)
}

func (w *webhook) wait(ctx context.Context, d time.Duration) error {
	if w.sleep != nil {
		return w.sleep(ctx, d)
	}
	return sleep(ctx, d)
}
