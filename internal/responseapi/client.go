package responseapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/surveyops/survey-operator/internal/apitoken"
)

// Client calls the response service's API: the ledger for senders, waves and follow-up rules
// for the manager.
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
	t := apitoken.First(token)
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

// IsStatus reports whether err is the service's answer with this status code.
func IsStatus(err error, status int) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == status
}

func (c *Client) call(ctx context.Context, route Route, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, route.Method, c.base+path, body)
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
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e ErrorBody
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
	return c.call(ctx, RoutePutWave, RoutePutWave.Path(campaignUID, waveID), reg, nil)
}

// Summary returns a wave's aggregates.
func (c *Client) Summary(ctx context.Context, campaignUID, waveID, primary string) (Summary, error) {
	var out Summary
	err := c.call(ctx, RouteSummary, RouteSummary.Path(campaignUID, waveID)+"?primary="+url.QueryEscape(primary), nil, &out)
	return out, err
}

// PutFrame records what a shard of a wave's sending Job counted of the audience.
func (c *Client) PutFrame(ctx context.Context, campaignUID, waveID string, shard int, f Frame) error {
	return c.call(ctx, RouteFrame, RouteFrame.Path(campaignUID, waveID, strconv.Itoa(shard)), f, nil)
}

// Reserve records invitations before they are sent and returns them as stored.
func (c *Client) Reserve(ctx context.Context, invs []Invitation) ([]Invitation, error) {
	var out ReserveRequest
	err := c.call(ctx, RouteReserve, RouteReserve.Path(), ReserveRequest{Invitations: invs}, &out)
	return out.Invitations, err
}

// PutTouchPoints registers which events a touch-point campaign takes.
func (c *Client) PutTouchPoints(ctx context.Context, campaignUID string, reg TouchPointsRegistration) error {
	return c.call(ctx, RoutePutTouchPoints, RoutePutTouchPoints.Path(campaignUID), reg, nil)
}

// DueTouchPoints says how many of a campaign's events are due, and when the next falls due.
func (c *Client) DueTouchPoints(ctx context.Context, namespace, campaignUID string) (TouchPointsDue, error) {
	var out TouchPointsDue
	err := c.call(ctx, RouteDueTouchPoints, RouteDueTouchPoints.Path(namespace, campaignUID), nil, &out)
	return out, err
}

// DueEvents lists a campaign's due, undecided events, at most MaxDueEvents.
func (c *Client) DueEvents(ctx context.Context, namespace, campaignUID string) ([]DueEvent, error) {
	var out DueEvents
	err := c.call(ctx, RouteDueEvents, RouteDueEvents.Path(namespace, campaignUID), nil, &out)
	return out.Events, err
}

// Decide records decisions about events with the invitations they made, and returns those
// invitations as stored.
func (c *Client) Decide(ctx context.Context, namespace, campaignUID string, req DecideRequest) ([]Invitation, error) {
	var out ReserveRequest
	err := c.call(ctx, RouteDecide, RouteDecide.Path(namespace, campaignUID), req, &out)
	return out.Invitations, err
}

// EventPeople returns, for those of keys a campaign's events invited, the data of the latest
// such event (a follow-up's contacts).
func (c *Client) EventPeople(ctx context.Context, namespace, campaignUID string, keys []string) (map[string]map[string]string, error) {
	var out EventPeople
	err := c.call(ctx, RouteEventPeople, RouteEventPeople.Path(namespace, campaignUID), KeysRequest{Namespace: namespace, Keys: keys}, &out)
	return out.People, err
}

// WavePeople returns a page of the people a campaign's events invited in a wave (at most
// MaxWavePeople, in key order, after the key after), with the data that reaches them.
func (c *Client) WavePeople(ctx context.Context, namespace, campaignUID, waveID, after string) (map[string]map[string]string, error) {
	var out EventPeople
	err := c.call(ctx, RouteWavePeople, RouteWavePeople.Path(namespace, campaignUID, waveID)+"?after="+url.QueryEscape(after), nil, &out)
	return out.People, err
}

// Mark records the outcome of a send.
func (c *Client) Mark(ctx context.Context, m Mark) error {
	return c.call(ctx, RouteMark, RouteMark.Path(), m, nil)
}

// MarkMany records several outcomes in one call and one transaction.
func (c *Client) MarkMany(ctx context.Context, marks []Mark) error {
	return c.call(ctx, RouteMarks, RouteMarks.Path(), Marks{Marks: marks}, nil)
}

// Contacted returns which keys were sent something in the namespace since a time, by another
// wave than the one named (campaign UID and wave id; empty names none).
func (c *Client) Contacted(ctx context.Context, namespace string, keys []string, since time.Time, exceptCampaignUID, exceptWaveID string) (map[string]bool, error) {
	var out KeysResponse
	err := c.call(ctx, RouteContacted, RouteContacted.Path(), KeysRequest{Namespace: namespace, Keys: keys, Since: since,
		ExceptCampaignUID: exceptCampaignUID, ExceptWaveID: exceptWaveID}, &out)
	return toSet(out.Keys), err
}

// Unanswered returns which keys are due a reminder in a wave: invited (sent or possibly sent)
// and not responded.
func (c *Client) Unanswered(ctx context.Context, campaignUID, waveID string, keys []string) (map[string]bool, error) {
	var out KeysResponse
	err := c.call(ctx, RouteUnanswered, RouteUnanswered.Path(), UnansweredRequest{CampaignUID: campaignUID, WaveID: waveID, Keys: keys}, &out)
	return toSet(out.Keys), err
}

// Suppressed returns, for the keys that have any, the channels through which an invitation to
// them bounced in the namespace.
func (c *Client) Suppressed(ctx context.Context, namespace string, keys []string) (map[string][]string, error) {
	var out SuppressedResponse
	err := c.call(ctx, RouteSuppressed, RouteSuppressed.Path(), KeysRequest{Namespace: namespace, Keys: keys}, &out)
	return out.Suppressed, err
}

// OptedOut returns which keys opted out in the namespace.
func (c *Client) OptedOut(ctx context.Context, namespace string, keys []string) (map[string]bool, error) {
	var out KeysResponse
	err := c.call(ctx, RouteOptedOut, RouteOptedOut.Path(), KeysRequest{Namespace: namespace, Keys: keys}, &out)
	return toSet(out.Keys), err
}

// Erase erases every record of one person in a namespace.
func (c *Client) Erase(ctx context.Context, namespace, id string) (Erasure, error) {
	var out Erasure
	err := c.call(ctx, RouteErase, RouteErase.Path(namespace), ErasureRequest{ID: id}, &out)
	return out, err
}

// PutRetention registers a campaign's retention, replacing what was registered before.
func (c *Client) PutRetention(ctx context.Context, campaignUID string, reg RetentionRegistration) error {
	return c.call(ctx, RoutePutRetention, RoutePutRetention.Path(campaignUID), reg, nil)
}

// PutFollowUp registers a FollowUp's rule.
func (c *Client) PutFollowUp(ctx context.Context, uid string, reg FollowUpRegistration) error {
	return c.call(ctx, RoutePutFollowUp, RoutePutFollowUp.Path(uid), reg, nil)
}

// DeleteFollowUp deactivates a rule, keeping its cases.
func (c *Client) DeleteFollowUp(ctx context.Context, uid string) error {
	return c.call(ctx, RouteDeleteFollowUp, RouteDeleteFollowUp.Path(uid), nil, nil)
}

// SweepFollowUp opens a NonResponse rule's due cases and returns the rule's stats.
func (c *Client) SweepFollowUp(ctx context.Context, uid string) (CaseStats, error) {
	var out CaseStats
	err := c.call(ctx, RouteSweepFollowUp, RouteSweepFollowUp.Path(uid), struct{}{}, &out)
	return out, err
}

// FollowUpStats returns a rule's stats.
func (c *Client) FollowUpStats(ctx context.Context, uid string) (CaseStats, error) {
	var out CaseStats
	err := c.call(ctx, RouteFollowUpStats, RouteFollowUpStats.Path(uid), nil, &out)
	return out, err
}

// CasesToContact returns up to limit open cases of a FollowUp not contacted yet.
func (c *Client) CasesToContact(ctx context.Context, uid string, limit int) ([]Case, error) {
	var out Cases
	err := c.call(ctx, RouteCases, RouteCases.Path(uid)+"?limit="+strconv.Itoa(limit), nil, &out)
	return out.Cases, err
}

// MarkContacted records that cases were contacted.
func (c *Client) MarkContacted(ctx context.Context, uid string, cases []Case) error {
	return c.call(ctx, RouteCasesContacted, RouteCasesContacted.Path(uid), Cases{Cases: cases}, nil)
}

func toSet(keys []string) map[string]bool {
	out := make(map[string]bool, len(keys))
	for _, k := range keys {
		out[k] = true
	}
	return out
}
