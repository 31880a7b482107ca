package collector

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/surveyops/survey-operator/internal/gated"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/store"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, responseapi.ErrorBody{Error: msg})
}

// decode reads a JSON body strictly: a size limit, no unknown fields, nothing after it.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, responseapi.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeJSONError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", responseapi.MaxBodyBytes))
		return false
	case err != nil:
		writeJSONError(w, http.StatusBadRequest, "the body could not be read")
		return false
	case !utf8.Valid(data):
		// encoding/json would turn each invalid byte into U+FFFD: another key than the one sent.
		writeJSONError(w, http.StatusBadRequest, "invalid JSON body: it is not valid UTF-8")
		return false
	}
	if err := decodeStrict(data, v); err != nil {
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return false
	}
	return true
}

func (s *Server) storeError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeJSONError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrNotSending), errors.Is(err, store.ErrReplay), errors.Is(err, store.ErrAnswered):
		writeJSONError(w, http.StatusConflict, err.Error())
	case store.IsBadInput(err):
		// The last line behind the gate: what the database refuses as invalid input is the
		// request's fault, never a 5xx that a client would retry for ever.
		writeJSONError(w, http.StatusBadRequest, "a value of the request is not valid text")
	default:
		s.cfg.Logger.Error("store error", "error", err)
		writeJSONError(w, http.StatusServiceUnavailable, "the store is unavailable; retry")
	}
}

func (s *Server) putWave(w http.ResponseWriter, r *http.Request) {
	var reg responseapi.WaveRegistration
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
	err := s.store.PutWave(r.Context(), store.Wave{
		CampaignUID: pathID(r, "campaign"), WaveID: pathID(r, "wave"), Namespace: reg.Namespace,
		Campaign: reg.Campaign, Definition: reg.Definition.JSON(), PrimaryQuestion: reg.Definition.Primary,
		OpensAt: reg.OpensAt, ClosesAt: reg.ClosesAt, ChannelKeys: reg.ChannelKeys, Anonymous: reg.Definition.Anonymous,
	})
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"registered": true})
}

func (s *Server) summary(w http.ResponseWriter, r *http.Request) {
	if !s.permitWaves(w, r, store.WaveRef{CampaignUID: pathID(r, "campaign"), WaveID: pathID(r, "wave")}) {
		return
	}
	primary, err := gated.ParseText(queryValue(r, "primary"))
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, "primary is a question's id")
		return
	}
	sum, err := s.store.Summarize(r.Context(), pathName(r, "campaign"), pathName(r, "wave"), primary)
	if err != nil {
		s.storeError(w, err)
		return
	}
	out := responseapi.Summary{Dispositions: []responseapi.DispositionRow{}, Responded: []responseapi.CountRow{}, Histograms: []responseapi.Histogram{},
		Pairs: map[string]responseapi.PairStats{}, Frame: []responseapi.FrameSegment{}}
	for segment, c := range sum.Frame {
		out.Frame = append(out.Frame, responseapi.FrameSegment{Segment: segment, Population: c.Population, Unreachable: c.Unreachable,
			Sampled: c.Sampled, OptedOut: c.OptedOut, ContactedRecently: c.ContactedRecently})
	}
	sort.Slice(out.Frame, func(i, j int) bool { return out.Frame[i].Segment < out.Frame[j].Segment })
	for g, d := range sum.Dispositions {
		out.Dispositions = append(out.Dispositions, responseapi.DispositionRow{Segment: g.Segment, Channel: g.Channel, Complete: d.Complete,
			Partial: d.Partial, Refusal: d.Refusal, NonContact: d.NonContact, NoAnswer: d.NoAnswer})
	}
	sort.Slice(out.Dispositions, func(i, j int) bool {
		a, b := out.Dispositions[i], out.Dispositions[j]
		return a.Segment+"\x00"+a.Channel < b.Segment+"\x00"+b.Channel
	})
	for g, n := range sum.Responded {
		out.Responded = append(out.Responded, responseapi.CountRow{Segment: g.Segment, Channel: g.Channel, Count: n})
	}
	for _, language := range slices.Sorted(maps.Keys(sum.Languages)) {
		out.Languages = append(out.Languages, responseapi.LanguageCount{Language: language, Responses: sum.Languages[language]})
	}
	sort.Slice(out.Responded, func(i, j int) bool {
		a, b := out.Responded[i], out.Responded[j]
		return a.Segment+"\x00"+a.Channel < b.Segment+"\x00"+b.Channel
	})
	for _, h := range sum.Histograms {
		out.Histograms = append(out.Histograms, responseapi.Histogram{Question: h.Question, Segment: h.Group.Segment, Channel: h.Group.Channel,
			Value: h.Value, NotApplicable: h.NotApplicable, Count: h.Count})
	}
	for q, p := range sum.Pairs {
		out.Pairs[q] = responseapi.PairStats{N: p.N, SumX: p.SumX, SumY: p.SumY, SumXX: p.SumXX, SumYY: p.SumYY, SumXY: p.SumXY}
	}
	cases, err := s.store.WaveCases(r.Context(), pathName(r, "campaign"), pathName(r, "wave"), s.cfg.Now())
	if err != nil {
		s.storeError(w, err)
		return
	}
	out.Cases = make([]responseapi.WaveCases, len(cases))
	for i, c := range cases {
		out.Cases[i] = responseapi.WaveCases{FollowUpUID: c.FollowUpUID, FollowUp: c.FollowUp, Matched: c.Matched,
			Contacted: c.Contacted, Resolved: c.Resolved, Overdue: c.Overdue, Breaches: c.Breaches}
	}
	writeJSON(w, http.StatusOK, out)
}

// maxShards bounds a frame's shard number, and maxSegments its segments (the CRD allows 20).
const (
	maxShards   = 1 << 20
	maxSegments = 100
)

func (s *Server) putFrame(w http.ResponseWriter, r *http.Request) {
	shard, err := strconv.Atoi(pathID(r, "shard"))
	if err != nil || shard < 0 || shard >= maxShards {
		writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("the shard is a number from 0 to %d", maxShards-1))
		return
	}
	var in responseapi.Frame
	if !decode(w, r, &in) {
		return
	}
	if len(in.Segments) > maxSegments || in.Shards <= shard || in.Shards > maxShards {
		writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("segments holds at most %d, and shards is more than the shard and at most %d", maxSegments, maxShards))
		return
	}
	frame := make(map[gated.Name]store.FrameCounts, len(in.Segments))
	for i, seg := range in.Segments {
		name, err := gated.ParseName(seg.Segment)
		_, dup := frame[name]
		switch {
		case err != nil || len(seg.Segment) > 63 || dup:
			writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("segments[%d]: a segment name, given once, of at most 63 characters", i))
			return
		case seg.Population < 0 || seg.Unreachable < 0 || seg.Sampled < 0 || seg.OptedOut < 0 || seg.ContactedRecently < 0,
			seg.Unreachable+seg.Sampled > seg.Population, seg.OptedOut+seg.ContactedRecently > seg.Sampled:
			writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("segments[%d]: counts are not negative, unreachable and sampled together are at most the population, and those left out at most the sampled", i))
			return
		}
		frame[name] = store.FrameCounts{Population: seg.Population, Unreachable: seg.Unreachable, Sampled: seg.Sampled,
			OptedOut: seg.OptedOut, ContactedRecently: seg.ContactedRecently}
	}
	if !s.permitWaves(w, r, store.WaveRef{CampaignUID: pathID(r, "campaign"), WaveID: pathID(r, "wave")}) {
		return
	}
	if err := s.store.PutFrame(r.Context(), pathName(r, "campaign"), pathName(r, "wave"), shard, in.Shards, frame); err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"recorded": true})
}

func (s *Server) reserve(w http.ResponseWriter, r *http.Request) {
	var req responseapi.ReserveRequest
	if !decode(w, r, &req) {
		return
	}
	if len(req.Invitations) == 0 || len(req.Invitations) > responseapi.MaxBatch {
		writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("invitations must hold 1 to %d rows", responseapi.MaxBatch))
		return
	}
	invs, ok := ledgerInvitations(w, req.Invitations)
	if !ok {
		return
	}
	waves := make([]store.WaveRef, len(invs))
	for i, inv := range invs {
		if !permit(w, r, inv.Namespace) {
			return
		}
		waves[i] = store.WaveRef{CampaignUID: inv.CampaignUID, WaveID: inv.WaveID}
	}
	if !s.permitWaves(w, r, waves...) {
		return
	}
	stored, err := s.store.Reserve(r.Context(), invs, s.cfg.Now())
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, responseapi.ReserveRequest{Invitations: ledgerRows(stored)})
}

// ledgerInvitations are invitations to reserve as the store takes them, or a 400 naming the
// first that is not one, and false.
func ledgerInvitations(w http.ResponseWriter, in []responseapi.Invitation) ([]store.Invitation, bool) {
	invs := make([]store.Invitation, len(in))
	for i, in := range in {
		if !uuid.MatchString(in.CampaignUID) || !ledgerText(in.WaveID, in.RecipientKey, in.Namespace, in.Segment, in.Channel) || in.Round < 0 {
			writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("invitations[%d]: campaignUID is a UUID; waveID, recipientKey, namespace, segment and channel are text of 1 to 253 bytes; round >= 0", i))
			return nil, false
		}
		invs[i] = store.Invitation{
			InvitationKey: store.InvitationKey{CampaignUID: in.CampaignUID, WaveID: in.WaveID, RecipientKey: in.RecipientKey, Round: in.Round},
			Namespace:     in.Namespace, Segment: in.Segment, Channel: in.Channel,
		}
	}
	return invs, true
}

// ledgerRows are stored invitations as the API gives them.
func ledgerRows(stored []store.Invitation) []responseapi.Invitation {
	out := make([]responseapi.Invitation, len(stored))
	for i, inv := range stored {
		reserved := inv.ReservedAt
		j := responseapi.Invitation{CampaignUID: inv.CampaignUID, WaveID: inv.WaveID, RecipientKey: inv.RecipientKey, Round: inv.Round,
			Namespace: inv.Namespace, Segment: inv.Segment, Channel: inv.Channel, State: string(inv.State),
			Attempts: inv.Attempts, Reason: inv.Reason, ReservedAt: &reserved}
		if !inv.SentAt.IsZero() {
			sent := inv.SentAt
			j.SentAt = &sent
		}
		out[i] = j
	}
	return out
}

func (s *Server) mark(w http.ResponseWriter, r *http.Request) {
	var req responseapi.Mark
	if !decode(w, r, &req) {
		return
	}
	s.recordMarks(w, r, []responseapi.Mark{req})
}

func (s *Server) marks(w http.ResponseWriter, r *http.Request) {
	var req responseapi.Marks
	if !decode(w, r, &req) {
		return
	}
	if len(req.Marks) == 0 || len(req.Marks) > responseapi.MaxBatch {
		writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("marks must hold 1 to %d rows", responseapi.MaxBatch))
		return
	}
	s.recordMarks(w, r, req.Marks)
}

// uuid is a campaign's UID as Kubernetes writes it.
var uuid = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// ledgerText reports whether each value is a non-empty identifier of at most 253 bytes of plain
// text (valid UTF-8, no control characters): what the ledger keeps and the stores can index.
func ledgerText(values ...string) bool {
	for _, v := range values {
		if _, err := gated.ParseName(v); err != nil {
			return false
		}
	}
	return true
}

func (s *Server) recordMarks(w http.ResponseWriter, r *http.Request, marks []responseapi.Mark) {
	outcomes := make([]store.Outcome, len(marks))
	for i, m := range marks {
		if !uuid.MatchString(m.CampaignUID) || !ledgerText(m.WaveID, m.RecipientKey) || (m.Reason != "" && !ledgerText(m.Reason)) {
			writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("marks[%d]: campaignUID is a UUID; waveID and recipientKey are text of 1 to 253 bytes", i))
			return
		}
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
	waves := make([]store.WaveRef, len(outcomes))
	for i, o := range outcomes {
		waves[i] = store.WaveRef{CampaignUID: o.Key.CampaignUID, WaveID: o.Key.WaveID}
	}
	if !s.permitWaves(w, r, waves...) {
		return
	}
	if err := s.store.MarkMany(r.Context(), outcomes, s.cfg.Now()); err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"recorded": len(outcomes)})
}

// keysRequest is a KeysRequest whose namespace and keys have passed the gate.
type keysRequest struct {
	responseapi.KeysRequest
	namespace gated.Name
	keys      []gated.Name
}

func (s *Server) keysQuery(w http.ResponseWriter, r *http.Request, needSince bool) (keysRequest, bool) {
	var req keysRequest
	if !decode(w, r, &req.KeysRequest) {
		return req, false
	}
	var err error
	if req.namespace, err = gated.ParseName(req.Namespace); err != nil || len(req.Keys) > responseapi.MaxBatch {
		writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("namespace is required and keys holds at most %d", responseapi.MaxBatch))
		return req, false
	}
	if req.keys, err = gated.ParseNames(req.Keys); err != nil {
		writeJSONError(w, http.StatusBadRequest, "keys"+err.Error())
		return req, false
	}
	if needSince && req.Since.IsZero() {
		writeJSONError(w, http.StatusBadRequest, "since is required")
		return req, false
	}
	return req, permit(w, r, req.Namespace)
}

func keysOf(found map[string]bool) responseapi.KeysResponse {
	out := responseapi.KeysResponse{Keys: []string{}}
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
	found, err := s.store.Contacted(r.Context(), req.namespace, req.keys, req.Since,
		store.WaveRef{CampaignUID: req.ExceptCampaignUID, WaveID: req.ExceptWaveID})
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, keysOf(found))
}

func (s *Server) unanswered(w http.ResponseWriter, r *http.Request) {
	var req responseapi.UnansweredRequest
	if !decode(w, r, &req) {
		return
	}
	campaignUID, err1 := gated.ParseName(req.CampaignUID)
	waveID, err2 := gated.ParseName(req.WaveID)
	keys, err3 := gated.ParseNames(req.Keys)
	if err1 != nil || err2 != nil || err3 != nil || len(req.Keys) > responseapi.MaxBatch {
		writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("campaignUID and waveID are required and keys holds at most %d names", responseapi.MaxBatch))
		return
	}
	if !s.permitWaves(w, r, store.WaveRef{CampaignUID: req.CampaignUID, WaveID: req.WaveID}) {
		return
	}
	found, err := s.store.Unanswered(r.Context(), campaignUID, waveID, keys)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, keysOf(found))
}

func (s *Server) suppressed(w http.ResponseWriter, r *http.Request) {
	req, ok := s.keysQuery(w, r, false)
	if !ok {
		return
	}
	found, err := s.store.Suppressed(r.Context(), req.namespace, req.keys)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, responseapi.SuppressedResponse{Suppressed: found})
}

func (s *Server) optedOut(w http.ResponseWriter, r *http.Request) {
	req, ok := s.keysQuery(w, r, false)
	if !ok {
		return
	}
	found, err := s.store.OptedOut(r.Context(), req.namespace, req.keys)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, keysOf(found))
}
