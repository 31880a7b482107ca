package collector

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// Client calls the response service's APIs: the ledger for senders, the waves for the manager.
type Client struct {
	base  string
	token atomic.Pointer[string]
	http  *http.Client
}

// NewClient makes a client for the service at base (http://survey-collector:8080) with the
// API bearer token: the first line of the token file's contents.
func NewClient(base, token string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	c := &Client{base: strings.TrimRight(base, "/"), http: hc}
	c.SetToken(token)
	return c
}

// SetToken changes the bearer token (the first line of token) for the calls to come.
func (c *Client) SetToken(token string) {
	t := FirstToken(token)
	c.token.Store(&t)
}

// StatusError is a non-2xx answer of the service.
type StatusError struct {
	Status  int
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("response service answered %d: %s", e.Status, e.Message)
}

func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+*c.token.Load())
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIBytes))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e apiError
		_ = json.Unmarshal(data, &e)
		return &StatusError{Status: resp.StatusCode, Message: e.Error}
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// PutWave registers a wave's snapshot.
func (c *Client) PutWave(ctx context.Context, campaignUID, waveID string, reg WaveRegistration) error {
	return c.call(ctx, http.MethodPut, "/api/v1/waves/"+url.PathEscape(campaignUID)+"/"+url.PathEscape(waveID), reg, nil)
}

// Summary returns a wave's aggregates.
func (c *Client) Summary(ctx context.Context, campaignUID, waveID, primary string) (SummaryJSON, error) {
	var out SummaryJSON
	err := c.call(ctx, http.MethodGet, "/api/v1/waves/"+url.PathEscape(campaignUID)+"/"+url.PathEscape(waveID)+
		"/summary?primary="+url.QueryEscape(primary), nil, &out)
	return out, err
}

// Reserve records invitations before they are sent and returns them as stored.
func (c *Client) Reserve(ctx context.Context, invs []InvitationJSON) ([]InvitationJSON, error) {
	var out ReserveRequest
	err := c.call(ctx, http.MethodPost, "/api/v1/ledger/reserve", ReserveRequest{Invitations: invs}, &out)
	return out.Invitations, err
}

// Mark records the outcome of a send.
func (c *Client) Mark(ctx context.Context, m MarkRequest) error {
	return c.call(ctx, http.MethodPost, "/api/v1/ledger/mark", m, nil)
}

// MarkMany records several outcomes in one call and one transaction.
func (c *Client) MarkMany(ctx context.Context, marks []MarkRequest) error {
	return c.call(ctx, http.MethodPost, "/api/v1/ledger/marks", MarksRequest{Marks: marks}, nil)
}

// Contacted returns which keys were sent something in the namespace since a time.
func (c *Client) Contacted(ctx context.Context, namespace string, keys []string, since time.Time) (map[string]bool, error) {
	var out KeysResponse
	err := c.call(ctx, http.MethodPost, "/api/v1/ledger/contacted", KeysRequest{Namespace: namespace, Keys: keys, Since: since}, &out)
	return toSet(out.Keys), err
}

// Unanswered returns which keys are due a reminder in a wave: invited (sent or possibly sent)
// and not responded.
func (c *Client) Unanswered(ctx context.Context, campaignUID, waveID string, keys []string) (map[string]bool, error) {
	var out KeysResponse
	err := c.call(ctx, http.MethodPost, "/api/v1/ledger/unanswered", UnansweredRequest{CampaignUID: campaignUID, WaveID: waveID, Keys: keys}, &out)
	return toSet(out.Keys), err
}

// OptedOut returns which keys opted out in the namespace.
func (c *Client) OptedOut(ctx context.Context, namespace string, keys []string) (map[string]bool, error) {
	var out KeysResponse
	err := c.call(ctx, http.MethodPost, "/api/v1/ledger/opted-out", KeysRequest{Namespace: namespace, Keys: keys}, &out)
	return toSet(out.Keys), err
}

func toSet(keys []string) map[string]bool {
	out := make(map[string]bool, len(keys))
	for _, k := range keys {
		out[k] = true
	}
	return out
}
