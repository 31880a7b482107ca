package channel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/surveyops/survey-operator/internal/responseapi"
)

// WebhookConfig says where and how a gateway is called.
type WebhookConfig struct {
	URL string
	// HMACKey signs each request (responseapi.SignRequest: X-Survey-Timestamp, and
	// X-Survey-Signature, the hex HMAC-SHA256 of the timestamp, a full stop and the body).
	HMACKey []byte
	// BearerToken, when set, is sent as Authorization: Bearer.
	BearerToken string
	// Body is the body template; empty means JSON {"to", "text", "link", "optOut"}.
	Body string
	// Text is the message text template used by the default body; empty means DefaultSMS.
	Text string
	// Timeout bounds one request (10 s when zero); MaxAttempts bounds the tries (5 when zero).
	Timeout     time.Duration
	MaxAttempts int
	// Client makes the requests; a client with Timeout when nil.
	Client *http.Client
	// Sleep waits between attempts; tests replace it. It returns early with the context's error.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock requests are signed by; time.Now when nil.
	Now func() time.Time
}

// DefaultSMS is the wording of a survey invitation by SMS.
const DefaultSMS = `{{if .Reminder}}{{index .Words "reminder"}} {{end}}{{.Title}}: {{index .Words "sms_invite"}} {{.Link}} {{index .Words "sms_stop"}} {{.OptOutLink}}`

const defaultBody = `{"to": {{json .To}}, "text": {{json .Text}}, "link": {{json .Link}}, "optOut": {{json .OptOutLink}}}`

// Webhook posts messages to a gateway.
type Webhook struct {
	cfg        WebhookConfig
	body, text executor
}

// NewWebhook checks the configuration and the templates.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	if cfg.URL == "" {
		return nil, errors.New("webhook: no URL")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: cfg.Timeout}
	}
	if cfg.Sleep == nil {
		cfg.Sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	w := &Webhook{cfg: cfg}
	var err error
	body, text := cfg.Body, cfg.Text
	if body == "" {
		body = defaultBody
	}
	if text == "" {
		text = DefaultSMS
	}
	if w.body, err = parse("webhook body", body, false); err != nil {
		return nil, err
	}
	if w.text, err = parse("webhook text", text, false); err != nil {
		return nil, err
	}
	return w, nil
}

// Close releases nothing: requests do not hold connections between sends beyond the client's
// pool.
func (w *Webhook) Close() error { return nil }

// maxBackoff caps the wait between attempts, and any Retry-After the gateway asks for.
const maxBackoff = 5 * time.Minute

// Send posts one message. 2xx is success; 429 and 5xx are retried with exponential backoff and
// full jitter, honouring Retry-After; other 4xx are permanent failures, never retried.
func (w *Webhook) Send(ctx context.Context, m Message, id string) error {
	m = withWords(m)
	if m.Text == "" {
		text, err := render(w.text, m)
		if err != nil {
			return err
		}
		m.Text = text
	}
	body, err := render(w.body, m)
	if err != nil {
		return err
	}
	var last error
	for attempt := 1; attempt <= w.cfg.MaxAttempts; attempt++ {
		wait, err := w.try(ctx, body, id)
		if err == nil {
			return nil
		}
		last = err
		if IsPermanent(err) || attempt == w.cfg.MaxAttempts {
			break
		}
		if wait == 0 {
			backoff := min(maxBackoff, 500*time.Millisecond<<(attempt-1))
			wait = time.Duration(rand.Int64N(int64(backoff)) + 1)
		}
		if err := w.cfg.Sleep(ctx, wait); err != nil {
			return &Error{Reason: "cancelled", Err: err}
		}
	}
	return last
}

// try makes one request and returns, for a retryable failure, how long the gateway asked to
// wait (0 when it did not say).
func (w *Webhook) try(ctx context.Context, body, id string) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader([]byte(body)))
	if err != nil {
		return 0, &Error{Permanent: true, Reason: "bad-url", Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	// Each try is signed when it is made: a gateway refuses a request signed too long ago.
	responseapi.SignRequest(req.Header, w.cfg.HMACKey, w.cfg.Now(), []byte(body))
	req.Header.Set("Idempotency-Key", id)
	if w.cfg.BearerToken != "" {
		req.Header.Set("Authorization", "Bearer "+w.cfg.BearerToken)
	}
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		return 0, &Error{Reason: "network", Err: err}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return 0, nil
	case code == http.StatusTooManyRequests || code >= 500:
		// 429 and 503 say the request was not handled ("not now"); another 5xx may come after
		// the gateway acted on it.
		notSent := code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable
		return retryAfter(resp.Header.Get("Retry-After")), &Error{Reason: "http-" + strconv.Itoa(code), NotSent: notSent, Err: fmt.Errorf("gateway answered %s", resp.Status)}
	default:
		return 0, &Error{Permanent: true, Reason: "http-" + strconv.Itoa(code), Err: fmt.Errorf("gateway answered %s", resp.Status)}
	}
}

// retryAfter reads a Retry-After header (seconds or an HTTP date), capped.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return min(maxBackoff, time.Duration(s)*time.Second)
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return min(maxBackoff, d)
		}
	}
	return 0
}
