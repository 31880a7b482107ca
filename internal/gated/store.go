package gated

import (
	"context"
	"fmt"
	"time"

	"github.com/surveyops/survey-operator/internal/store"
)

// Store is the store as the response service's handlers call it. Each method takes a Name or
// a Text where store.Store takes a string, and checks the rows it is given (CheckRow) before it
// calls the store: a row that does not pass is refused with ErrInvalid, and nothing is
// written. TestEveryStoreMethodIsGated keeps it in step with store.Store.
type Store struct{ st store.Store }

// NewStore is st behind the gate.
func NewStore(st store.Store) Store { return Store{st} }

func strs(names []Name) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n.s
	}
	return out
}

// rows checks each row, naming the argument it came in.
func rows(arg string, rs ...any) error {
	for _, r := range rs {
		if err := CheckRow(r); err != nil {
			return fmt.Errorf("%s: %w", arg, err)
		}
	}
	return nil
}

// required refuses a zero Name (a handler's accessor gives one for a value that did not pass).
func required(names ...Name) error {
	for _, n := range names {
		if n.IsZero() {
			return fmt.Errorf("%w: a required name is missing or did not pass", ErrInvalid)
		}
	}
	return nil
}

// requiredAll refuses a zero Name among names or in list.
func requiredAll(list []Name, names ...Name) error {
	if err := required(names...); err != nil {
		return err
	}
	return required(list...)
}

func (g Store) PutWave(ctx context.Context, w store.Wave) error {
	if err := rows("wave", w); err != nil {
		return err
	}
	return g.st.PutWave(ctx, w)
}

func (g Store) GetWave(ctx context.Context, campaignUID, waveID Name) (store.Wave, error) {
	if err := required(campaignUID, waveID); err != nil {
		return store.Wave{}, err
	}
	return g.st.GetWave(ctx, campaignUID.s, waveID.s)
}

func (g Store) ChannelKey(ctx context.Context, campaignUID, waveID, channel Name) ([]byte, error) {
	if err := required(campaignUID, waveID, channel); err != nil {
		return nil, err
	}
	return g.st.ChannelKey(ctx, campaignUID.s, waveID.s, channel.s)
}

func (g Store) Reserve(ctx context.Context, invs []store.Invitation, now time.Time) ([]store.Invitation, error) {
	if err := rows("invitations", invs); err != nil {
		return nil, err
	}
	return g.st.Reserve(ctx, invs, now)
}

func (g Store) Mark(ctx context.Context, key store.InvitationKey, state store.InvitationState, reason Text, now time.Time) error {
	if err := rows("key", key, state); err != nil {
		return err
	}
	return g.st.Mark(ctx, key, state, reason.s, now)
}

func (g Store) RecordSigned(ctx context.Context, once store.Once, now time.Time) error {
	if err := rows("once", once); err != nil {
		return err
	}
	return g.st.RecordSigned(ctx, once, now)
}

func (g Store) MarkMany(ctx context.Context, outcomes []store.Outcome, now time.Time) error {
	if err := rows("outcomes", outcomes); err != nil {
		return err
	}
	return g.st.MarkMany(ctx, outcomes, now)
}

func (g Store) Contacted(ctx context.Context, namespace Name, keys []Name, since time.Time, except store.WaveRef) (map[string]bool, error) {
	if err := requiredAll(keys, namespace); err != nil {
		return nil, err
	}
	if err := rows("except", except); err != nil {
		return nil, err
	}
	return g.st.Contacted(ctx, namespace.s, strs(keys), since, except)
}

func (g Store) Unanswered(ctx context.Context, campaignUID, waveID Name, keys []Name) (map[string]bool, error) {
	if err := requiredAll(keys, campaignUID, waveID); err != nil {
		return nil, err
	}
	return g.st.Unanswered(ctx, campaignUID.s, waveID.s, strs(keys))
}

func (g Store) OptOut(ctx context.Context, namespace, recipientKey Name, now time.Time) error {
	if err := required(namespace, recipientKey); err != nil {
		return err
	}
	return g.st.OptOut(ctx, namespace.s, recipientKey.s, now)
}

func (g Store) OptedOut(ctx context.Context, namespace Name, keys []Name) (map[string]bool, error) {
	if err := requiredAll(keys, namespace); err != nil {
		return nil, err
	}
	return g.st.OptedOut(ctx, namespace.s, strs(keys))
}

func (g Store) Suppressed(ctx context.Context, namespace Name, keys []Name) (map[string][]string, error) {
	if err := requiredAll(keys, namespace); err != nil {
		return nil, err
	}
	return g.st.Suppressed(ctx, namespace.s, strs(keys))
}

// PutFrame takes the frame by segment; its keys are segments' names.
func (g Store) PutFrame(ctx context.Context, campaignUID, waveID Name, shard, shards int, frame map[Name]store.FrameCounts) error {
	if err := required(campaignUID, waveID); err != nil {
		return err
	}
	counts := make(map[string]store.FrameCounts, len(frame))
	for seg, c := range frame {
		if err := required(seg); err != nil {
			return err
		}
		counts[seg.s] = c
	}
	return g.st.PutFrame(ctx, campaignUID.s, waveID.s, shard, shards, counts)
}

func (g Store) SaveResponse(ctx context.Context, r store.Response, now time.Time) (bool, error) {
	if err := rows("response", r); err != nil {
		return false, err
	}
	return g.st.SaveResponse(ctx, r, now)
}

func (g Store) GetResponse(ctx context.Context, campaignUID, waveID, recipientKey Name) (store.Response, error) {
	if err := required(campaignUID, waveID, recipientKey); err != nil {
		return store.Response{}, err
	}
	return g.st.GetResponse(ctx, campaignUID.s, waveID.s, recipientKey.s)
}

func (g Store) PutFollowUp(ctx context.Context, rule store.FollowUpRule, now time.Time) error {
	if err := rows("rule", rule); err != nil {
		return err
	}
	return g.st.PutFollowUp(ctx, rule, now)
}

func (g Store) GetFollowUp(ctx context.Context, uid Name) (store.FollowUpRule, error) {
	if err := required(uid); err != nil {
		return store.FollowUpRule{}, err
	}
	return g.st.GetFollowUp(ctx, uid.s)
}

func (g Store) FollowUpRules(ctx context.Context, campaignUID Name) ([]store.FollowUpRule, error) {
	if err := required(campaignUID); err != nil {
		return nil, err
	}
	return g.st.FollowUpRules(ctx, campaignUID.s)
}

func (g Store) OpenNonResponseCases(ctx context.Context, rule store.FollowUpRule, now time.Time) (int, error) {
	if err := rows("rule", rule); err != nil {
		return 0, err
	}
	return g.st.OpenNonResponseCases(ctx, rule, now)
}

func (g Store) CasesToContact(ctx context.Context, followUpUID Name, limit int) ([]store.Case, error) {
	if err := required(followUpUID); err != nil {
		return nil, err
	}
	return g.st.CasesToContact(ctx, followUpUID.s, limit)
}

func (g Store) MarkContacted(ctx context.Context, keys []store.CaseKey, now time.Time) error {
	if err := rows("keys", keys); err != nil {
		return err
	}
	return g.st.MarkContacted(ctx, keys, now)
}

func (g Store) ResolveCase(ctx context.Context, key store.CaseKey, ticketRef Text, once store.Once, now time.Time) error {
	if err := rows("key", key, once); err != nil {
		return err
	}
	return g.st.ResolveCase(ctx, key, ticketRef.s, once, now)
}

func (g Store) GetCase(ctx context.Context, key store.CaseKey) (store.Case, error) {
	if err := rows("key", key); err != nil {
		return store.Case{}, err
	}
	return g.st.GetCase(ctx, key)
}

func (g Store) CaseStats(ctx context.Context, followUpUID Name, now time.Time) (store.CaseStats, error) {
	if err := required(followUpUID); err != nil {
		return store.CaseStats{}, err
	}
	return g.st.CaseStats(ctx, followUpUID.s, now)
}

func (g Store) WaveCases(ctx context.Context, campaignUID, waveID Name, now time.Time) ([]store.WaveCases, error) {
	if err := required(campaignUID, waveID); err != nil {
		return nil, err
	}
	return g.st.WaveCases(ctx, campaignUID.s, waveID.s, now)
}

// Summarize pairs each question with primary, a question's id, or with none when it is empty.
func (g Store) Summarize(ctx context.Context, campaignUID, waveID Name, primary Text) (store.Summary, error) {
	if err := required(campaignUID, waveID); err != nil {
		return store.Summary{}, err
	}
	return g.st.Summarize(ctx, campaignUID.s, waveID.s, primary.s)
}

func (g Store) ExportResponses(ctx context.Context, campaignUID, waveID Name, fn func(store.ExportedResponse) error) error {
	if err := required(campaignUID, waveID); err != nil {
		return err
	}
	return g.st.ExportResponses(ctx, campaignUID.s, waveID.s, fn)
}

func (g Store) ExportComments(ctx context.Context, campaignUID, waveID Name, fn func(store.Comment) error) error {
	if err := required(campaignUID, waveID); err != nil {
		return err
	}
	return g.st.ExportComments(ctx, campaignUID.s, waveID.s, fn)
}

func (g Store) ExportKey(ctx context.Context, campaignUID Name) ([]byte, error) {
	if err := required(campaignUID); err != nil {
		return nil, err
	}
	return g.st.ExportKey(ctx, campaignUID.s)
}

func (g Store) PutRetention(ctx context.Context, campaignUID Name, r store.Retention, now time.Time) error {
	if err := required(campaignUID); err != nil {
		return err
	}
	if err := rows("retention", r); err != nil {
		return err
	}
	return g.st.PutRetention(ctx, campaignUID.s, r, now)
}

func (g Store) GetRetention(ctx context.Context, campaignUID Name) (store.Retention, error) {
	if err := required(campaignUID); err != nil {
		return store.Retention{}, err
	}
	return g.st.GetRetention(ctx, campaignUID.s)
}

func (g Store) Expire(ctx context.Context, now time.Time) (store.Expired, error) {
	return g.st.Expire(ctx, now)
}

func (g Store) PutEvents(ctx context.Context, namespace Name, events []store.Event, now time.Time) (int, error) {
	if err := required(namespace); err != nil {
		return 0, err
	}
	if err := rows("events", events); err != nil {
		return 0, err
	}
	return g.st.PutEvents(ctx, namespace.s, events, now)
}

func (g Store) Events(ctx context.Context, namespace Name, since time.Time, limit int) ([]store.Event, error) {
	if err := required(namespace); err != nil {
		return nil, err
	}
	return g.st.Events(ctx, namespace.s, since, limit)
}

func (g Store) PutTouchPoints(ctx context.Context, tp store.TouchPoints, now time.Time) error {
	if err := rows("touch points", tp); err != nil {
		return err
	}
	return g.st.PutTouchPoints(ctx, tp, now)
}

func (g Store) TakenTypes(ctx context.Context, namespace Name) ([]store.EventType, error) {
	if err := required(namespace); err != nil {
		return nil, err
	}
	return g.st.TakenTypes(ctx, namespace.s)
}

func (g Store) DueEvents(ctx context.Context, namespace, campaignUID Name, now time.Time, limit int) ([]store.DueEvent, error) {
	if err := required(namespace, campaignUID); err != nil {
		return nil, err
	}
	return g.st.DueEvents(ctx, namespace.s, campaignUID.s, now, limit)
}

func (g Store) DueTouchPoints(ctx context.Context, namespace, campaignUID Name, now time.Time) (store.TouchPointsDue, error) {
	if err := required(namespace, campaignUID); err != nil {
		return store.TouchPointsDue{}, err
	}
	return g.st.DueTouchPoints(ctx, namespace.s, campaignUID.s, now)
}

func (g Store) EventPeople(ctx context.Context, namespace, campaignUID Name, keys []Name) (map[string]map[string]string, error) {
	if err := requiredAll(keys, namespace, campaignUID); err != nil {
		return nil, err
	}
	return g.st.EventPeople(ctx, namespace.s, campaignUID.s, strs(keys))
}

func (g Store) WavePeople(ctx context.Context, namespace, campaignUID, waveID Name, after Text, limit int) (map[string]map[string]string, error) {
	if err := required(namespace, campaignUID, waveID); err != nil {
		return nil, err
	}
	return g.st.WavePeople(ctx, namespace.s, campaignUID.s, waveID.s, after.s, limit)
}

func (g Store) Decide(ctx context.Context, namespace, campaignUID Name, decisions []store.Decision, invs []store.Invitation, now time.Time) ([]store.Invitation, error) {
	if err := required(namespace, campaignUID); err != nil {
		return nil, err
	}
	if err := rows("decisions", decisions); err != nil {
		return nil, err
	}
	if err := rows("invitations", invs); err != nil {
		return nil, err
	}
	return g.st.Decide(ctx, namespace.s, campaignUID.s, decisions, invs, now)
}

func (g Store) Erase(ctx context.Context, namespace, recipientKey Name, now time.Time) (store.Erasure, error) {
	if err := required(namespace, recipientKey); err != nil {
		return store.Erasure{}, err
	}
	return g.st.Erase(ctx, namespace.s, recipientKey.s, now)
}

func (g Store) Erasures(ctx context.Context, namespace Name) ([]store.ErasureEntry, error) {
	if err := required(namespace); err != nil {
		return nil, err
	}
	return g.st.Erasures(ctx, namespace.s)
}

func (g Store) Ping(ctx context.Context) error { return g.st.Ping(ctx) }

func (g Store) Close() error { return g.st.Close() }
