package sender

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/surveyops/survey-operator/internal/audience"
	"github.com/surveyops/survey-operator/internal/channel"
	"github.com/surveyops/survey-operator/internal/i18n"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/token"
)

// FollowUp is a follow-up batch: contact the people of a FollowUp's open cases, each once,
// with the FollowUp's message and a link where they say the matter is sorted; open a ticket in
// the helpdesk for each when the FollowUp has a ticket webhook; record the contact.
//
// Each contact is an entry of the ledger under the wave "followup/<FollowUp UID>/<wave>", so
// the exactly-once rules of invitations hold for it (an email possibly sent by a killed sender
// is not sent again and counts as contacted), and it counts as a contact for
// exclude.contactedWithin. A ticket carries the case id as its Idempotency-Key, so a retried
// sender opens no second ticket at a helpdesk that honours it.
type FollowUp struct {
	UID string
	// Channels are the FollowUp's, in order of preference.
	Channels []string
	// Subject is the email's subject, a template like Body (nil: the survey's title). It takes
	// the place of the campaign's invitation subject.
	Subject *channel.Template
	// Body is the FollowUp's message; it may use {{ .Link }} (the "is it sorted?" link). An
	// email carries the link once: after the message when the message does not.
	Body *channel.Template
	// Translations are the message in the campaign's other languages, by language.
	Translations map[string]FollowUpText
	// Ticket, when set, opens a helpdesk ticket per case contacted.
	Ticket channel.Channel
	// Cases is the response service's case API (responseapi.Client).
	Cases CaseLedger
	// Limit bounds the cases of one batch (1000 when zero).
	Limit int
}

// FollowUpText is a follow-up message in one language.
type FollowUpText struct {
	Subject *channel.Template
	Body    *channel.Template
}

// CaseLedger is what a follow-up batch needs of the response service.
type CaseLedger interface {
	CasesToContact(ctx context.Context, uid string, limit int) ([]responseapi.Case, error)
	MarkContacted(ctx context.Context, uid string, cases []responseapi.Case) error
}

// followUpWave is the ledger's wave of a FollowUp's contacts for a survey wave.
func followUpWave(uid, wave string) string { return "followup/" + uid + "/" + wave }

func (r *run) followUp(ctx context.Context) error {
	fu := r.job.FollowUp
	limit := fu.Limit
	if limit <= 0 {
		limit = 1000
	}
	cases, err := fu.Cases.CasesToContact(ctx, fu.UID, limit)
	if err != nil {
		return fmt.Errorf("asking for the cases to contact: %w", err)
	}
	r.sum.Audience = len(cases)
	if len(cases) == 0 {
		return nil
	}
	byPerson := map[string][]responseapi.Case{}
	keys := map[string]bool{}
	for _, c := range cases {
		byPerson[c.RecipientKey] = append(byPerson[c.RecipientKey], c)
		keys[c.RecipientKey] = true
	}
	type target struct {
		inv  audience.Invitee
		wave string
	}
	var targets []target
	found := func(inv audience.Invitee) error {
		for _, c := range byPerson[inv.Key] {
			inv.Segment = c.Segment
			targets = append(targets, target{inv: inv, wave: c.WaveID})
		}
		delete(byPerson, inv.Key) // a key twice in the file is reached once
		return nil
	}
	if r.job.Events != nil {
		// A touch-point campaign's people are in the events that invited them.
		people, err := r.job.Events.Source.EventPeople(ctx, r.job.Namespace, r.job.CampaignUID, slices.Sorted(maps.Keys(keys)))
		if err != nil {
			return fmt.Errorf("asking for the events that invited the people to contact: %w", err)
		}
		for _, key := range slices.Sorted(maps.Keys(people)) {
			if inv, ok := r.job.Plan.Reach(people[key], fu.Channels); ok && inv.Key == key {
				_ = found(inv)
			}
		}
	} else {
		f, err := r.job.Open()
		if err != nil {
			return fmt.Errorf("opening the audience: %w", err)
		}
		err = r.job.Plan.Lookup(f, keys, fu.Channels, found)
		f.Close()
		if err != nil {
			return fmt.Errorf("the audience is invalid, nobody was contacted: %w", err)
		}
	}
	r.sum.Skipped["not-in-audience"] = len(cases) - len(targets)

	r.afterSent = r.contacted
	for start := 0; start < len(targets); start += r.job.BatchSize {
		batch := targets[start:min(start+r.job.BatchSize, len(targets))]
		if r.job.Quiet.Quiet(r.job.Now()) {
			return ErrQuietHours
		}
		people := make([]string, len(batch))
		for i, t := range batch {
			people[i] = t.inv.Key
		}
		optedOut, err := r.job.Ledger.OptedOut(ctx, r.job.Namespace, people)
		if err != nil {
			return fmt.Errorf("asking the ledger for opt-outs: %w", err)
		}
		byKey := map[string]audience.Invitee{}
		var want []responseapi.Invitation
		for _, t := range batch {
			if optedOut[t.inv.Key] {
				r.sum.Skipped["opted-out"]++
				continue
			}
			wave := followUpWave(fu.UID, t.wave)
			byKey[inviteeKey(wave, t.inv.Key)] = t.inv
			want = append(want, responseapi.Invitation{CampaignUID: r.job.CampaignUID, WaveID: wave, RecipientKey: t.inv.Key,
				Namespace: r.job.Namespace, Segment: t.inv.Segment, Channel: t.inv.Channel})
		}
		if len(want) == 0 {
			continue
		}
		stored, err := r.job.Ledger.Reserve(ctx, want)
		if err != nil {
			return fmt.Errorf("reserving contacts: %w", err)
		}
		var todo, done []responseapi.Invitation
		for _, row := range stored {
			switch {
			case row.State == "sending" && !r.job.Idempotent[row.Channel]:
				if err := r.mark(ctx, row, "unknown", "interrupted"); err != nil {
					return err
				}
				r.sum.Skipped["possibly-sent"]++
				done = append(done, row)
			case row.State == "sending" || row.State == "reserved":
				r.sum.Invited++
				todo = append(todo, row)
			case row.State == "sent" || row.State == "unknown":
				// Sent by an earlier run that stopped before recording the contact.
				r.sum.Skipped["already-"+row.State]++
				done = append(done, row)
			default:
				r.sum.Skipped["already-"+row.State]++
			}
		}
		if err := r.contacted(ctx, done); err != nil {
			return err
		}
		if err := r.deliver(ctx, todo, byKey); err != nil {
			return err
		}
	}
	return nil
}

// contacted opens the tickets of contacts that went out, then records the contacts. Contacts an
// earlier run sent had their tickets opened then, or have them opened again under the same
// Idempotency-Key.
func (r *run) contacted(ctx context.Context, sent []responseapi.Invitation) error {
	if len(sent) == 0 {
		return nil
	}
	fu := r.job.FollowUp
	cases := make([]responseapi.Case, 0, len(sent))
	for _, row := range sent {
		wave := strings.TrimPrefix(row.WaveID, followUpWave(fu.UID, ""))
		c := responseapi.Case{CampaignUID: row.CampaignUID, WaveID: wave, RecipientKey: row.RecipientKey, Segment: row.Segment, Channel: row.Channel}
		if fu.Ticket != nil {
			msg, err := r.followUpMessage(audience.Invitee{Key: row.RecipientKey, Segment: row.Segment}, row)
			if err == nil {
				msg.To = ""
				err = fu.Ticket.Send(ctx, msg, "ticket/"+msg.CaseID)
			}
			if err != nil {
				r.mu.Lock()
				r.sum.Failed["ticket-"+channel.ReasonOf(err)]++
				r.mu.Unlock()
			}
		}
		cases = append(cases, c)
	}
	if err := fu.Cases.MarkContacted(ctx, fu.UID, cases); err != nil {
		return fmt.Errorf("recording contacts: %w", err)
	}
	return nil
}

// followUpMessage is a follow-up contact: the FollowUp's text, a link to say the matter is
// sorted (the case id, also given to the helpdesk), and the survey opt-out link.
func (r *run) followUpMessage(inv audience.Invitee, row responseapi.Invitation) (channel.Message, error) {
	fu := r.job.FollowUp
	wave := strings.TrimPrefix(row.WaveID, followUpWave(fu.UID, ""))
	caseTok, err := r.job.Keys.SignCase(token.Case{FollowUpUID: fu.UID, CampaignUID: r.job.CampaignUID, WaveID: wave,
		RecipientKey: row.RecipientKey}, r.job.Expiry)
	if err != nil {
		return channel.Message{}, &channel.Error{Permanent: true, Reason: "token", Err: err}
	}
	optOut, err := r.job.Keys.Sign(token.Claims{Purpose: token.PurposeSurvey, CampaignUID: r.job.CampaignUID, Wave: wave,
		Recipient: row.RecipientKey, Segment: row.Segment, Channel: row.Channel, Expiry: r.job.Expiry})
	if err != nil {
		return channel.Message{}, &channel.Error{Permanent: true, Reason: "token", Err: err}
	}
	// In the person's language when the campaign has it (the audience's language column).
	lang, subject, body, title := "en", fu.Subject, fu.Body, r.job.Title
	if len(r.job.Languages) > 0 {
		lang = r.job.Languages[0]
	}
	query := ""
	if matched, ok := i18n.Match(r.job.Languages, inv.Language); ok {
		lang, query = matched, "?lang="+url.QueryEscape(matched)
		title = cmp.Or(r.job.Titles[matched], title)
		if t, ok := fu.Translations[matched]; ok {
			subject, body = t.Subject, t.Body
		}
	}
	msg := channel.Message{To: inv.Contact, Title: title, Campaign: r.job.Campaign, Segment: row.Segment,
		Link: r.job.PublicURL + "/f/" + caseTok, OptOutLink: r.job.PublicURL + "/o/" + optOut + query, CaseID: caseTok,
		Lang: lang, Dir: i18n.Dir(lang), Words: i18n.Mail(lang), FollowUp: true}
	msg.Subject = title
	if subject != nil {
		s, err := subject.Render(msg)
		if err != nil {
			return channel.Message{}, err
		}
		// A header is one line.
		msg.Subject = cmp.Or(strings.Join(strings.Fields(s), " "), title)
	}
	if body != nil {
		if msg.Text, err = body.Render(msg); err != nil {
			return channel.Message{}, err
		}
	}
	return msg, nil
}
