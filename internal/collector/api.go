package collector

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/survey"
)

// The JSON of the APIs for the manager and the senders.

// WaveRegistration is the body of PUT /api/v1/waves/{campaign}/{wave}.
type WaveRegistration struct {
	Namespace  string            `json:"namespace"`
	Campaign   string            `json:"campaign"`
	Definition survey.Definition `json:"definition"`
	OpensAt    time.Time         `json:"opensAt"`
	ClosesAt   time.Time         `json:"closesAt"`
	// ChannelKeys are the HMAC keys of the wave's webhook channels by name (base64 in JSON),
	// read by the manager from each channel's Secret; gateways sign inbound answers with them.
	ChannelKeys map[string][]byte `json:"channelKeys,omitempty"`
}

// InvitationJSON is an invitation in the ledger API.
type InvitationJSON struct {
	CampaignUID  string     `json:"campaignUID"`
	WaveID       string     `json:"waveID"`
	RecipientKey string     `json:"recipientKey"`
	Round        int        `json:"round"`
	Namespace    string     `json:"namespace"`
	Segment      string     `json:"segment"`
	Channel      string     `json:"channel"`
	State        string     `json:"state,omitempty"`
	Attempts     int        `json:"attempts,omitempty"`
	Reason       string     `json:"reason,omitempty"`
	ReservedAt   *time.Time `json:"reservedAt,omitempty"`
	SentAt       *time.Time `json:"sentAt,omitempty"`
}

// ReserveRequest is the body of POST /api/v1/ledger/reserve, and its answer.
type ReserveRequest struct {
	Invitations []InvitationJSON `json:"invitations"`
}

// MarkRequest is the body of POST /api/v1/ledger/mark.
type MarkRequest struct {
	CampaignUID  string `json:"campaignUID"`
	WaveID       string `json:"waveID"`
	RecipientKey string `json:"recipientKey"`
	Round        int    `json:"round"`
	State        string `json:"state"`
	Reason       string `json:"reason,omitempty"`
}

// MarksRequest is the body of POST /api/v1/ledger/marks: several outcomes, recorded together.
type MarksRequest struct {
	Marks []MarkRequest `json:"marks"`
}

// KeysRequest is the body of POST /api/v1/ledger/contacted and /opted-out.
type KeysRequest struct {
	Namespace string    `json:"namespace"`
	Keys      []string  `json:"keys"`
	Since     time.Time `json:"since,omitzero"`
}

// UnansweredRequest is the body of POST /api/v1/ledger/unanswered: which of these people,
// invited in this wave, are due a reminder.
type UnansweredRequest struct {
	CampaignUID string   `json:"campaignUID"`
	WaveID      string   `json:"waveID"`
	Keys        []string `json:"keys"`
}

// KeysResponse lists the keys found.
type KeysResponse struct {
	Keys []string `json:"keys"`
}

// SummaryJSON is the answer of GET /api/v1/waves/{campaign}/{wave}/summary.
type SummaryJSON struct {
	Dispositions []DispositionRow         `json:"dispositions"`
	Responded    []CountRow               `json:"responded"`
	Histograms   []HistogramJSON          `json:"histograms"`
	Pairs        map[string]PairStatsJSON `json:"pairs"`
}

// DispositionRow is the dispositions of one segment and channel.
type DispositionRow struct {
	Segment    string `json:"segment"`
	Channel    string `json:"channel"`
	Complete   int    `json:"complete"`
	Partial    int    `json:"partial"`
	Refusal    int    `json:"refusal"`
	NonContact int    `json:"nonContact"`
	NoAnswer   int    `json:"noAnswer"`
}

// CountRow counts something in one segment and channel.
type CountRow struct {
	Segment string `json:"segment"`
	Channel string `json:"channel"`
	Count   int    `json:"count"`
}

// HistogramJSON is one histogram row.
type HistogramJSON struct {
	Question      string `json:"question"`
	Segment       string `json:"segment"`
	Channel       string `json:"channel"`
	Value         *int   `json:"value"`
	NotApplicable bool   `json:"notApplicable,omitempty"`
	Count         int    `json:"count"`
}

// PairStatsJSON are the sufficient statistics of a question with the primary question.
type PairStatsJSON struct {
	N     int64 `json:"n"`
	SumX  int64 `json:"sumX"`
	SumY  int64 `json:"sumY"`
	SumXX int64 `json:"sumXX"`
	SumYY int64 `json:"sumYY"`
	SumXY int64 `json:"sumXY"`
}

// maxBatch bounds the rows of one ledger call.
const maxBatch = 5000

type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{Error: msg})
}

// decode reads a JSON body strictly: a size limit, no unknown fields, nothing after it.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxAPIBytes)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSONError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", maxAPIBytes))
			return false
		}
		writeJSONError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return false
	}
	if dec.More() {
		writeJSONError(w, http.StatusBadRequest, "invalid JSON body: more than one value")
		return false
	}
	return true
}

func (s *Server) storeError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeJSONError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrNotSending):
		writeJSONError(w, http.StatusConflict, err.Error())
	default:
		s.cfg.Logger.Error("store error", "error", err)
		writeJSONError(w, http.StatusServiceUnavailable, "the store is unavailable; retry")
	}
}

func (s *Server) putWave(w http.ResponseWriter, r *http.Request) {
	var reg WaveRegistration
	if !decode(w, r, &reg) {
		return
	}
	switch {
	case reg.Namespace == "" || reg.Campaign == "":
		writeJSONError(w, http.StatusBadRequest, "namespace and campaign are required")
		return
	case len(reg.Definition.Questions) == 0:
		writeJSONError(w, http.StatusBadRequest, "definition.questions is empty")
		return
	case !reg.ClosesAt.After(reg.OpensAt):
		writeJSONError(w, http.StatusBadRequest, "closesAt must be after opensAt")
		return
	}
	err := s.cfg.Store.PutWave(r.Context(), store.Wave{
		CampaignUID: r.PathValue("campaign"), WaveID: r.PathValue("wave"), Namespace: reg.Namespace,
		Campaign: reg.Campaign, Definition: reg.Definition.JSON(), PrimaryQuestion: reg.Definition.Primary,
		OpensAt: reg.OpensAt, ClosesAt: reg.ClosesAt, ChannelKeys: reg.ChannelKeys,
	})
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"registered": true})
}

func (s *Server) summary(w http.ResponseWriter, r *http.Request) {
	sum, err := s.cfg.Store.Summarize(r.Context(), r.PathValue("campaign"), r.PathValue("wave"), r.URL.Query().Get("primary"))
	if err != nil {
		s.storeError(w, err)
		return
	}
	out := SummaryJSON{Dispositions: []DispositionRow{}, Responded: []CountRow{}, Histograms: []HistogramJSON{}, Pairs: map[string]PairStatsJSON{}}
	for g, d := range sum.Dispositions {
		out.Dispositions = append(out.Dispositions, DispositionRow{Segment: g.Segment, Channel: g.Channel, Complete: d.Complete,
			Partial: d.Partial, Refusal: d.Refusal, NonContact: d.NonContact, NoAnswer: d.NoAnswer})
	}
	sort.Slice(out.Dispositions, func(i, j int) bool {
		a, b := out.Dispositions[i], out.Dispositions[j]
		return a.Segment+"\x00"+a.Channel < b.Segment+"\x00"+b.Channel
	})
	for g, n := range sum.Responded {
		out.Responded = append(out.Responded, CountRow{Segment: g.Segment, Channel: g.Channel, Count: n})
	}
	sort.Slice(out.Responded, func(i, j int) bool {
		a, b := out.Responded[i], out.Responded[j]
		return a.Segment+"\x00"+a.Channel < b.Segment+"\x00"+b.Channel
	})
	for _, h := range sum.Histograms {
		out.Histograms = append(out.Histograms, HistogramJSON{Question: h.Question, Segment: h.Group.Segment, Channel: h.Group.Channel,
			Value: h.Value, NotApplicable: h.NotApplicable, Count: h.Count})
	}
	for q, p := range sum.Pairs {
		out.Pairs[q] = PairStatsJSON{N: p.N, SumX: p.SumX, SumY: p.SumY, SumXX: p.SumXX, SumYY: p.SumYY, SumXY: p.SumXY}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) reserve(w http.ResponseWriter, r *http.Request) {
	var req ReserveRequest
	if !decode(w, r, &req) {
		return
	}
	if len(req.Invitations) == 0 || len(req.Invitations) > maxBatch {
		writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("invitations must hold 1 to %d rows", maxBatch))
		return
	}
	invs := make([]store.Invitation, len(req.Invitations))
	for i, in := range req.Invitations {
		if in.CampaignUID == "" || in.WaveID == "" || in.RecipientKey == "" || in.Namespace == "" || in.Segment == "" || in.Channel == "" || in.Round < 0 {
			writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("invitations[%d]: campaignUID, waveID, recipientKey, namespace, segment and channel are required, round >= 0", i))
			return
		}
		invs[i] = store.Invitation{
			InvitationKey: store.InvitationKey{CampaignUID: in.CampaignUID, WaveID: in.WaveID, RecipientKey: in.RecipientKey, Round: in.Round},
			Namespace:     in.Namespace, Segment: in.Segment, Channel: in.Channel,
		}
	}
	stored, err := s.cfg.Store.Reserve(r.Context(), invs, s.cfg.Now())
	if err != nil {
		s.storeError(w, err)
		return
	}
	out := ReserveRequest{Invitations: make([]InvitationJSON, len(stored))}
	for i, inv := range stored {
		reserved := inv.ReservedAt
		j := InvitationJSON{CampaignUID: inv.CampaignUID, WaveID: inv.WaveID, RecipientKey: inv.RecipientKey, Round: inv.Round,
			Namespace: inv.Namespace, Segment: inv.Segment, Channel: inv.Channel, State: string(inv.State),
			Attempts: inv.Attempts, Reason: inv.Reason, ReservedAt: &reserved}
		if !inv.SentAt.IsZero() {
			sent := inv.SentAt
			j.SentAt = &sent
		}
		out.Invitations[i] = j
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) mark(w http.ResponseWriter, r *http.Request) {
	var req MarkRequest
	if !decode(w, r, &req) {
		return
	}
	s.recordMarks(w, r, []MarkRequest{req})
}

func (s *Server) marks(w http.ResponseWriter, r *http.Request) {
	var req MarksRequest
	if !decode(w, r, &req) {
		return
	}
	if len(req.Marks) == 0 || len(req.Marks) > maxBatch {
		writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("marks must hold 1 to %d rows", maxBatch))
		return
	}
	s.recordMarks(w, r, req.Marks)
}

func (s *Server) recordMarks(w http.ResponseWriter, r *http.Request, marks []MarkRequest) {
	outcomes := make([]store.Outcome, len(marks))
	for i, m := range marks {
		state := store.InvitationState(m.State)
		switch state {
		case store.StateSending, store.StateSent, store.StateFailed, store.StateBounced, store.StateUnknown, store.StateReserved:
		default:
			writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("state %q: use sending, sent, failed, bounced, unknown or reserved", m.State))
			return
		}
		if len(m.Reason) > 64 {
			writeJSONError(w, http.StatusBadRequest, "reason is a short code of at most 64 characters")
			return
		}
		outcomes[i] = store.Outcome{Key: store.InvitationKey{CampaignUID: m.CampaignUID, WaveID: m.WaveID, RecipientKey: m.RecipientKey, Round: m.Round},
			State: state, Reason: m.Reason}
	}
	if err := s.cfg.Store.MarkMany(r.Context(), outcomes, s.cfg.Now()); err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"recorded": len(outcomes)})
}

func (s *Server) keysQuery(w http.ResponseWriter, r *http.Request, needSince bool) (KeysRequest, bool) {
	var req KeysRequest
	if !decode(w, r, &req) {
		return req, false
	}
	if req.Namespace == "" || len(req.Keys) > maxBatch {
		writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("namespace is required and keys holds at most %d", maxBatch))
		return req, false
	}
	if needSince && req.Since.IsZero() {
		writeJSONError(w, http.StatusBadRequest, "since is required")
		return req, false
	}
	return req, true
}

func keysOf(found map[string]bool) KeysResponse {
	out := KeysResponse{Keys: []string{}}
	for k := range found {
		out.Keys = append(out.Keys, k)
	}
	sort.Strings(out.Keys)
	return out
}

func (s *Server) contacted(w http.ResponseWriter, r *http.Request) {
	req, ok := s.keysQuery(w, r, true)
	if !ok {
		return
	}
	found, err := s.cfg.Store.Contacted(r.Context(), req.Namespace, req.Keys, req.Since)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, keysOf(found))
}

func (s *Server) unanswered(w http.ResponseWriter, r *http.Request) {
	var req UnansweredRequest
	if !decode(w, r, &req) {
		return
	}
	if req.CampaignUID == "" || req.WaveID == "" || len(req.Keys) > maxBatch {
		writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("campaignUID and waveID are required and keys holds at most %d", maxBatch))
		return
	}
	found, err := s.cfg.Store.Unanswered(r.Context(), req.CampaignUID, req.WaveID, req.Keys)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, keysOf(found))
}

func (s *Server) optedOut(w http.ResponseWriter, r *http.Request) {
	req, ok := s.keysQuery(w, r, false)
	if !ok {
		return
	}
	found, err := s.cfg.Store.OptedOut(r.Context(), req.Namespace, req.Keys)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, keysOf(found))
}
