package campaign

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"strings"
	"time"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/audience"
	"github.com/surveyops/survey-operator/internal/channel"
	"github.com/surveyops/survey-operator/internal/schedule"
)

// Problem is something wrong with a campaign that the schema cannot see, naming the field.
type Problem struct {
	Field   string
	Message string
}

func (p Problem) Error() string { return p.Field + ": " + p.Message }

// Problems is every problem found, in the order of the spec's fields.
type Problems []Problem

func (ps Problems) Error() string {
	if len(ps) == 0 {
		return ""
	}
	msg := ps[0].Error()
	if len(ps) > 1 {
		msg += fmt.Sprintf(" (and %d more: %s)", len(ps)-1, ps[1].Field)
	}
	return msg
}

// ContactColumn is the audience column a channel delivers to: contact.email for email, the
// webhook's contactField (contact.phone by default) otherwise. It is "" when the column is not
// declared.
func ContactColumn(spec *v1alpha1.SurveyCampaignSpec, ch *v1alpha1.Channel) string {
	contact := spec.Audience.Source.Contact
	if ch.Email != nil || ch.Webhook != nil && ch.Webhook.ContactField == v1alpha1.ContactEmail {
		return contact.Email
	}
	return contact.Phone
}

// ChannelSecret is the Secret a channel refers to: its SMTP credentials or its webhook's
// keys; nil when it has none.
func ChannelSecret(ch *v1alpha1.Channel) *v1alpha1.LocalObjectReference {
	switch {
	case ch.Email != nil:
		return ch.Email.SMTP.CredentialsSecretRef
	case ch.Webhook != nil:
		return ch.Webhook.SecretRef
	}
	return nil
}

// AudienceSpec is the audience part of a campaign as the sender divides it.
func AudienceSpec(spec *v1alpha1.SurveyCampaignSpec) audience.Spec {
	src := spec.Audience.Source
	out := audience.Spec{Format: audience.Format(src.Format), IDField: src.IDField, ContactColumns: map[string]string{}, LanguageColumn: src.Language}
	if out.Format == "" {
		out.Format = audience.CSV
	}
	for i := range spec.Channels {
		out.ContactColumns[spec.Channels[i].Name] = ContactColumn(spec, &spec.Channels[i])
	}
	for _, s := range spec.Audience.Segments {
		seg := audience.Segment{Name: s.Name, Match: s.Match, Channels: s.Channels}
		if s.Sample != nil && s.Sample.Percent != nil {
			seg.Percent = int(*s.Sample.Percent)
		}
		if s.Sample != nil && s.Sample.Count != nil {
			seg.Count = int(*s.Sample.Count)
		}
		out.Segments = append(out.Segments, seg)
	}
	return out
}

// Columns reads the column names of an audience: a CSV file's header; nil for JSON Lines,
// whose fields are known only line by line. It reads the first line only.
func Columns(format v1alpha1.AudienceFormat, data []byte) ([]string, error) {
	if format == v1alpha1.AudienceJSONLines {
		return nil, nil
	}
	line, _, err := bufio.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff")))).ReadLine()
	if err != nil || len(bytes.TrimSpace(line)) == 0 {
		return nil, fmt.Errorf("the audience is empty: it needs a header line")
	}
	header, err := csv.NewReader(bytes.NewReader(line)).Read()
	if err != nil {
		return nil, fmt.Errorf("line 1 (the header): %w", err)
	}
	for i := range header {
		header[i] = strings.TrimSpace(header[i])
	}
	return header, nil
}

// Validate checks what the schema cannot: segment expressions compile and name existing
// columns (when columns, the audience's header, is not nil), the contact columns exist, the
// schedule and quiet hours parse, and the message templates render.
func Validate(spec *v1alpha1.SurveyCampaignSpec, columns []string) Problems {
	var ps Problems
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	has := map[string]bool{}
	for _, c := range columns {
		has[c] = true
	}
	src := spec.Audience.Source
	if columns != nil && !has[src.IDField] {
		add("spec.audience.source.idField", "the audience has no column %q", src.IDField)
	}
	for _, c := range []struct{ field, column string }{{"contact.email", src.Contact.Email}, {"contact.phone", src.Contact.Phone}, {"language", src.Language}} {
		if columns != nil && c.column != "" && !has[c.column] {
			add("spec.audience.source."+c.field, "the audience has no column %q", c.column)
		}
	}
	used := map[string]bool{}
	for _, s := range spec.Audience.Segments {
		for _, c := range s.Channels {
			used[c] = true
		}
	}
	for i := range spec.Channels {
		ch := &spec.Channels[i]
		path := fmt.Sprintf("spec.channels[%d]", i)
		if used[ch.Name] && ContactColumn(spec, ch) == "" {
			which := "phone"
			if ch.Email != nil || ch.Webhook != nil && ch.Webhook.ContactField == v1alpha1.ContactEmail {
				which = "email"
			}
			add(path, "channel %q delivers to spec.audience.source.contact.%s, which is not set", ch.Name, which)
		}
		switch {
		case ch.Email != nil:
			e := ch.Email
			if _, err := channel.NewEmail(channel.EmailConfig{Host: e.SMTP.Host, Port: int(e.SMTP.Port), TLS: string(e.SMTP.TLS),
				From: e.From, Subject: e.Subject}); err != nil {
				add(path+".email", "%v", err)
			}
		case ch.Webhook != nil:
			if _, err := channel.NewWebhook(channel.WebhookConfig{URL: ch.Webhook.URL, Body: ch.Webhook.BodyTemplate}); err != nil {
				add(path+".webhook.bodyTemplate", "%v", err)
			}
		}
	}
	var earlier []string
	for i, q := range spec.Survey.Questions {
		if q.ShowIf != "" {
			if _, err := audience.CompileShowIf(q.ShowIf, append([]string{}, earlier...)); err != nil {
				add(fmt.Sprintf("spec.survey.questions[%d].showIf", i), "%s", celMessage(err))
			}
		}
		earlier = append(earlier, q.ID)
	}
	for i, s := range spec.Audience.Segments {
		if s.Match == "" {
			continue
		}
		if _, err := audience.CompileExpression(s.Match, columns); err != nil {
			add(fmt.Sprintf("spec.audience.segments[%d].match", i), "%s", celMessage(err))
		}
	}
	if sc := spec.Schedule; sc != nil {
		if _, err := schedule.LoadLocation(sc.TimeZone); err != nil {
			add("spec.schedule.timeZone", "%v", err)
		} else if sc.Cron != "" {
			if _, err := schedule.Parse(sc.Cron, sc.TimeZone); err != nil {
				add("spec.schedule.cron", "%v", err)
			}
		}
		if q := sc.QuietHours; q != nil {
			if loc, err := schedule.LoadLocation(sc.TimeZone); err == nil {
				if _, err := schedule.ParseQuietHours(q.Start, q.End, loc); err != nil {
					add("spec.schedule.quietHours", "%v", err)
				}
			}
		}
		for i, d := range sc.Reminders {
			if _, err := time.ParseDuration(string(d)); err != nil {
				add(fmt.Sprintf("spec.schedule.reminders[%d]", i), "%v", err)
			}
		}
	}
	return ps
}

// celMessage makes a CEL error one line, its position and message ("1:1: undeclared reference
// to 'agee'"), without the caret drawing.
func celMessage(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "\n"); i >= 0 {
		msg = msg[:i]
	}
	msg = strings.TrimPrefix(msg, "ERROR: ")
	msg = strings.TrimPrefix(msg, "<input>:")
	return msg
}
