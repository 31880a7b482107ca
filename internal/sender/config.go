package sender

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/surveyops/survey-operator/internal/audience"
	"github.com/surveyops/survey-operator/internal/channel"
	"github.com/surveyops/survey-operator/internal/jobfile"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/schedule"
	"github.com/surveyops/survey-operator/internal/token"
)

func readSecret(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading a mounted secret: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// Build turns a job file into a Job, reading the mounted secrets and checking every template
// before anything is sent. shard is this pod's JOB_COMPLETION_INDEX.
func Build(c jobfile.Config, shard int) (Job, error) {
	var job Job
	switch {
	case c.CampaignUID == "" || (c.WaveID == "") != (c.Audience.Events != nil && c.FollowUp == nil && c.Round == 0) || c.Namespace == "":
		return job, errors.New("the job needs campaignUID, namespace, and a waveID unless it sends touch-point events")
	case c.Audience.File == "" && c.Audience.ObjectStore == nil && c.Audience.Events == nil:
		return job, errors.New("the job names no audience file, object or events")
	case c.CollectorURL == "" || c.PublicURL == "":
		return job, errors.New("the job needs collectorURL and publicURL")
	}
	apiToken, err := readSecret(c.APITokenFile)
	if err != nil {
		return job, err
	}
	keys, err := token.LoadKeyRing(c.TokenKeysDir)
	if err != nil {
		return job, err
	}
	contacts := map[string]string{}
	channels := map[string]channel.Channel{}
	idempotent := map[string]bool{}
	limits := map[string]*rate.Limiter{}
	for _, ch := range c.Channels {
		contacts[ch.Name] = ch.ContactField
		switch {
		case ch.Email != nil:
			user, err := readSecret(ch.Email.UsernameFile)
			if err != nil {
				return job, err
			}
			pass, err := readSecret(ch.Email.PasswordFile)
			if err != nil {
				return job, err
			}
			e, err := channel.NewEmail(channel.EmailConfig{Host: ch.Email.Host, Port: ch.Email.Port, TLS: ch.Email.TLS,
				From: ch.Email.From, Subject: ch.Email.Subject, Subjects: ch.Email.Subjects, Username: user, Password: pass, Connections: ch.Email.Connections})
			if err != nil {
				return job, fmt.Errorf("channel %s: %w", ch.Name, err)
			}
			channels[ch.Name] = e
		case ch.Webhook != nil:
			key, err := readSecret(ch.Webhook.HMACKeyFile)
			if err != nil {
				return job, err
			}
			bearer, err := readSecret(ch.Webhook.BearerTokenFile)
			if err != nil {
				return job, err
			}
			w, err := channel.NewWebhook(channel.WebhookConfig{URL: ch.Webhook.URL, HMACKey: []byte(key), BearerToken: bearer, Body: ch.Webhook.BodyTemplate})
			if err != nil {
				return job, fmt.Errorf("channel %s: %w", ch.Name, err)
			}
			channels[ch.Name] = w
			idempotent[ch.Name] = true // every attempt carries the same Idempotency-Key
		default:
			return job, fmt.Errorf("channel %s has neither email nor webhook", ch.Name)
		}
		if ch.PerSecond > 0 {
			burst := ch.Burst
			if burst <= 0 {
				burst = max(1, int(ch.PerSecond))
			}
			limits[ch.Name] = rate.NewLimiter(rate.Limit(ch.PerSecond), burst)
		}
	}
	plan, err := audience.Compile(audience.Spec{Format: audience.Format(c.Audience.Format), IDField: c.Audience.IDField,
		Segments: c.Audience.Segments, ContactColumns: contacts, LanguageColumn: c.Audience.LanguageColumn}, nil)
	if err != nil {
		return job, err
	}
	var quiet schedule.QuietHours
	if q := c.QuietHours; q != nil {
		loc, err := schedule.LoadLocation(q.TimeZone)
		if err != nil {
			return job, err
		}
		if quiet, err = schedule.ParseQuietHours(q.Start, q.End, loc); err != nil {
			return job, err
		}
	}
	var within time.Duration
	if c.ContactedWithin != "" {
		if within, err = time.ParseDuration(c.ContactedWithin); err != nil {
			return job, fmt.Errorf("contactedWithin: %w", err)
		}
	}
	shards := max(1, c.Shards)
	if shard < 0 || shard >= shards {
		return job, fmt.Errorf("completion index %d is outside 0..%d", shard, shards-1)
	}
	ledger := responseapi.NewClient(c.CollectorURL, apiToken, nil)
	var fu *FollowUp
	if f := c.FollowUp; f != nil {
		body, err := channel.NewTemplate("followUp.message.body", f.Body)
		if err != nil {
			return job, err
		}
		subject, err := followUpSubject("followUp.message.subject", f.Subject)
		if err != nil {
			return job, err
		}
		fu = &FollowUp{UID: f.UID, Channels: f.Channels, Subject: subject, Body: body, Cases: ledger, Limit: f.Limit}
		for lang, t := range f.Translations {
			body, err := channel.NewTemplate("followUp.message.translations["+lang+"].body", t.Body)
			if err != nil {
				return job, err
			}
			subject, err := followUpSubject("followUp.message.translations["+lang+"].subject", t.Subject)
			if err != nil {
				return job, err
			}
			if fu.Translations == nil {
				fu.Translations = map[string]FollowUpText{}
			}
			fu.Translations[lang] = FollowUpText{Subject: subject, Body: body}
		}
		if t := f.Ticket; t != nil {
			key, err := readSecret(t.HMACKeyFile)
			if err != nil {
				return job, err
			}
			bearer, err := readSecret(t.BearerTokenFile)
			if err != nil {
				return job, err
			}
			if fu.Ticket, err = channel.NewWebhook(channel.WebhookConfig{URL: t.URL, HMACKey: []byte(key), BearerToken: bearer, Body: t.BodyTemplate}); err != nil {
				return job, fmt.Errorf("the ticket webhook: %w", err)
			}
		}
	}
	var events *Events
	open, version := func() (io.ReadCloser, error) { return nil, errors.New("no list") }, func() *jobfile.FilePin { return nil }
	if e := c.Audience.Events; e != nil {
		loc, err := schedule.LoadLocation(e.TimeZone)
		if err != nil {
			return job, err
		}
		window, err := time.ParseDuration(e.Window)
		if err != nil || window <= 0 {
			return job, fmt.Errorf("audience.events.window: a duration above 0")
		}
		events = &Events{Source: ledger, Attributes: e.Attributes, Location: loc, Window: window, Until: e.Until, Waves: e.Waves}
	} else {
		src, err := newSource(context.Background(), c.Audience)
		if err != nil {
			return job, fmt.Errorf("the audience's object store: %w", err)
		}
		open, version = func() (io.ReadCloser, error) { return src.open(context.Background()) }, src.version
	}
	return Job{
		CampaignUID: c.CampaignUID, WaveID: c.WaveID, Namespace: c.Namespace, Campaign: c.Campaign, Title: c.Title,
		Round: c.Round, PublicURL: strings.TrimRight(c.PublicURL, "/"), Expiry: c.Expiry, Keys: keys, Languages: c.Audience.Languages, Titles: c.Audience.Titles,
		Plan: plan, Open: open, Version: version, Seed: c.Seed, Events: events,
		Shard: shard, Shards: shards, ContactedWithin: within,
		Channels: channels, Idempotent: idempotent, Limits: limits, Quiet: quiet,
		Ledger:      ledger,
		Concurrency: c.Concurrency, Window: c.Window, BatchSize: c.BatchSize,
		FollowUp: fu,
	}, nil
}

// followUpSubject is a FollowUp's subject as a template, or nil when it has none.
func followUpSubject(name, text string) (*channel.Template, error) {
	if text == "" {
		return nil, nil
	}
	return channel.NewTemplate(name, text)
}
