// Package followup is the domain of the FollowUp reconciler without Kubernetes clients: what the
// schema cannot validate (the campaign's questions, channels and segments), the rule the
// response service applies, and the status figures from its case stats.
package followup

import (
	"fmt"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/audience"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/channel"
	"github.com/surveyops/survey-operator/internal/responseapi"
)

// Validate checks a FollowUp against its campaign: the trigger compiles and names the
// campaign's questions, the channels and segments are the campaign's, and the message and
// ticket templates render.
func Validate(fu *v1alpha1.FollowUpSpec, c *v1alpha1.SurveyCampaignSpec) campaign.Problems {
	var ps campaign.Problems
	add := func(field, format string, args ...any) {
		ps = append(ps, campaign.Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if fu.Trigger.Type == v1alpha1.TriggerResponse && c.Survey.Anonymous {
		add("spec.trigger.type", "the campaign's survey is anonymous: a Response trigger would tie a person to their answers (a NonResponse trigger may follow up who has not answered)")
	}
	if fu.Trigger.When != "" {
		var ids []string
		for _, q := range c.Survey.Questions {
			ids = append(ids, q.ID)
		}
		if _, err := audience.CompileTrigger(fu.Trigger.When, ids); err != nil {
			add("spec.trigger.when", "%s", oneLine(err))
		}
	}
	var channels, segments []string
	for _, ch := range c.Channels {
		channels = append(channels, ch.Name)
	}
	for _, s := range c.Audience.Segments {
		segments = append(segments, s.Name)
	}
	for i, ch := range fu.Channels {
		if !slices.Contains(channels, ch) {
			add(fmt.Sprintf("spec.channels[%d]", i), "the campaign has no channel %q; its channels are %v", ch, channels)
		}
	}
	for i, s := range fu.Segments {
		if !slices.Contains(segments, s) {
			add(fmt.Sprintf("spec.segments[%d]", i), "the campaign has no segment %q; its segments are %v", s, segments)
		}
	}
	if _, err := channel.NewEmail(channel.EmailConfig{Host: "smtp.invalid", From: "check@example.org",
		Subject: fu.Message.Subject, Text: fu.Message.Body}); err != nil {
		add("spec.message", "%v", err)
	}
	// The message in every language the campaign's survey is in, and in no other.
	translated := map[string]bool{}
	for i, t := range fu.Message.Translations {
		translated[t.Language] = true
		field := fmt.Sprintf("spec.message.translations[%d]", i)
		if !slices.ContainsFunc(c.Survey.Translations, func(s v1alpha1.SurveyTranslation) bool { return s.Language == t.Language }) {
			add(field+".language", "the campaign's survey is not in %q", t.Language)
		}
		if fu.Message.Subject != "" && t.Subject == "" {
			add(field+".subject", "the message has a subject: translate it")
		}
		if _, err := channel.NewEmail(channel.EmailConfig{Host: "smtp.invalid", From: "check@example.org",
			Subject: t.Subject, Text: t.Body}); err != nil {
			add(field, "%v", err)
		}
	}
	for _, s := range c.Survey.Translations {
		if !translated[s.Language] {
			add("spec.message.translations", "the campaign's survey is in %q too: the message needs a translation into it", s.Language)
		}
	}
	if t := fu.Ticket; t != nil {
		if _, err := channel.NewWebhook(channel.WebhookConfig{URL: t.Webhook.URL, Body: t.Webhook.BodyTemplate}); err != nil {
			add("spec.ticket.webhook.bodyTemplate", "%v", err)
		}
	}
	return ps
}

func oneLine(err error) string {
	msg := err.Error()
	for i := range len(msg) {
		if msg[i] == '\n' {
			msg = msg[:i]
			break
		}
	}
	if len(msg) > 7 && msg[:7] == "ERROR: " {
		msg = msg[7:]
	}
	if len(msg) > 8 && msg[:8] == "<input>:" {
		msg = msg[8:]
	}
	return msg
}

// Registration is the rule the response service applies for a FollowUp of a campaign.
func Registration(fu *v1alpha1.FollowUp, campaignUID string, active bool) responseapi.FollowUpRegistration {
	reg := responseapi.FollowUpRegistration{Namespace: fu.Namespace, Name: fu.Name, CampaignUID: campaignUID,
		Trigger: string(fu.Spec.Trigger.Type), When: fu.Spec.Trigger.When, After: string(fu.Spec.Trigger.After),
		Segments: fu.Spec.Segments, Active: active}
	if sla := fu.Spec.SLA; sla != nil {
		reg.ContactWithin, reg.ResolveWithin = string(sla.ContactWithin), string(sla.ResolveWithin)
	}
	return reg
}

// Apply writes case stats into a FollowUp's status figures.
func Apply(st *v1alpha1.FollowUpStatus, stats responseapi.CaseStats) {
	st.Matched, st.Contacted, st.Resolved = int64(stats.Matched), int64(stats.Contacted), int64(stats.Resolved)
	st.Overdue, st.Breaches = int64(stats.Overdue), int64(stats.Breaches)
	st.TimeToContact, st.TimeToResolve = durations(stats.TimeToContact), durations(stats.TimeToResolve)
}

func durations(p responseapi.Percentiles) *v1alpha1.DurationStats {
	if p.N == 0 {
		return nil
	}
	d := func(s float64) *metav1.Duration {
		return &metav1.Duration{Duration: time.Duration(s * float64(time.Second)).Round(time.Second)}
	}
	return &v1alpha1.DurationStats{Median: d(p.MedianSeconds), P90: d(p.P90Seconds)}
}
