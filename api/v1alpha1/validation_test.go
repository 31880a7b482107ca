package v1alpha1_test

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/surveyops/survey-operator/internal/testenv"
)

// invalid is one object the apiserver must refuse: a JSON merge patch (written as YAML) on a
// minimal valid object, and what the error must say: the field, and the gist of the message.
type invalid struct {
	followUp bool
	patch    string
	field    string
	message  string
}

func (c invalid) object(name string) *unstructured.Unstructured {
	base := minimalCampaign(name)
	if c.followUp {
		base = minimalFollowUp(name)
	}
	patch, err := yaml.YAMLToJSON([]byte(c.patch))
	Expect(err).NotTo(HaveOccurred())
	doc, err := json.Marshal(base.Object)
	Expect(err).NotTo(HaveOccurred())
	merged, err := jsonpatch.MergePatch(doc, patch)
	Expect(err).NotTo(HaveOccurred())
	obj := &unstructured.Unstructured{}
	Expect(json.Unmarshal(merged, &obj.Object)).To(Succeed())
	return obj
}

var invalidObjects = []TableEntry{
	// The questionnaire.
	Entry("a question id that is not a DNS label", invalid{
		patch: `spec: {survey: {questions: [{id: Over_All, kind: CSAT, text: Q}]}}`,
		field: "spec.survey.questions[0].id", message: "should match"}),
	Entry("two questions with the same id", invalid{
		patch: `spec: {survey: {questions: [{id: overall, kind: CSAT, text: Q}, {id: overall, kind: NPS, text: R}]}}`,
		field: "spec.survey.questions[1]", message: "Duplicate value"}),
	Entry("an unknown question kind", invalid{
		patch: `spec: {survey: {questions: [{id: overall, kind: Stars, text: Q}]}}`,
		field: "spec.survey.questions[0].kind", message: "Unsupported value"}),
	Entry("no questions", invalid{
		patch: `spec: {survey: {questions: []}}`,
		field: "spec.survey.questions", message: "at least 1"}),
	Entry("a title over 200 characters", invalid{
		patch: `spec: {survey: {title: ` + strings.Repeat("x", 201) + `}}`,
		field: "spec.survey.title", message: "Too long"}),
	Entry("a primaryQuestion that names no question", invalid{
		patch: `spec: {survey: {primaryQuestion: nps}}`,
		field: "spec.survey.primaryQuestion", message: "must name a question"}),
	Entry("a Text question as primaryQuestion", invalid{
		patch: `spec: {survey: {primaryQuestion: why, questions: [{id: overall, kind: CSAT, text: Q}, {id: why, kind: Text, text: "Why?"}]}}`,
		field: "spec.survey.primaryQuestion", message: "not Choice or Text"}),
	Entry("scale labels that do not match the scale's width", invalid{
		patch: `spec: {survey: {questions: [{id: overall, kind: Rating, text: Q, scale: {min: 1, max: 5, labels: [a, b, c, d]}}]}}`,
		field: "spec.survey.questions[0].scale.labels", message: "one label per point"}),
	Entry("a scale whose max is not above its min", invalid{
		patch: `spec: {survey: {questions: [{id: overall, kind: Rating, text: Q, scale: {min: 1, max: 1, labels: [a]}}]}}`,
		field: "spec.survey.questions[0].scale", message: "greater than scale.min"}),
	Entry("a scale min of 2", invalid{
		patch: `spec: {survey: {questions: [{id: overall, kind: Rating, text: Q, scale: {min: 2, max: 5, labels: [a, b, c, d]}}]}}`,
		field: "spec.survey.questions[0].scale.min", message: "less than or equal to 1"}),
	Entry("a positive count as wide as the scale", invalid{
		patch: `spec: {survey: {questions: [{id: overall, kind: CSAT, text: Q, scale: {min: 1, max: 5, positive: 5}}]}}`,
		field: "spec.survey.questions[0].scale.positive", message: "smaller than the number of points"}),
	Entry("an NPS question on a 1-10 scale", invalid{
		patch: `spec: {survey: {questions: [{id: overall, kind: NPS, text: Q, scale: {min: 1, max: 10}}]}}`,
		field: "spec.survey.questions[0].scale", message: "always scored 0 to 10"}),
	Entry("a Rating question without labels", invalid{
		patch: `spec: {survey: {questions: [{id: overall, kind: Rating, text: Q}]}}`,
		field: "spec.survey.questions[0].scale", message: "label for every point"}),
	Entry("a Choice question without choices", invalid{
		patch: `spec: {survey: {questions: [{id: overall, kind: Choice, text: Q}]}}`,
		field: "spec.survey.questions[0].choices", message: "required for a Choice question"}),
	Entry("choices on a CSAT question", invalid{
		patch: `spec: {survey: {questions: [{id: overall, kind: CSAT, text: Q, choices: [a, b]}]}}`,
		field: "spec.survey.questions[0].choices", message: "not allowed for any other kind"}),
	Entry("the same choice twice", invalid{
		patch: `spec: {survey: {questions: [{id: overall, kind: Choice, text: Q, choices: ["Yes", "Yes"]}]}}`,
		field: "spec.survey.questions[0].choices[1]", message: "Duplicate value"}),
	Entry("a scale on a Text question", invalid{
		patch: `spec: {survey: {questions: [{id: overall, kind: Text, text: Q, scale: {min: 1, max: 5}}]}}`,
		field: "spec.survey.questions[0].scale", message: "no scale"}),

	// The audience.
	Entry("both a Secret and a ConfigMap as the audience source", invalid{
		patch: `spec: {audience: {source: {configMapRef: {name: residents, key: residents.csv}}}}`,
		field: "spec.audience.source", message: "exactly one of spec.audience.source.secretRef"}),
	Entry("a Secret and an object store as the audience source", invalid{
		patch: `spec: {audience: {source: {objectStore: {endpoint: minio.storage.svc, bucket: exports, key: tenants.csv, secretRef: {name: reader}}}}}`,
		field: "spec.audience.source", message: "exactly one of spec.audience.source.secretRef, configMapRef, objectStore, volume and events"}),
	Entry("no audience source at all", invalid{
		patch: `spec: {audience: {source: {secretRef: null}}}`,
		field: "spec.audience.source", message: "exactly one of"}),
	Entry("an object store endpoint with a scheme", invalid{
		patch: `spec: {audience: {source: {secretRef: null, objectStore: {endpoint: "https://minio.storage.svc", bucket: exports, key: tenants.csv, secretRef: {name: reader}}}}}`,
		field: "spec.audience.source.objectStore.endpoint", message: "should match"}),
	Entry("an object key that starts with a slash", invalid{
		patch: `spec: {audience: {source: {secretRef: null, objectStore: {endpoint: minio.storage.svc, bucket: exports, key: /tenants.csv, secretRef: {name: reader}}}}}`,
		field: "spec.audience.source.objectStore.key", message: "must not start with /"}),
	Entry("an object store without credentials", invalid{
		patch: `spec: {audience: {source: {secretRef: null, objectStore: {endpoint: minio.storage.svc, bucket: exports, key: tenants.csv}}}}`,
		field: "spec.audience.source.objectStore.secretRef", message: "Required value"}),
	Entry("a volume path that climbs out of the volume", invalid{
		patch: `spec: {audience: {source: {secretRef: null, volume: {claimName: exports, path: "nightly/../../etc/passwd"}}}}`,
		field: "spec.audience.source.volume.path", message: "must be relative, without '..'"}),
	// A touch-point campaign's events.
	Entry("events and a Secret as the audience source", invalid{
		patch: `spec: {audience: {source: {events: {types: [{type: repair.completed}]}}}}`,
		field: "spec.audience.source", message: "exactly one of"}),
	Entry("events without a type", invalid{
		patch: `spec: {audience: {source: {secretRef: null, events: {types: []}}}}`,
		field: "spec.audience.source.events.types", message: "at least 1"}),
	Entry("an event type with a space", invalid{
		patch: `spec: {audience: {source: {secretRef: null, events: {types: [{type: "repair completed"}]}}}}`,
		field: "spec.audience.source.events.types[0].type", message: "should match"}),
	Entry("the same event type twice", invalid{
		patch: `spec: {audience: {source: {secretRef: null, events: {types: [{type: repair.completed}, {type: repair.completed}]}}}}`,
		field: "spec.audience.source.events.types", message: "each type and source may be named once"}),
	Entry("a maxAge no longer than the delay", invalid{
		patch: `spec: {audience: {source: {secretRef: null, events: {types: [{type: repair.completed}], delay: 72h}}}}`,
		field: "spec.audience.source.events.maxAge", message: "must be longer than delay"}),
	Entry("a maxAge past the 30 days events are kept", invalid{
		patch: `spec: {audience: {source: {secretRef: null, events: {types: [{type: repair.completed}], maxAge: 1000h}}}}`,
		field: "spec.audience.source.events.maxAge", message: "at most 720h"}),
	Entry("an attribute that is the contact field", invalid{
		patch: `spec: {audience: {source: {secretRef: null, events: {types: [{type: repair.completed}], attributes: [contractor, email]}}}}`,
		field: "spec.audience.source.events.attributes", message: "cannot name the id, contact or language fields"}),
	Entry("a touch-point campaign on a cron", invalid{
		patch: `spec: {audience: {source: {secretRef: null, events: {types: [{type: repair.completed}]}}}, schedule: {cron: "@monthly"}}`,
		field: "spec.schedule.cron", message: "invites as events fall due, not on a schedule"}),
	Entry("a touch-point campaign sampling a count", invalid{
		patch: `spec: {audience: {source: {secretRef: null, events: {types: [{type: repair.completed}]}}, segments: [{name: everyone, channels: [email], sample: {count: 100}}]}}`,
		field: "spec.audience.segments", message: "samples each event by percent"}),
	Entry("a sending Job of 100 shards", invalid{
		patch: `spec: {sending: {shards: 100}}`,
		field: "spec.sending.shards", message: "less than or equal to 64"}),
	Entry("an audience without contact columns", invalid{
		patch: `spec: {audience: {source: {contact: {email: null, phone: null}}}}`,
		field: "spec.audience.source.contact", message: "at least one of email and phone"}),
	Entry("an unknown audience format", invalid{
		patch: `spec: {audience: {source: {format: XLSX}}}`,
		field: "spec.audience.source.format", message: "Unsupported value"}),
	Entry("an idField that is not a column name", invalid{
		patch: `spec: {audience: {source: {idField: "tenancy ref"}}}`,
		field: "spec.audience.source.idField", message: "should match"}),
	Entry("a segment using a channel that is not declared", invalid{
		patch: `spec: {audience: {segments: [{name: everyone, channels: [whatsapp]}]}}`,
		field: "spec.audience.segments", message: "must name channels declared in spec.channels"}),
	Entry("a segment sampled by both percent and count", invalid{
		patch: `spec: {audience: {segments: [{name: everyone, channels: [email], sample: {percent: 50, count: 100}}]}}`,
		field: "spec.audience.segments[0].sample", message: "exactly one of sample.percent and sample.count"}),
	Entry("a sample of 0 percent", invalid{
		patch: `spec: {audience: {segments: [{name: everyone, channels: [email], sample: {percent: 0}}]}}`,
		field: "spec.audience.segments[0].sample.percent", message: "greater than or equal to 1"}),
	Entry("a sample of 150 percent", invalid{
		patch: `spec: {audience: {segments: [{name: everyone, channels: [email], sample: {percent: 150}}]}}`,
		field: "spec.audience.segments[0].sample.percent", message: "less than or equal to 100"}),
	Entry("two segments with the same name", invalid{
		patch: `spec: {audience: {segments: [{name: everyone, channels: [email]}, {name: everyone, channels: [sms]}]}}`,
		field: "spec.audience.segments[1]", message: "Duplicate value"}),
	Entry("more than 20 segments", invalid{
		patch: `spec: {audience: {segments: [` + manySegments(21) + `]}}`,
		field: "spec.audience.segments", message: "must have at most 20 items"}),
	Entry("a contactedWithin in days", invalid{
		patch: `spec: {audience: {exclude: {contactedWithin: 90d}}}`,
		field: "spec.audience.exclude.contactedWithin", message: "should match"}),

	// The channels.
	Entry("a channel with both email and webhook", invalid{
		patch: `spec: {channels: [{name: email, email: {smtp: {host: smtp.example.org}, from: a@example.org}, webhook: {url: "https://sms.example.org/send"}}]}`,
		field: "spec.channels[0]", message: "exactly one of email and webhook"}),
	Entry("a channel with neither email nor webhook", invalid{
		patch: `spec: {channels: [{name: email}]}`,
		field: "spec.channels[0]", message: "exactly one of email and webhook"}),
	Entry("a webhook over plain http to the internet", invalid{
		patch: `spec: {channels: [{name: email, email: {smtp: {host: smtp.example.org}, from: a@example.org}}, {name: sms, webhook: {url: "http://sms.example.org/send"}}]}`,
		field: "spec.channels[1].webhook.url", message: "must use https"}),
	Entry("a webhook url that is not a URL", invalid{
		patch: `spec: {channels: [{name: email, email: {smtp: {host: smtp.example.org}, from: a@example.org}}, {name: sms, webhook: {url: "sms gateway"}}]}`,
		field: "spec.channels[1].webhook.url", message: "absolute URL"}),
	Entry("an unknown SMTP TLS mode", invalid{
		patch: `spec: {channels: [{name: email, email: {smtp: {host: smtp.example.org, tls: SSL}, from: a@example.org}}]}`,
		field: "spec.channels[0].email.smtp.tls", message: "Unsupported value"}),
	Entry("an SMTP port out of range", invalid{
		patch: `spec: {channels: [{name: email, email: {smtp: {host: smtp.example.org, port: 70000}, from: a@example.org}}]}`,
		field: "spec.channels[0].email.smtp.port", message: "less than or equal to 65535"}),
	Entry("a from address that is not an address", invalid{
		patch: `spec: {channels: [{name: email, email: {smtp: {host: smtp.example.org}, from: "Riverside Homes"}}]}`,
		field: "spec.channels[0].email.from", message: "should match"}),
	Entry("an email channel without an email column", invalid{
		patch: `spec: {audience: {source: {contact: {email: null}}}}`,
		field: "spec.audience.source.contact", message: "an email channel needs spec.audience.source.contact.email"}),
	Entry("an SMS webhook without a phone column", invalid{
		patch: `spec: {audience: {source: {contact: {phone: null}}}}`,
		field: "spec.audience.source.contact", message: "a webhook channel needs the contact column"}),
	Entry("a rate limit of zero", invalid{
		patch: `spec: {channels: [{name: email, email: {smtp: {host: smtp.example.org}, from: a@example.org}, rateLimit: {perSecond: 0}}]}`,
		field: "spec.channels[0].rateLimit.perSecond", message: "greater than or equal to 1"}),

	// The schedule.
	Entry("a cron with six fields", invalid{
		patch: `spec: {schedule: {cron: "0 0 9 1 1,4,7,10 *"}}`,
		field: "spec.schedule.cron", message: "should match"}),
	Entry("an unsupported cron shorthand", invalid{
		patch: `spec: {schedule: {cron: "@hourly"}}`,
		field: "spec.schedule.cron", message: "should match"}),
	Entry("a time zone with a space", invalid{
		patch: `spec: {schedule: {cron: "@monthly", timeZone: "Europe London"}}`,
		field: "spec.schedule.timeZone", message: "should match"}),
	Entry("a response window in days", invalid{
		patch: `spec: {schedule: {responseWindow: 14d}}`,
		field: "spec.schedule.responseWindow", message: "should match"}),
	Entry("reminders out of order", invalid{
		patch: `spec: {schedule: {reminders: [168h, 72h]}}`,
		field: "spec.schedule.reminders", message: "strictly increasing"}),
	Entry("the same reminder twice", invalid{
		patch: `spec: {schedule: {reminders: [72h, 4320m]}}`,
		field: "spec.schedule.reminders", message: "strictly increasing"}),
	Entry("a reminder after the response window", invalid{
		patch: `spec: {schedule: {responseWindow: 168h, reminders: [72h, 168h]}}`,
		field: "spec.schedule.reminders", message: "shorter than spec.schedule.responseWindow"}),
	Entry("quiet hours at 25:00", invalid{
		patch: `spec: {schedule: {quietHours: {start: "25:00", end: "08:00"}}}`,
		field: "spec.schedule.quietHours.start", message: "should match"}),
	Entry("quiet hours that start when they end", invalid{
		patch: `spec: {schedule: {quietHours: {start: "20:00", end: "20:00"}}}`,
		field: "spec.schedule.quietHours", message: "must differ"}),

	// Targets, benchmarks and the rest.
	Entry("a score target on a question that does not exist", invalid{
		patch: `spec: {targets: {score: {question: nps, min: "30"}}}`,
		field: "spec.targets.score.question", message: "must name an NPS, CSAT, CES or Rating question"}),
	Entry("a response rate target of 120 percent", invalid{
		patch: `spec: {targets: {responseRate: "120"}}`,
		field: "spec.targets.responseRate", message: "should match"}),
	Entry("a margin of error target of zero", invalid{
		patch: `spec: {targets: {marginOfError: "0"}}`,
		field: "spec.targets.marginOfError", message: "above 0"}),
	Entry("a score target that is not a number", invalid{
		patch: `spec: {targets: {score: {question: overall, min: "high"}}}`,
		field: "spec.targets.score.min", message: "should match"}),
	Entry("a benchmark on a question that does not exist", invalid{
		patch: `spec: {benchmarks: [{name: sector, question: tp01, value: "71.3"}]}`,
		field: "spec.benchmarks", message: "must name an NPS, CSAT, CES or Rating question"}),
	Entry("a benchmark of 250", invalid{
		patch: `spec: {benchmarks: [{name: sector, question: overall, value: "250"}]}`,
		field: "spec.benchmarks[0].value", message: "between -100 and 100"}),
	Entry("a confidence level of 50 percent", invalid{
		patch: `spec: {confidence: "50"}`,
		field: "spec.confidence", message: "at least 80"}),
	Entry("a history limit of 51", invalid{
		patch: `spec: {historyLimit: 51}`,
		field: "spec.historyLimit", message: "less than or equal to 50"}),
	Entry("multiple on a CSAT question", invalid{
		patch: `spec: {survey: {questions: [{id: overall, kind: CSAT, text: Q, multiple: true}]}}`,
		field: "spec.survey.questions[0].multiple", message: "multiple is for a Choice question only"}),
	Entry("maxSelections on a single choice", invalid{
		patch: `spec: {survey: {questions: [{id: overall, kind: CSAT, text: Q}, {id: topics, kind: Choice, text: T, choices: [a, b, c], maxSelections: 2}]}}`,
		field: "spec.survey.questions[1].multiple", message: "need multiple: true"}),
	Entry("minSelections above maxSelections", invalid{
		patch: `spec: {survey: {questions: [{id: overall, kind: CSAT, text: Q}, {id: topics, kind: Choice, text: T, choices: [a, b, c], multiple: true, minSelections: 3, maxSelections: 2}]}}`,
		field: "spec.survey.questions[1].minSelections", message: "must not be above maxSelections"}),
	Entry("more selections than choices", invalid{
		patch: `spec: {survey: {questions: [{id: overall, kind: CSAT, text: Q}, {id: topics, kind: Choice, text: T, choices: [a, b, c], multiple: true, maxSelections: 4}]}}`,
		field: "spec.survey.questions[1].maxSelections", message: "cannot be more than the number of choices"}),
	Entry("a translation missing a question", invalid{
		patch: `spec: {survey: {questions: [{id: overall, kind: CSAT, text: Q}, {id: why, kind: Text, text: W}], translations: [{language: cy, title: T, questions: [{id: overall, text: C}]}]}}`,
		field: "spec.survey.translations", message: "every translation must translate every question"}),
	Entry("a translation with one choice fewer", invalid{
		patch: `spec: {survey: {questions: [{id: overall, kind: CSAT, text: Q}, {id: visit, kind: Choice, text: V, choices: ["Yes", "No"]}], translations: [{language: cy, title: T, questions: [{id: overall, text: C}, {id: visit, text: D, choices: ["Ydy"]}]}]}}`,
		field: "spec.survey.translations", message: "as many choices as the question"}),
	Entry("a translation in the survey's own language", invalid{
		patch: `spec: {survey: {language: cy, translations: [{language: cy, title: T, questions: [{id: overall, text: C}]}]}}`,
		field: "spec.survey.translations", message: "cannot be in spec.survey.language"}),
	Entry("a translation without the intro", invalid{
		patch: `spec: {survey: {intro: Hello, translations: [{language: cy, title: T, questions: [{id: overall, text: C}]}]}}`,
		field: "spec.survey.translations", message: "every translation must translate the intro"}),
	Entry("a translation of a question that does not exist", invalid{
		patch: `spec: {survey: {translations: [{language: cy, title: T, questions: [{id: overall, text: C}, {id: ghost, text: G}]}]}}`,
		field: "spec.survey.translations", message: "translates a question that spec.survey.questions does not have"}),
	Entry("an email subject left untranslated", invalid{
		patch: `spec: {channels: [{name: email, email: {smtp: {host: smtp.example}, from: a@example.org, subject: "Your views"}}], survey: {translations: [{language: cy, title: T, questions: [{id: overall, text: C}]}]}}`,
		field: "spec.survey.translations", message: "every translation must translate it"}),
	Entry("a language that is not a BCP 47 tag", invalid{
		patch: `spec: {survey: {translations: [{language: Welsh!, title: T, questions: [{id: overall, text: C}]}]}}`,
		field: "spec.survey.translations[0].language", message: "should match"}),
	Entry("a showIf on the first question", invalid{
		patch: `spec: {survey: {questions: [{id: overall, kind: CSAT, text: Q, showIf: 'answers.repair == "Yes"'}, {id: repair, kind: Choice, text: R, choices: ["Yes", "No"]}]}}`,
		field: "spec.survey.questions", message: "the first question cannot have a showIf"}),
	Entry("a showIf reading its own answer", invalid{
		patch: `spec: {survey: {questions: [{id: repair, kind: Choice, text: R, choices: ["Yes", "No"]}, {id: tp02, kind: CSAT, text: Q, showIf: 'answers["tp02"] > 2'}]}}`,
		field: "spec.survey.questions[1].showIf", message: "cannot read its own answer"}),
	Entry("a retention with nothing to keep for a time", invalid{
		patch: `spec: {retention: {keep: Nothing}}`,
		field: "spec.retention", message: "needs responses, invitations or both"}),
	Entry("responses kept for an hour", invalid{
		patch: `spec: {retention: {responses: 1h}}`,
		field: "spec.retention.responses", message: "at least 24h"}),
	Entry("responses kept for a year in days", invalid{
		patch: `spec: {retention: {responses: 365d}}`,
		field: "spec.retention.responses", message: "should match"}),
	Entry("a retention keeping everything", invalid{
		patch: `spec: {retention: {responses: 8760h, keep: Everything}}`,
		field: "spec.retention.keep", message: "Unsupported value"}),
	Entry("a ledger kept less long than contactedWithin reads it", invalid{
		patch: `spec: {retention: {invitations: 720h}, audience: {exclude: {contactedWithin: 2160h}}}`,
		field: "spec.retention.invitations", message: "at least spec.audience.exclude.contactedWithin"}),
	Entry("an anonymous survey reporting groups of two", invalid{
		patch: `spec: {survey: {anonymous: true}, reporting: {minimumGroupSize: 2}}`,
		field: "spec.reporting.minimumGroupSize", message: "anonymous survey needs"}),
	Entry("an unknown field", invalid{
		patch: `spec: {schedul: {cron: "@monthly"}}`,
		field: "spec.schedul", message: "unknown field"}),

	// FollowUp.
	Entry("a FollowUp NonResponse trigger without a delay", invalid{followUp: true,
		patch: `spec: {trigger: {type: NonResponse, when: null}}`,
		field: "spec.trigger.after", message: "required for a NonResponse trigger"}),
	Entry("a FollowUp NonResponse trigger with a when", invalid{followUp: true,
		patch: `spec: {trigger: {type: NonResponse, after: 120h}}`,
		field: "spec.trigger.when", message: "not allowed for a NonResponse trigger"}),
	Entry("a FollowUp with an unknown trigger type", invalid{followUp: true,
		patch: `spec: {trigger: {type: Complaint}}`,
		field: "spec.trigger.type", message: "Unsupported value"}),
	Entry("a FollowUp that must resolve before it contacts", invalid{followUp: true,
		patch: `spec: {sla: {contactWithin: 72h, resolveWithin: 48h}}`,
		field: "spec.sla.resolveWithin", message: "must not be shorter than spec.sla.contactWithin"}),
	Entry("a FollowUp with an empty SLA", invalid{followUp: true,
		patch: `spec: {sla: {contactWithin: null, resolveWithin: null}}`,
		field: "spec.sla", message: "needs contactWithin, resolveWithin or both"}),
	Entry("a FollowUp without channels", invalid{followUp: true,
		patch: `spec: {channels: []}`,
		field: "spec.channels", message: "at least 1"}),
	Entry("a FollowUp without a message body", invalid{followUp: true,
		patch: `spec: {message: {body: null, subject: Sorry}}`,
		field: "spec.message.body", message: "Required value"}),
	Entry("a FollowUp without a campaign", invalid{followUp: true,
		patch: `spec: {campaignRef: null}`,
		field: "spec.campaignRef", message: "Required value"}),
}

func manySegments(n int) string {
	var parts []string
	for i := range n {
		parts = append(parts, fmt.Sprintf("{name: s%d, channels: [email]}", i))
	}
	return strings.Join(parts, ", ")
}

var _ = Describe("An invalid object", func() {
	It("is not an invalid base: the minimal objects are accepted", func() {
		for _, obj := range []*unstructured.Unstructured{minimalCampaign("valid"), minimalFollowUp("valid")} {
			Expect(k8sClient.Create(ctx, obj, client.DryRunAll, client.FieldValidation("Strict"))).To(Succeed())
		}
	})

	It("is not what the other audience sources are: an object store, a volume and events are accepted", func() {
		for _, patch := range []string{
			`spec: {audience: {source: {secretRef: null, objectStore: {endpoint: "minio.storage.svc:9000", bucket: exports, key: housing/tenants.csv.gz, region: eu-west-2, secretRef: {name: reader}, caSecretRef: {name: storage-ca}, addressing: Path}}}, sending: {shards: 8, parallelism: 2, resources: {limits: {memory: 128Mi}}}}`,
			`spec: {audience: {source: {secretRef: null, volume: {claimName: exports, path: nightly/tenants.csv}}}}`,
			`spec: {audience: {source: {secretRef: null, idField: tenancy, events: {types: [{type: uk.org.riverside.repair.completed, source: "https://repairs.riverside.example/jobs"}, {type: uk.org.riverside.repair.completed}], delay: 2h, maxAge: 72h, attributes: [repairType, contractor]}}, segments: [{name: everyone, channels: [email], sample: {percent: 50}}]}, schedule: {timeZone: Europe/London, quietHours: {start: "20:00", end: "08:00"}, responseWindow: 168h, reminders: [72h]}}`,
		} {
			obj := invalid{patch: patch}.object("valid-source")
			Expect(k8sClient.Create(ctx, obj, client.DryRunAll, client.FieldValidation("Strict"))).To(Succeed(), patch)
		}
	})

	DescribeTable("is refused by the apiserver, naming the field",
		func(c invalid) {
			obj := c.object("invalid")
			err := k8sClient.Create(ctx, obj, client.DryRunAll, client.FieldValidation("Strict"))
			Expect(err).To(HaveOccurred(), "accepted: %s", toJSON(obj.Object["spec"]))
			Expect(err.Error()).To(ContainSubstring(c.field))
			Expect(err.Error()).To(ContainSubstring(c.message))
		},
		invalidObjects,
	)

	DescribeTable("is refused by kubectl apply --dry-run=server, naming the field",
		func(c invalid) {
			data, err := yaml.Marshal(c.object("invalid").Object)
			Expect(err).NotTo(HaveOccurred())
			cmd := exec.Command(testenv.Kubectl(env), "--kubeconfig", kubeconfig, "apply", "--dry-run=server", "-f", "-")
			cmd.Stdin = strings.NewReader(string(data))
			out, err := cmd.CombinedOutput()
			Expect(err).To(HaveOccurred(), "kubectl accepted it: %s", out)
			GinkgoWriter.Println(strings.TrimSpace(string(out)))
			Expect(string(out)).To(ContainSubstring(c.field))
			Expect(string(out)).To(ContainSubstring(c.message))
		},
		invalidObjects,
	)
})
