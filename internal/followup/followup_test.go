package followup

import (
	"strings"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/responseapi"
)

func campaignSpec() *v1alpha1.SurveyCampaignSpec {
	return &v1alpha1.SurveyCampaignSpec{
		Survey:   v1alpha1.Survey{Questions: []v1alpha1.Question{{ID: "recommend", Kind: v1alpha1.QuestionNPS}, {ID: "first-visit", Kind: v1alpha1.QuestionChoice}}},
		Audience: v1alpha1.Audience{Segments: []v1alpha1.Segment{{Name: "emergency"}, {Name: "routine"}}},
		Channels: []v1alpha1.Channel{{Name: "sms"}, {Name: "email"}},
	}
}

func TestValidate(t *testing.T) {
	good := v1alpha1.FollowUpSpec{Trigger: v1alpha1.Trigger{Type: v1alpha1.TriggerResponse, When: "response.answers.recommend <= 6"},
		Channels: []string{"sms"}, Segments: []string{"routine"}, Message: v1alpha1.Message{Subject: "Sorry", Body: "Tell us when it is sorted: {{ .Link }}"},
		Ticket: &v1alpha1.Ticket{Webhook: v1alpha1.WebhookChannel{URL: "https://crm.example.org", BodyTemplate: `{"case": {{json .CaseID}}}`}}}
	if ps := Validate(&good, campaignSpec()); len(ps) > 0 {
		t.Fatalf("a good FollowUp: %v", ps)
	}
	for want, mutate := range map[string]func(*v1alpha1.FollowUpSpec){
		`spec.trigger.when: the survey has no question "recomend"`:  func(s *v1alpha1.FollowUpSpec) { s.Trigger.When = "response.answers.recomend <= 6" },
		`spec.trigger.when: 1:1: undeclared reference to 'answers'`: func(s *v1alpha1.FollowUpSpec) { s.Trigger.When = "answers.recommend <= 6" },
		`spec.channels[1]: the campaign has no channel "fax"`:       func(s *v1alpha1.FollowUpSpec) { s.Channels = []string{"sms", "fax"} },
		`spec.segments[0]: the campaign has no segment "general"`:   func(s *v1alpha1.FollowUpSpec) { s.Segments = []string{"general"} },
		`spec.message: `:                     func(s *v1alpha1.FollowUpSpec) { s.Message.Body = "{{ .Lnk }}" },
		`spec.ticket.webhook.bodyTemplate: `: func(s *v1alpha1.FollowUpSpec) { s.Ticket.Webhook.BodyTemplate = "{{ .Case" },
	} {
		spec := good
		spec.Ticket = &v1alpha1.Ticket{Webhook: good.Ticket.Webhook}
		mutate(&spec)
		if ps := Validate(&spec, campaignSpec()); len(ps) == 0 || !strings.HasPrefix(ps.Error(), want) {
			t.Errorf("got %q, want it to begin %q", ps.Error(), want)
		}
	}
	// A campaign in Welsh too: the message needs a Welsh translation, with its subject, and
	// none in a language the campaign does not have.
	welsh := campaignSpec()
	welsh.Survey.Translations = []v1alpha1.SurveyTranslation{{Language: "cy", Title: "Arolwg"}}
	for want, translations := range map[string][]v1alpha1.MessageTranslation{
		`spec.message.translations: the campaign's survey is in "cy" too`:               nil,
		`spec.message.translations[0].subject: the message has a subject: translate it`: {{Language: "cy", Body: "Diolch: {{ .Link }}"}},
		`spec.message.translations[0].language: the campaign's survey is not in "ar"`:   {{Language: "ar", Subject: "x", Body: "x"}},
	} {
		spec := good
		spec.Message.Subject, spec.Message.Translations = "Sorry", translations
		if ps := Validate(&spec, welsh); len(ps) == 0 || !strings.HasPrefix(ps.Error(), want) {
			t.Errorf("got %q, want it to begin %q", ps.Error(), want)
		}
	}
	translated := good
	translated.Message.Translations = []v1alpha1.MessageTranslation{{Language: "cy", Subject: "Mae'n ddrwg gennym", Body: "Diolch: {{ .Link }}"}}
	if ps := Validate(&translated, welsh); len(ps) > 0 {
		t.Errorf("a FollowUp translated into the campaign's languages: %v", ps)
	}

	// An anonymous campaign's answers trigger nothing; its non-responders may be followed up.
	anonymous := campaignSpec()
	anonymous.Survey.Anonymous = true
	if ps := Validate(&good, anonymous); len(ps) != 1 || !strings.HasPrefix(ps.Error(), "spec.trigger.type: the campaign's survey is anonymous") {
		t.Errorf("a Response trigger on an anonymous campaign: %v", ps)
	}
	silent := good
	silent.Trigger = v1alpha1.Trigger{Type: v1alpha1.TriggerNonResponse, After: "168h"}
	if ps := Validate(&silent, anonymous); len(ps) > 0 {
		t.Errorf("a NonResponse trigger on an anonymous campaign: %v", ps)
	}
}

func TestRegistrationAndStatus(t *testing.T) {
	fu := &v1alpha1.FollowUp{Spec: v1alpha1.FollowUpSpec{Trigger: v1alpha1.Trigger{Type: v1alpha1.TriggerNonResponse, After: "168h"},
		Segments: []string{"routine"}, SLA: &v1alpha1.SLA{ContactWithin: "48h", ResolveWithin: "240h"}}}
	fu.Namespace, fu.Name = "riverside-homes", "silent"
	reg := Registration(fu, "campaign-uid", true)
	if reg.Trigger != "NonResponse" || reg.After != "168h" || reg.ContactWithin != "48h" || reg.ResolveWithin != "240h" || reg.CampaignUID != "campaign-uid" || !reg.Active {
		t.Errorf("registration %+v", reg)
	}
	var st v1alpha1.FollowUpStatus
	Apply(&st, responseapi.CaseStats{Matched: 5, Contacted: 4, Resolved: 2, Overdue: 1, Breaches: 2,
		TimeToContact: responseapi.Percentiles{N: 4, MedianSeconds: 3600, P90Seconds: 7200.4}})
	if st.Matched != 5 || st.Overdue != 1 || st.TimeToContact.Median.Duration != time.Hour || st.TimeToContact.P90.Duration != 2*time.Hour || st.TimeToResolve != nil {
		t.Errorf("status %+v", st)
	}
}
