package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// QuestionKind is the kind of a survey question.
// +kubebuilder:validation:Enum=NPS;CSAT;CES;Rating;Choice;Text
type QuestionKind string

const (
	// QuestionNPS is Net Promoter Score: likelihood to recommend on 0-10.
	QuestionNPS QuestionKind = "NPS"
	// QuestionCSAT is customer satisfaction on 1-5, from very dissatisfied to very satisfied.
	QuestionCSAT QuestionKind = "CSAT"
	// QuestionCES is customer effort on 1-7, from strongly disagree to strongly agree that the
	// organisation made things easy.
	QuestionCES QuestionKind = "CES"
	// QuestionRating is any other rating scale; its scale and labels must be given.
	QuestionRating QuestionKind = "Rating"
	// QuestionChoice picks one of a list of choices.
	QuestionChoice QuestionKind = "Choice"
	// QuestionText is a free-text answer.
	QuestionText QuestionKind = "Text"
)

// SurveyCampaignSpec declares a satisfaction programme: the questionnaire, who is asked and how,
// when, and what counts as good.
// +kubebuilder:validation:XValidation:rule="!has(self.targets) || !has(self.targets.score) || self.survey.questions.exists(q, q.id == self.targets.score.question && q.kind in ['NPS', 'CSAT', 'CES', 'Rating'])",message="spec.targets.score.question must name an NPS, CSAT, CES or Rating question in spec.survey.questions",fieldPath=".targets.score.question"
// +kubebuilder:validation:XValidation:rule="!has(self.benchmarks) || self.benchmarks.all(b, self.survey.questions.exists(q, q.id == b.question && q.kind in ['NPS', 'CSAT', 'CES', 'Rating']))",message="spec.benchmarks[].question must name an NPS, CSAT, CES or Rating question in spec.survey.questions",fieldPath=".benchmarks"
// +kubebuilder:validation:XValidation:rule="self.audience.segments.all(s, s.channels.all(c, self.channels.exists(ch, ch.name == c)))",message="spec.audience.segments[].channels must name channels declared in spec.channels",fieldPath=".audience.segments"
// +kubebuilder:validation:XValidation:rule="self.channels.all(ch, !has(ch.email) || has(self.audience.source.contact.email))",message="an email channel needs spec.audience.source.contact.email, the column holding addresses",fieldPath=".audience.source.contact"
// +kubebuilder:validation:XValidation:rule="self.channels.all(ch, !has(ch.webhook) || (has(ch.webhook.contactField) && ch.webhook.contactField == 'email' ? has(self.audience.source.contact.email) : has(self.audience.source.contact.phone)))",message="a webhook channel needs the contact column it delivers to (spec.audience.source.contact.phone, or .email when contactField is email)",fieldPath=".audience.source.contact"
// +kubebuilder:validation:XValidation:rule="!has(self.retention) || !has(self.retention.invitations) || !has(self.audience.exclude) || !has(self.audience.exclude.contactedWithin) || duration(self.retention.invitations) >= duration(self.audience.exclude.contactedWithin)",message="spec.retention.invitations must be at least spec.audience.exclude.contactedWithin: the ledger is what tells who was contacted recently",fieldPath=".retention.invitations"
// +kubebuilder:validation:XValidation:rule="!has(self.survey.anonymous) || !self.survey.anonymous || !has(self.reporting) || !has(self.reporting.minimumGroupSize) || self.reporting.minimumGroupSize >= 3",message="an anonymous survey needs spec.reporting.minimumGroupSize of at least 3, or a score could be one person's answers",fieldPath=".reporting.minimumGroupSize"
// +kubebuilder:validation:XValidation:rule="!has(self.survey.translations) || !self.channels.exists(c, has(c.email) && has(c.email.subject)) || self.survey.translations.all(t, has(t.emailSubject))",message="spec.survey.translations[].emailSubject: an email channel sets its subject, so every translation must translate it",fieldPath=".survey.translations"
// +kubebuilder:validation:XValidation:rule="!has(self.audience.source.events) || !has(self.schedule) || !has(self.schedule.cron)",message="spec.schedule.cron: a touch-point campaign (spec.audience.source.events) invites as events fall due, not on a schedule",fieldPath=".schedule.cron"
// +kubebuilder:validation:XValidation:rule="!has(self.audience.source.events) || self.audience.segments.all(s, !has(s.sample) || !has(s.sample.count))",message="spec.audience.segments[].sample.count: a touch-point campaign samples each event by percent; a count is a number to ask of a whole list",fieldPath=".audience.segments"
type SurveyCampaignSpec struct {
	// survey is the questionnaire. Each wave keeps a snapshot of it, so editing it later never
	// changes what residents already invited are asked.
	Survey Survey `json:"survey"`

	// audience says who is asked: where the list of people is, how it is split into segments,
	// and who is left out.
	Audience Audience `json:"audience"`

	// channels are the ways of reaching people (email, or a webhook to an SMS, chat or ticket
	// gateway). Segments name the channels they use.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	Channels []Channel `json:"channels"`

	// schedule says when waves start. Without a schedule the campaign runs one wave, at once.
	// +optional
	Schedule *Schedule `json:"schedule,omitempty"`

	// sending tunes the sending Jobs: how many pods send a wave, how many at once, and each
	// pod's resources.
	// +optional
	Sending *Sending `json:"sending,omitempty"`

	// targets say what counts as good: a response rate, a score, a precision. Each wave's
	// status carries a verdict for each target, and the TargetsMet condition sums them up.
	// +optional
	Targets *Targets `json:"targets,omitempty"`

	// benchmarks are figures to compare with, such as a sector median or a peer landlord. A wave
	// is reported above or below a benchmark only when the difference is statistically
	// significant at spec.confidence.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Benchmarks []Benchmark `json:"benchmarks,omitempty"`

	// confidence is the confidence level, in percent, of every margin of error and every
	// significance test of this campaign.
	// +kubebuilder:default="95"
	// +kubebuilder:validation:XValidation:rule="double(self) >= 80.0 && double(self) < 100.0",message="spec.confidence must be at least 80 and below 100 (percent)"
	// +optional
	Confidence Percent `json:"confidence,omitempty"`

	// suspend stops new waves and reminders. A sending Job already running is left to finish.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// reporting says how a wave's results are published.
	// +optional
	Reporting *Reporting `json:"reporting,omitempty"`

	// historyLimit is how many waves are kept in status and how many finished Jobs are kept.
	// +kubebuilder:default=8
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=50
	// +optional
	HistoryLimit *int32 `json:"historyLimit,omitempty"`

	// retention says how long what is known about people (responses, answers, follow-up
	// cases, the invitation ledger) is kept once a wave closes; the response service deletes it
	// then. Unset, it is kept until erased. A wave's figures hold no person and stay (in its
	// report, and as counts in the service) unless keep is Nothing.
	// +optional
	Retention *Retention `json:"retention,omitempty"`
}

// RetentionKeep is what stays of a wave once its responses expired.
// +kubebuilder:validation:Enum=Aggregates;Nothing
type RetentionKeep string

const (
	// KeepAggregates keeps the counts the wave's figures are computed from: no person.
	KeepAggregates RetentionKeep = "Aggregates"
	// KeepNothing deletes the counts too; the wave's report in the cluster is all that stays.
	KeepNothing RetentionKeep = "Nothing"
)

// Retention is how long a campaign keeps its data about people after each wave closes.
// +kubebuilder:validation:XValidation:rule="has(self.responses) || has(self.invitations)",message="spec.retention needs responses, invitations or both"
// +kubebuilder:validation:XValidation:rule="!has(self.responses) || duration(self.responses) >= duration('24h')",message="spec.retention.responses must be at least 24h, so that a wave's final figures are recorded first",fieldPath=".responses"
type Retention struct {
	// responses is how long a wave's responses, their answers (free text included) and the
	// follow-up cases they opened are kept after the wave closes, for example "17520h" (two
	// years, enough to compare a wave with the one a year before). At least 24h.
	// +optional
	Responses Duration `json:"responses,omitempty"`

	// invitations is how long a wave's invitation ledger (who was invited, when, through which
	// channel, and what became of it) is kept after the wave closes. The ledger is what
	// spec.audience.exclude.contactedWithin reads, so keep it at least that long.
	// +optional
	Invitations Duration `json:"invitations,omitempty"`

	// keep is what stays of a wave once its responses expired: Aggregates (the counts its
	// figures come from, which name nobody) or Nothing.
	// +kubebuilder:default=Aggregates
	// +optional
	Keep RetentionKeep `json:"keep,omitempty"`
}

// Survey is the questionnaire.
// +kubebuilder:validation:XValidation:rule="!has(self.translations) || self.translations.all(t, t.language != self.language)",message="spec.survey.translations: a translation cannot be in spec.survey.language",fieldPath=".translations"
// +kubebuilder:validation:XValidation:rule="!has(self.translations) || self.translations.all(t, self.questions.all(q, t.questions.exists(x, x.id == q.id)))",message="spec.survey.translations[].questions: every translation must translate every question",fieldPath=".translations"
// +kubebuilder:validation:XValidation:rule="!has(self.translations) || self.translations.all(t, t.questions.all(x, self.questions.exists(q, q.id == x.id)))",message="spec.survey.translations[].questions: a translation translates a question that spec.survey.questions does not have",fieldPath=".translations"
// +kubebuilder:validation:XValidation:rule="!has(self.translations) || self.translations.all(t, t.questions.all(x, self.questions.exists(q, q.id == x.id && (has(q.choices) ? has(x.choices) && size(x.choices) == size(q.choices) : !has(x.choices)) && (has(q.notApplicable) == has(x.notApplicable)) && (!has(x.labels) || (has(q.scale) && q.scale.max - q.scale.min + 1 == size(x.labels))) && (!has(q.scale) || !has(q.scale.labels) || has(x.labels)))))",message="spec.survey.translations[].questions: a translated question must have as many choices as the question, a notApplicable label exactly when it offers one, and a label for each point when it gives its own labels",fieldPath=".translations"
// +kubebuilder:validation:XValidation:rule="!has(self.translations) || !has(self.intro) || self.translations.all(t, has(t.intro))",message="spec.survey.translations[].intro: every translation must translate the intro",fieldPath=".translations"
// +kubebuilder:validation:XValidation:rule="!has(self.questions[0].showIf)",message="the first question cannot have a showIf (spec.survey.questions[0].showIf): there is no earlier answer to read",fieldPath=".questions"
// +kubebuilder:validation:XValidation:rule="!has(self.primaryQuestion) || self.questions.exists(q, q.id == self.primaryQuestion)",message="spec.survey.primaryQuestion must name a question in spec.survey.questions",fieldPath=".primaryQuestion"
// +kubebuilder:validation:XValidation:rule="!has(self.primaryQuestion) || self.questions.exists(q, q.id == self.primaryQuestion && q.kind in ['NPS', 'CSAT', 'CES', 'Rating'])",message="spec.survey.primaryQuestion must be an NPS, CSAT, CES or Rating question, not Choice or Text",fieldPath=".primaryQuestion"
type Survey struct {
	// title is shown at the top of the survey page and in invitations.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=200
	Title string `json:"title"`

	// intro is a short paragraph shown before the questions: who is asking, why, and how the
	// answers are used.
	// +kubebuilder:validation:MaxLength=2000
	// +optional
	Intro string `json:"intro,omitempty"`

	// questions, in the order they are asked.
	// +listType=map
	// +listMapKey=id
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=50
	Questions []Question `json:"questions"`

	// primaryQuestion is the id of the headline question whose score is shown by
	// `kubectl get` and compared with targets. When omitted, the first NPS, CSAT, CES or
	// Rating question is the primary one.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	PrimaryQuestion string `json:"primaryQuestion,omitempty"`

	// anonymous stores answers with no link to the person who gave them: the invitation ledger
	// still knows who was invited and who responded (for reminders and the response rate), but
	// the answers are kept only as counts, and written answers apart, in random order, with
	// nothing naming their author. So an answer can be neither changed nor erased once sent,
	// no FollowUp may be triggered by answers (a NonResponse one may), the export holds the
	// written answers only, and no score is published for the wave, a segment or a channel
	// until it has spec.reporting.minimumGroupSize responses (at least 3). The page says so.
	// For staff and other small populations, where a score of a handful could be traced back.
	// +optional
	Anonymous bool `json:"anonymous,omitempty"`

	// language is the language this survey is written in, a BCP 47 tag such as "en" (English)
	// or "cy" (Welsh). The page's own words (buttons, notices, problems) are in it too; they ship
	// with the operator for English, Welsh and Arabic, and are in English for other languages.
	// +kubebuilder:default=en
	// +kubebuilder:validation:Pattern=`^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$`
	// +kubebuilder:validation:MaxLength=35
	// +optional
	Language string `json:"language,omitempty"`

	// translations are the survey in other languages, each translating every word a respondent
	// reads: the title, the intro, and each question's text, choices, scale labels and "not
	// applicable" label. A person reads the survey in the language of their link (the
	// audience's language column), else the first of their browser's languages the survey
	// has, else spec.survey.language; the page offers a switch between them that keeps the
	// answers given. Conditions (showIf, a FollowUp's when) compare answers with the choices of
	// spec.survey, whatever language they were given in.
	// +listType=map
	// +listMapKey=language
	// +kubebuilder:validation:MaxItems=8
	// +optional
	Translations []SurveyTranslation `json:"translations,omitempty"`
}

// SurveyTranslation is the survey in one more language.
type SurveyTranslation struct {
	// language of the translation, a BCP 47 tag such as "cy", "ar" or "ur".
	// +kubebuilder:validation:Pattern=`^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$`
	// +kubebuilder:validation:MaxLength=35
	Language string `json:"language"`

	// title, translated.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=200
	Title string `json:"title"`

	// intro, translated (required when spec.survey.intro is set).
	// +kubebuilder:validation:MaxLength=2000
	// +optional
	Intro string `json:"intro,omitempty"`

	// emailSubject is the subject of the invitation and reminder emails in this language, a
	// template like spec.channels[].email.subject (required when an email channel sets one;
	// otherwise the operator's subject, the title, in this language). The emails' own words come
	// in the languages the operator ships.
	// +kubebuilder:validation:MaxLength=300
	// +optional
	EmailSubject string `json:"emailSubject,omitempty"`

	// questions translate every question of spec.survey, by id.
	// +listType=map
	// +listMapKey=id
	// +kubebuilder:validation:MaxItems=50
	Questions []QuestionTranslation `json:"questions"`
}

// QuestionTranslation is one question in another language.
type QuestionTranslation struct {
	// id of the question of spec.survey.questions translated.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	ID string `json:"id"`

	// text of the question, translated.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1000
	Text string `json:"text"`

	// choices, translated, in the same order and as many (required for a Choice question).
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=200
	// +optional
	Choices []string `json:"choices,omitempty"`

	// labels of the scale's points, translated, as many as the question has (required when the
	// question gives its own labels; otherwise the operator's labels of NPS, CSAT and CES are
	// used in the languages it ships, and English in others).
	// +kubebuilder:validation:MaxItems=11
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=100
	// +optional
	Labels []string `json:"labels,omitempty"`

	// notApplicable, translated (required when the question offers it).
	// +kubebuilder:validation:MaxLength=100
	// +optional
	NotApplicable string `json:"notApplicable,omitempty"`
}

// Question is one question of the survey.
// +kubebuilder:validation:XValidation:rule="self.kind == 'Choice' ? has(self.choices) : !has(self.choices)",message="choices are required for a Choice question and not allowed for any other kind",fieldPath=".choices"
// +kubebuilder:validation:XValidation:rule="!(self.kind in ['Choice', 'Text']) || !has(self.scale)",message="a Choice or Text question has no scale",fieldPath=".scale"
// +kubebuilder:validation:XValidation:rule="self.kind != 'Rating' || (has(self.scale) && has(self.scale.labels))",message="a Rating question needs a scale with a label for every point",fieldPath=".scale"
// +kubebuilder:validation:XValidation:rule="self.kind != 'NPS' || !has(self.scale) || (self.scale.min == 0 && self.scale.max == 10)",message="an NPS question is always scored 0 to 10; only its labels may be changed",fieldPath=".scale"
// +kubebuilder:validation:XValidation:rule="self.kind != 'Text' || !has(self.notApplicable)",message="notApplicable is not offered on a Text question",fieldPath=".notApplicable"
// +kubebuilder:validation:XValidation:rule="!has(self.multiple) || !self.multiple || self.kind == 'Choice'",message="multiple is for a Choice question only",fieldPath=".multiple"
// +kubebuilder:validation:XValidation:rule="(!has(self.minSelections) && !has(self.maxSelections)) || (has(self.multiple) && self.multiple)",message="minSelections and maxSelections need multiple: true",fieldPath=".multiple"
// +kubebuilder:validation:XValidation:rule="!has(self.minSelections) || !has(self.maxSelections) || self.minSelections <= self.maxSelections",message="minSelections must not be above maxSelections",fieldPath=".minSelections"
// +kubebuilder:validation:XValidation:rule="!has(self.choices) || ((!has(self.minSelections) || self.minSelections <= size(self.choices)) && (!has(self.maxSelections) || self.maxSelections <= size(self.choices)))",message="minSelections and maxSelections cannot be more than the number of choices",fieldPath=".maxSelections"
// +kubebuilder:validation:XValidation:rule="!has(self.showIf) || !self.showIf.matches('answers([.]' + self.id + '([^a-z0-9_]|$)|[[][\"\\x27]' + self.id + '[\"\\x27][]])')",message="a question's showIf cannot read its own answer; it may read only the questions before it",fieldPath=".showIf"
type Question struct {
	// id identifies the question in responses, reports and CEL expressions (a DNS label, such
	// as "tp01" or "overall").
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	ID string `json:"id"`

	// kind of question. NPS is 0-10 likelihood to recommend; CSAT is 1-5 satisfaction with the
	// standard descriptors; CES is 1-7 customer effort; Rating is any other labelled scale;
	// Choice picks one option; Text is free text.
	Kind QuestionKind `json:"kind"`

	// text of the question as residents see it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=500
	Text string `json:"text"`

	// required questions must be answered before the response can be submitted.
	// +optional
	Required bool `json:"required,omitempty"`

	// scale overrides the kind's standard scale. NPS, CSAT and CES have standard scales
	// (0-10, 1-5 and 1-7, with a descriptor for every point); Rating needs one.
	// +optional
	Scale *Scale `json:"scale,omitempty"`

	// choices of a Choice question, in the order shown.
	// +listType=set
	// +kubebuilder:validation:MinItems=2
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=200
	// +optional
	Choices []string `json:"choices,omitempty"`

	// multiple lets a Choice question take several answers ("tick all that apply"). Its results
	// are the share of the people who answered it who chose each option (the shares add up to
	// more than 100%). required asks for at least one.
	// +optional
	Multiple bool `json:"multiple,omitempty"`

	// minSelections is the fewest choices an answer to a multiple Choice question may tick.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=20
	// +optional
	MinSelections *int32 `json:"minSelections,omitempty"`

	// maxSelections is the most choices an answer to a multiple Choice question may tick.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=20
	// +optional
	MaxSelections *int32 `json:"maxSelections,omitempty"`

	// notApplicable, when set, offers one more answer with this label (for example "Don't know
	// / not applicable"). Such answers are kept but do not count towards the score, as the
	// tenant satisfaction measures require.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=100
	// +optional
	NotApplicable string `json:"notApplicable,omitempty"`

	// showIf asks the question only when this CEL expression over the answers to earlier
	// questions is true, for example `answers.repair == "Yes"` (a scale's answer is a number, a
	// Choice's the choice's text, a Text question's the text; write answers["first-visit"] for
	// an id with a hyphen). A question not asked is not missing: it counts in no score and no
	// denominator, and never makes a response partial, however required it is. A condition that
	// cannot be evaluated (it reads a question left unanswered) is false. On the page the
	// question appears as soon as the answers call for it, or, without JavaScript, when the
	// person sends the answers before it. The API server refuses a showIf on the first
	// question or one that reads its own answer; the manager compiles every showIf and reports
	// one that reads a later or unknown question, or does not give true or false, as Stalled
	// with the field, and starts no wave until it is fixed.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=500
	// +optional
	ShowIf string `json:"showIf,omitempty"`
}

// Scale is a rating scale whose every point has a descriptor.
// +kubebuilder:validation:XValidation:rule="self.max > self.min",message="scale.max must be greater than scale.min"
// +kubebuilder:validation:XValidation:rule="!has(self.labels) || size(self.labels) == self.max - self.min + 1",message="scale.labels must have exactly one label per point, max - min + 1 of them",fieldPath=".labels"
// +kubebuilder:validation:XValidation:rule="!has(self.positive) || self.positive < self.max - self.min + 1",message="scale.positive must be smaller than the number of points on the scale",fieldPath=".positive"
type Scale struct {
	// min is the lowest point (0 or 1).
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1
	Min int32 `json:"min"`

	// max is the highest, most favourable point (at most 10).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10
	Max int32 `json:"max"`

	// labels are the descriptors of the points from min to max, one per point, for example
	// "Very dissatisfied" ... "Very satisfied".
	// +kubebuilder:validation:MaxItems=11
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=80
	// +optional
	Labels []string `json:"labels,omitempty"`

	// positive is how many of the top points count as satisfied (top-box): 2 on a 5-point
	// scale counts "fairly" and "very satisfied". When omitted, half the points rounded down.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10
	// +optional
	Positive *int32 `json:"positive,omitempty"`
}

// AudienceFormat is the file format of an audience list.
// +kubebuilder:validation:Enum=CSV;JSONLines
type AudienceFormat string

const (
	// AudienceCSV is comma-separated values with a header row.
	AudienceCSV AudienceFormat = "CSV"
	// AudienceJSONLines is one JSON object per line.
	AudienceJSONLines AudienceFormat = "JSONLines"
)

// Audience says who is asked.
type Audience struct {
	// source is where the list of people is kept.
	Source AudienceSource `json:"source"`

	// segments split the audience into groups, each reached by its own channels. A person
	// belongs to the first segment whose match is true; people in no segment are not asked.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=20
	Segments []Segment `json:"segments"`

	// exclude leaves people out of a wave.
	// +optional
	Exclude *Exclusions `json:"exclude,omitempty"`
}

// AudienceSource is where the audience list is kept: one key of a Secret or ConfigMap (up to
// about 15,000 people: Kubernetes refuses objects over 1 MiB), an object in S3-compatible
// object storage, or a file on a PersistentVolumeClaim (any size).
// +kubebuilder:validation:XValidation:rule="[has(self.secretRef), has(self.configMapRef), has(self.objectStore), has(self.volume), has(self.events)].filter(x, x).size() == 1",message="exactly one of spec.audience.source.secretRef, configMapRef, objectStore, volume and events must be set"
// +kubebuilder:validation:XValidation:rule="!has(self.events) || !has(self.events.attributes) || self.events.attributes.all(a, a != self.idField && (!has(self.contact.email) || a != self.contact.email) && (!has(self.contact.phone) || a != self.contact.phone) && (!has(self.language) || a != self.language))",message="spec.audience.source.events.attributes cannot name the id, contact or language fields: results are broken down by attributes, and must not show who someone is",fieldPath=".events.attributes"
type AudienceSource struct {
	// secretRef names the Secret key holding the list. Use a Secret: the list is personal data.
	// +optional
	SecretRef *KeySelector `json:"secretRef,omitempty"`

	// configMapRef names the ConfigMap key holding the list, for lists without personal data
	// (for example synthetic test audiences).
	// +optional
	ConfigMapRef *KeySelector `json:"configMapRef,omitempty"`

	// objectStore reads the list from an object in S3-compatible object storage (AWS S3,
	// MinIO, Ceph RGW, Cloudflare R2), where a housing management system's or CRM's nightly
	// export lands. A key ending in .gz is read through gzip. The manager only checks that
	// the object exists (a HEAD request) and pins its version when a wave starts; the sending
	// Job reads it, and every round of the wave reads the same version.
	// +optional
	ObjectStore *ObjectStoreSource `json:"objectStore,omitempty"`

	// volume reads the list from a file on a PersistentVolumeClaim, mounted read-only into
	// the sending Job. A path ending in .gz is read through gzip.
	// +optional
	Volume *VolumeSource `json:"volume,omitempty"`

	// events makes this a touch-point campaign: instead of a list asked on a schedule, each
	// person comes in a CloudEvents event (a repair completed, a complaint closed) posted to
	// the response service, and is invited once the event falls due. The event's data is read
	// as one line of a list: idField, contact and language name its fields, and segments
	// match on them. It cannot be combined with spec.schedule.cron; see docs/touchpoints.md.
	// +optional
	Events *EventsSource `json:"events,omitempty"`

	// format of the list: CSV with a header row, or JSON Lines.
	// +kubebuilder:default=CSV
	// +optional
	Format AudienceFormat `json:"format,omitempty"`

	// idField is the column holding each person's stable key, such as a tenancy reference. It
	// identifies people in the ledger, opt-outs and responses; it is never shown in status.
	// +kubebuilder:default=id
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
	// +optional
	IDField string `json:"idField,omitempty"`

	// contact names the columns holding contact details.
	Contact ContactColumns `json:"contact"`

	// language is the column holding each person's language (a BCP 47 tag such as "cy", or
	// "en-GB"), when the list has one: their link opens the survey in it when the survey has
	// it (spec.survey.translations); otherwise, and without the column, their browser's
	// language decides.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
	// +optional
	Language string `json:"language,omitempty"`
}

// ObjectStoreSource is an object in S3-compatible object storage, addressed as Flux's Bucket
// source addresses it.
type ObjectStoreSource struct {
	// endpoint is the storage's host and optional port, without a scheme: for example
	// "s3.eu-west-2.amazonaws.com", "minio.storage.svc:9000" or
	// "<account>.r2.cloudflarestorage.com".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9]([-.A-Za-z0-9]*[A-Za-z0-9])?(:[0-9]{1,5})?$`
	Endpoint string `json:"endpoint"`

	// bucket holding the object.
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9][-.a-z0-9]*[a-z0-9]$`
	Bucket string `json:"bucket"`

	// key of the object in the bucket, for example "exports/tenants.csv.gz".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('/') && !self.contains('//')",message="spec.audience.source.objectStore.key must not start with / or hold //"
	Key string `json:"key"`

	// region of the bucket, for example "eu-west-2"; "us-east-1" when omitted ("auto" for R2).
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9-]*$`
	// +optional
	Region string `json:"region,omitempty"`

	// secretRef names a Secret with the access key pair, in the keys "accesskey" and
	// "secretkey" (as Flux's Bucket source). Give the key read-only access to this one
	// object or its prefix.
	SecretRef LocalObjectReference `json:"secretRef"`

	// caSecretRef names a Secret whose "ca.crt" key holds the CA bundle that signs the
	// endpoint's certificate, for storage with a private CA.
	// +optional
	CASecretRef *LocalObjectReference `json:"caSecretRef,omitempty"`

	// insecure reaches the endpoint over plain HTTP. Only for storage inside the cluster:
	// the access keys and the list would cross the network unencrypted.
	// +optional
	Insecure bool `json:"insecure,omitempty"`

	// addressing chooses how the bucket is named in requests: Path
	// (https://endpoint/bucket/key; MinIO, Ceph RGW and most storage inside a cluster),
	// VirtualHost (https://bucket.endpoint/key; AWS S3's preferred form, and R2), or Auto,
	// which uses virtual hosts for AWS and Google endpoints and paths elsewhere.
	// +kubebuilder:validation:Enum=Auto;Path;VirtualHost
	// +kubebuilder:default=Auto
	// +optional
	Addressing BucketAddressing `json:"addressing,omitempty"`
}

// EventsSource is the touch-point events that feed a campaign, and when each invites.
// +kubebuilder:validation:XValidation:rule="self.types.all(t, self.types.exists_one(u, u.type == t.type && has(u.source) == has(t.source) && (!has(u.source) || u.source == t.source)))",message="spec.audience.source.events.types: each type and source may be named once",fieldPath=".types"
// +kubebuilder:validation:XValidation:rule="duration(self.maxAge) > duration(self.delay)",message="spec.audience.source.events.maxAge must be longer than delay, or no event would ever invite",fieldPath=".maxAge"
// +kubebuilder:validation:XValidation:rule="duration(self.maxAge) <= duration('720h')",message="spec.audience.source.events.maxAge is at most 720h: the response service keeps an event 30 days",fieldPath=".maxAge"
type EventsSource struct {
	// types are the events this campaign takes: a CloudEvents type, such as
	// "uk.org.riverside.repair.completed", optionally from one source only. Events of types
	// no campaign of the namespace takes are acknowledged and not kept.
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	Types []EventTypeSelector `json:"types"`

	// delay is how long after the touch point (the event's time, or when it arrived if it
	// has none) its person is invited, for example "2h" after a repair is completed. Quiet
	// hours (spec.schedule.quietHours) defer it further.
	// +kubebuilder:default="0s"
	// +optional
	Delay Duration `json:"delay,omitempty"`

	// maxAge is the oldest an event may be when it falls due and still invite: a backlog
	// replayed late, or held by quiet hours or an outage, does not ask people about a touch
	// point they have forgotten. At most 720h.
	// +kubebuilder:default="72h"
	// +optional
	MaxAge Duration `json:"maxAge,omitempty"`

	// attributes are the event's data fields the results are broken down by, such as
	// repairType and contractor (never the id, contact or language fields).
	// +listType=set
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
	// +optional
	Attributes []string `json:"attributes,omitempty"`
}

// EventTypeSelector is one type of touch-point event, optionally from one source.
type EventTypeSelector struct {
	// type is the CloudEvents type attribute, matched exactly.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[!-~]+$`
	Type string `json:"type"`

	// source is the CloudEvents source attribute, matched exactly; any source when omitted.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[!-~]+$`
	// +optional
	Source string `json:"source,omitempty"`
}

// Sending tunes a wave's sending Job.
type Sending struct {
	// shards is how many pods send a wave (an Indexed Job; each sends the people whose key
	// hashes to its index, and every pod reads the whole list first). When omitted: one per
	// 5,000 lines of a Secret or ConfigMap list; one per 500 kB of an object in object
	// storage (about 5,000 lines of 100 bytes); 1 for a volume, whose size the manager
	// cannot see. At most 16 by default.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=64
	// +optional
	Shards *int32 `json:"shards,omitempty"`

	// parallelism is how many of the shards send at once (4 when omitted). A channel's rate
	// limit is shared by the pods that send at once.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=64
	// +optional
	Parallelism *int32 `json:"parallelism,omitempty"`

	// resources of each sending pod (default: requests of 50m CPU and 64Mi memory, a limit of
	// 256Mi; the sender streams the list in flat memory, about 32 MiB at a million lines).
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
}

// BucketAddressing is how a bucket is named in object storage requests.
type BucketAddressing string

const (
	BucketAddressingAuto        BucketAddressing = "Auto"
	BucketAddressingPath        BucketAddressing = "Path"
	BucketAddressingVirtualHost BucketAddressing = "VirtualHost"
)

// VolumeSource is a file on a PersistentVolumeClaim in the campaign's namespace.
type VolumeSource struct {
	// claimName is the PersistentVolumeClaim's name. The claim's access mode must let the
	// sending pods mount it (ReadOnlyMany or ReadWriteMany for a sharded wave whose pods may
	// run on several nodes).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	ClaimName string `json:"claimName"`

	// path of the file in the volume, relative, for example "exports/tenants.csv".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('/') && !self.split('/').exists(p, p == '..')",message="spec.audience.source.volume.path must be relative, without '..'"
	Path string `json:"path"`
}

// AudienceVersion identifies one version of an audience list.
type AudienceVersion struct {
	// etag of the object in object storage.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	ETag string `json:"etag,omitempty"`

	// versionID of the object, where the bucket versions objects.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	VersionID string `json:"versionID,omitempty"`

	// size of the object or file, in bytes.
	// +optional
	Size int64 `json:"size,omitempty"`

	// modified is when the object or file was last modified.
	// +optional
	Modified *metav1.Time `json:"modified,omitempty"`
}

// ContactColumns names the audience columns holding contact details.
// +kubebuilder:validation:XValidation:rule="has(self.email) || has(self.phone)",message="spec.audience.source.contact needs at least one of email and phone"
type ContactColumns struct {
	// email is the column holding email addresses.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
	// +optional
	Email string `json:"email,omitempty"`

	// phone is the column holding mobile numbers in E.164 form.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
	// +optional
	Phone string `json:"phone,omitempty"`
}

// Segment is a group of the audience with its own listening method.
type Segment struct {
	// name of the segment, as reported in status (a DNS label).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// match is a CEL expression over attrs, a map of the person's columns as strings, such as
	// `attrs.tenure == "general-needs" && int(attrs.age) >= 65`. When omitted, everyone not
	// matched by an earlier segment belongs here.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Match string `json:"match,omitempty"`

	// channels reach this segment, in order of preference: a person with no contact for the
	// first channel is reached by the next.
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=4
	// +kubebuilder:validation:items:MaxLength=63
	Channels []string `json:"channels"`

	// sample asks only part of the segment, chosen at random but reproducibly for each wave.
	// When omitted everyone in the segment is asked (a census).
	// +optional
	Sample *Sample `json:"sample,omitempty"`
}

// Sample is the part of a segment asked in a wave.
// +kubebuilder:validation:XValidation:rule="has(self.percent) != has(self.count)",message="exactly one of sample.percent and sample.count must be set"
type Sample struct {
	// percent of the segment to ask, 1 to 100.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +optional
	Percent *int32 `json:"percent,omitempty"`

	// count of people to ask from the segment (everyone when the segment is smaller).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000000
	// +optional
	Count *int32 `json:"count,omitempty"`
}

// Exclusions leave people out of a wave.
type Exclusions struct {
	// contactedWithin leaves out anyone invited by this campaign's namespace within this
	// duration, to avoid survey fatigue, for example "2160h" (90 days). People who opted out are
	// always left out.
	// +optional
	ContactedWithin Duration `json:"contactedWithin,omitempty"`
}

// Channel is one way of reaching people.
// +kubebuilder:validation:XValidation:rule="has(self.email) != has(self.webhook)",message="a channel must have exactly one of email and webhook"
type Channel struct {
	// name of the channel, used by segments and follow-ups (a DNS label such as "email" or
	// "sms").
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// email sends through an SMTP server.
	// +optional
	Email *EmailChannel `json:"email,omitempty"`

	// webhook sends through an HTTP gateway (SMS, chat, ticketing).
	// +optional
	Webhook *WebhookChannel `json:"webhook,omitempty"`

	// rateLimit caps how fast this channel sends: the channel's whole rate, shared by the
	// pods of a sharded wave that send at once (each gets perSecond and burst divided by
	// their number, and a burst of at least 1).
	// +optional
	RateLimit *RateLimit `json:"rateLimit,omitempty"`
}

// SMTPTLS is how the SMTP connection is protected.
// +kubebuilder:validation:Enum=StartTLS;TLS;None
type SMTPTLS string

const (
	// SMTPStartTLS upgrades a plain connection with STARTTLS and refuses servers without it.
	SMTPStartTLS SMTPTLS = "StartTLS"
	// SMTPImplicitTLS connects with TLS from the start (usually port 465).
	SMTPImplicitTLS SMTPTLS = "TLS"
	// SMTPNoTLS sends in clear text: only for a relay inside the cluster.
	SMTPNoTLS SMTPTLS = "None"
)

// EmailChannel sends invitations by email.
type EmailChannel struct {
	// smtp is the server that relays the mail.
	SMTP SMTPSettings `json:"smtp"`

	// from is the sender, for example `Riverside Homes <listening@riverside.example>`.
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=254
	// +kubebuilder:validation:Pattern=`^[^@\s<>]+@[^@\s<>]+$|^[^<>]*<[^@\s<>]+@[^@\s<>]+>$`
	From string `json:"from"`

	// subject of the invitation. When empty, the survey title.
	// +kubebuilder:validation:MaxLength=200
	// +optional
	Subject string `json:"subject,omitempty"`
}

// SMTPSettings say how to reach the SMTP server.
type SMTPSettings struct {
	// host name of the SMTP server.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$`
	Host string `json:"host"`

	// port of the SMTP server: 587 for submission with STARTTLS, 465 for implicit TLS.
	// +kubebuilder:default=587
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	Port int32 `json:"port,omitempty"`

	// tls is how the connection is protected: StartTLS, TLS (implicit) or None.
	// +kubebuilder:default=StartTLS
	// +optional
	TLS SMTPTLS `json:"tls,omitempty"`

	// credentialsSecretRef names a Secret with the keys "username" and "password" for SMTP
	// AUTH. When omitted the sender does not authenticate.
	// +optional
	CredentialsSecretRef *LocalObjectReference `json:"credentialsSecretRef,omitempty"`
}

// RateLimit caps the sending rate of a channel.
type RateLimit struct {
	// perSecond is the sustained number of messages per second.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	PerSecond int32 `json:"perSecond"`

	// burst is how many messages may go at once after a pause. When omitted, perSecond.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	// +optional
	Burst *int32 `json:"burst,omitempty"`
}

// Schedule says when waves start and how long they collect answers.
// +kubebuilder:validation:XValidation:rule="!has(self.reminders) || self.reminders.all(r, duration(r) < duration(self.responseWindow))",message="every spec.schedule.reminders offset must be shorter than spec.schedule.responseWindow",fieldPath=".reminders"
// +kubebuilder:validation:XValidation:rule="!has(self.reminders) || (self.reminders.map(r, duration(r)).isSorted() && self.reminders.all(r, self.reminders.exists_one(x, duration(x) == duration(r))))",message="spec.schedule.reminders must be strictly increasing",fieldPath=".reminders"
type Schedule struct {
	// cron is when waves start, in timeZone: five fields (minute hour day-of-month month
	// day-of-week) or one of @yearly, @quarterly, @monthly, @weekly, @daily. For example
	// "0 9 1 1,4,7,10 *" is 09:00 on the first day of each quarter. When omitted the campaign
	// runs one wave, at once, with this window, reminders and quiet hours.
	// +kubebuilder:validation:MaxLength=100
	// +kubebuilder:validation:Pattern=`^(@(yearly|annually|quarterly|monthly|weekly|daily)|\S+\s+\S+\s+\S+\s+\S+\s+\S+)$`
	// +optional
	Cron string `json:"cron,omitempty"`

	// timeZone is the IANA time zone of cron and quietHours, such as "Europe/London".
	// +kubebuilder:default=UTC
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$`
	// +optional
	TimeZone string `json:"timeZone,omitempty"`

	// startingDeadline is how late a missed wave may still start (for example after the
	// operator was down). A wave later than this is skipped and reported; at most one missed
	// wave is ever caught up. When omitted, a missed wave starts however late, within one
	// schedule period.
	// +optional
	StartingDeadline Duration `json:"startingDeadline,omitempty"`

	// responseWindow is how long a wave collects answers; links expire at its end.
	// +kubebuilder:default="336h"
	// +optional
	ResponseWindow Duration `json:"responseWindow,omitempty"`

	// reminders are offsets from the start of a wave at which people who have not answered are
	// reminded, strictly increasing, each shorter than responseWindow. For example ["72h",
	// "168h"]. A touch-point campaign's wave is a day of invitations: its reminders count from
	// the end of that day.
	// +kubebuilder:validation:MaxItems=5
	// +optional
	Reminders []Duration `json:"reminders,omitempty"`

	// quietHours is a daily period, in timeZone, in which nothing is sent; sends due then wait
	// for its end.
	// +optional
	QuietHours *QuietHours `json:"quietHours,omitempty"`
}

// QuietHours is a daily period without sending. It may cross midnight ("20:00" to "08:00").
// +kubebuilder:validation:XValidation:rule="self.start != self.end",message="quietHours.start and quietHours.end must differ"
type QuietHours struct {
	// start of the quiet period, HH:MM on a 24-hour clock.
	// +kubebuilder:validation:Pattern=`^([01][0-9]|2[0-3]):[0-5][0-9]$`
	// +kubebuilder:validation:MaxLength=5
	Start string `json:"start"`

	// end of the quiet period, HH:MM on a 24-hour clock.
	// +kubebuilder:validation:Pattern=`^([01][0-9]|2[0-3]):[0-5][0-9]$`
	// +kubebuilder:validation:MaxLength=5
	End string `json:"end"`
}

// Targets say what counts as good for each wave.
type Targets struct {
	// responseRate is the response rate to reach, in percent (AAPOR RR2: complete and partial
	// responses over eligible invitations).
	// +optional
	ResponseRate Percent `json:"responseRate,omitempty"`

	// score is the score a question must reach.
	// +optional
	Score *ScoreTarget `json:"score,omitempty"`

	// marginOfError is the widest acceptable margin of error of the primary score, in
	// percentage points (NPS points for NPS) at spec.confidence, for example "4".
	// +kubebuilder:validation:XValidation:rule="double(self) > 0.0 && double(self) <= 50.0",message="spec.targets.marginOfError must be above 0 and at most 50 percentage points"
	// +optional
	MarginOfError Decimal `json:"marginOfError,omitempty"`
}

// ScoreTarget is a minimum score of one question.
// +kubebuilder:validation:XValidation:rule="double(self.min) >= -100.0 && double(self.min) <= 100.0",message="spec.targets.score.min must be between -100 and 100",fieldPath=".min"
type ScoreTarget struct {
	// question is the id of an NPS, CSAT, CES or Rating question.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Question string `json:"question"`

	// min is the lowest acceptable score: NPS points (-100 to 100) for NPS, percent satisfied
	// (top-box, 0 to 100) for the other kinds.
	Min Decimal `json:"min"`
}

// Benchmark is an outside figure to compare a question's score with.
// +kubebuilder:validation:XValidation:rule="double(self.value) >= -100.0 && double(self.value) <= 100.0",message="benchmark value must be between -100 and 100",fieldPath=".value"
type Benchmark struct {
	// name of the benchmark, for example "sector-median-2025".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// question is the id of the question compared, an NPS, CSAT, CES or Rating question.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Question string `json:"question"`

	// value in the question's score units: NPS points for NPS, percent satisfied otherwise.
	Value Decimal `json:"value"`

	// marginOfError of the benchmark itself, in the same units, when it was estimated from a
	// sample. When omitted the benchmark is taken as exact.
	// +optional
	MarginOfError Decimal `json:"marginOfError,omitempty"`

	// source says where the figure comes from, for readers of the report.
	// +kubebuilder:validation:MaxLength=200
	// +optional
	Source string `json:"source,omitempty"`
}

// WavePhase is the stage of a wave.
// +kubebuilder:validation:Enum=Pending;Sending;Collecting;Closed;Failed
type WavePhase string

const (
	// WavePending is a wave whose Job has not started sending.
	WavePending WavePhase = "Pending"
	// WaveSending is a wave whose Job is sending invitations.
	WaveSending WavePhase = "Sending"
	// WaveCollecting is a wave whose invitations are out and whose window is open.
	WaveCollecting WavePhase = "Collecting"
	// WaveClosed is a wave whose window has ended; its figures are final.
	WaveClosed WavePhase = "Closed"
	// WaveFailed is a wave whose sending Job failed.
	WaveFailed WavePhase = "Failed"
)

// Verdict is the outcome of a target or benchmark comparison.
// +kubebuilder:validation:Enum=Met;NotMet;Unknown;Above;Below;NotSignificant
type Verdict string

const (
	// VerdictMet means the target is reached.
	VerdictMet Verdict = "Met"
	// VerdictNotMet means the target is missed.
	VerdictNotMet Verdict = "NotMet"
	// VerdictUnknown means there is not enough data yet.
	VerdictUnknown Verdict = "Unknown"
	// VerdictAbove means significantly above the benchmark.
	VerdictAbove Verdict = "Above"
	// VerdictBelow means significantly below the benchmark.
	VerdictBelow Verdict = "Below"
	// VerdictNotSignificant means the difference from the benchmark is within the noise.
	VerdictNotSignificant Verdict = "NotSignificant"
)

// SurveyCampaignStatus is what the operator observed. It holds counts, rates and scores only,
// never personal data.
type SurveyCampaignStatus struct {
	// observedGeneration is the generation of the spec this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready (the campaign is valid and its waves run), Reconciling (the operator is
	// still acting on the latest spec or a wave is sending), Stalled (it cannot make progress
	// without a change, such as a broken spec), and TargetsMet (the latest wave with results
	// meets every target).
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// lastWaveTime is when the most recent wave started.
	// +optional
	LastWaveTime *metav1.Time `json:"lastWaveTime,omitempty"`

	// nextWaveTime is when the next wave is due.
	// +optional
	NextWaveTime *metav1.Time `json:"nextWaveTime,omitempty"`

	// lastHandledRequestedAt is the value of the surveys.surveyops.io/requestedAt annotation
	// that last started a wave, so that the same value never starts a second one.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	LastHandledRequestedAt string `json:"lastHandledRequestedAt,omitempty"`

	// summaryWave is the wave that responseRate, score and the TargetsMet condition describe:
	// the latest wave with responses, or, before any wave has one, the latest with invitations.
	// A new wave that has sent but not yet heard back does not blank the figures of the last.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	SummaryWave string `json:"summaryWave,omitempty"`

	// responseRate of summaryWave, in percent, for `kubectl get`.
	// +optional
	ResponseRate Percent `json:"responseRate,omitempty"`

	// score of the primary question in summaryWave, with its margin of error, for `kubectl
	// get`, for example "+32 ±4.1" or "78.5% ±3.2"; "n=3, too few" while the question has
	// fewer answers than spec.reporting.minimumGroupSize.
	// +kubebuilder:validation:MaxLength=32
	// +optional
	Score string `json:"score,omitempty"`

	// suspendedAt is when the operator first saw spec.suspend set; empty while the campaign
	// runs. Suspending and resuming are recorded as Events too.
	// +optional
	SuspendedAt *metav1.Time `json:"suspendedAt,omitempty"`

	// waves, newest first, at most spec.historyLimit of them.
	// +kubebuilder:validation:MaxItems=50
	// +optional
	Waves []WaveStatus `json:"waves,omitempty"`
}

// WaveStatus is the state and results of one wave.
type WaveStatus struct {
	// id of the wave, derived from its scheduled time, such as "20260401-0900".
	// +kubebuilder:validation:MaxLength=63
	ID string `json:"id"`

	// scheduledTime is when the wave was due.
	ScheduledTime metav1.Time `json:"scheduledTime"`

	// phase of the wave: Pending, Sending, Collecting, Closed or Failed.
	Phase WavePhase `json:"phase"`

	// jobName is the sending Job of the wave.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	JobName string `json:"jobName,omitempty"`

	// closeTime is when the response window ends (or ended).
	// +optional
	CloseTime *metav1.Time `json:"closeTime,omitempty"`

	// remindersSent is how many reminder rounds have been sent.
	// +optional
	RemindersSent int32 `json:"remindersSent,omitempty"`

	// audienceVersion is the version of the list the wave reads, pinned when it started
	// (object storage and volume sources): every shard, rerun and reminder round reads
	// exactly it, and a list changed mid-wave stops the wave rather than being read anew.
	// +optional
	AudienceVersion *AudienceVersion `json:"audienceVersion,omitempty"`

	// invited is how many invitations the wave recorded.
	// +optional
	Invited int64 `json:"invited,omitempty"`

	// delivered is how many invitations the channels accepted.
	// +optional
	Delivered int64 `json:"delivered,omitempty"`

	// failed is how many invitations could not be delivered (bounces, gateway refusals).
	// +optional
	Failed int64 `json:"failed,omitempty"`

	// optedOut is how many people were left out, or opted out, because they asked not to be
	// contacted.
	// +optional
	OptedOut int64 `json:"optedOut,omitempty"`

	// responded is how many people answered (complete or partial).
	// +optional
	Responded int64 `json:"responded,omitempty"`

	// responseRate in percent (AAPOR RR2).
	// +optional
	ResponseRate Percent `json:"responseRate,omitempty"`

	// scores of the scored questions.
	// +kubebuilder:validation:MaxItems=50
	// +optional
	Scores []QuestionScore `json:"scores,omitempty"`

	// segments break the primary figures down by segment.
	// +kubebuilder:validation:MaxItems=20
	// +optional
	Segments []Breakdown `json:"segments,omitempty"`

	// channels break the primary figures down by channel.
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Channels []Breakdown `json:"channels,omitempty"`

	// drivers are the questions most associated with the primary score (correlation with it),
	// strongest first.
	// +kubebuilder:validation:MaxItems=50
	// +optional
	Drivers []Driver `json:"drivers,omitempty"`

	// targets are the verdicts on spec.targets.
	// +kubebuilder:validation:MaxItems=8
	// +optional
	Targets []TargetVerdict `json:"targets,omitempty"`

	// benchmarks compare the wave with spec.benchmarks.
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Benchmarks []BenchmarkComparison `json:"benchmarks,omitempty"`

	// trend compares each scored question with the previous closed wave.
	// +kubebuilder:validation:MaxItems=50
	// +optional
	Trend []TrendComparison `json:"trend,omitempty"`

	// representativeness compares the responses' mix across segments with the population's,
	// once the senders have counted the segments' populations.
	// +optional
	Representativeness *Representativeness `json:"representativeness,omitempty"`

	// message explains a failure, from the sender's summary. It never contains personal data.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Message string `json:"message,omitempty"`
}

// QuestionScore is the score of one question with its precision.
type QuestionScore struct {
	// question id.
	// +kubebuilder:validation:MaxLength=63
	Question string `json:"question"`

	// value: NPS points for NPS, percent satisfied (top-box) for CSAT, CES and Rating. Empty
	// while the question has fewer answers over the wave than spec.reporting.minimumGroupSize
	// (and never fewer than 2): then only n is published, since a score of one answer, with a
	// margin of zero, is not a measurement.
	// +optional
	Value Decimal `json:"value,omitempty"`

	// mean of the answers in scale units, for CSAT, CES and Rating.
	// +optional
	Mean Decimal `json:"mean,omitempty"`

	// n is the number of answers that counted (skipped and not-applicable answers do not).
	N int64 `json:"n"`

	// marginOfError of value at spec.confidence, with the finite population correction.
	// +optional
	MarginOfError Decimal `json:"marginOfError,omitempty"`

	// unweighted is the score of all the answers pooled, shown beside value when value is
	// weighted by segment (post-stratified on the segments' populations), so that the effect of
	// the weighting can be seen.
	// +optional
	Unweighted Decimal `json:"unweighted,omitempty"`

	// effectiveN is the number of answers a simple random sample would need for the weighted
	// score's precision (Kish); present when value is weighted.
	// +optional
	EffectiveN int64 `json:"effectiveN,omitempty"`
}

// TrendComparison is the change of one question's score since the previous closed wave.
type TrendComparison struct {
	// question id.
	// +kubebuilder:validation:MaxLength=63
	Question string `json:"question"`

	// previousWave is the id of the wave compared with.
	// +kubebuilder:validation:MaxLength=63
	PreviousWave string `json:"previousWave"`

	// change is this wave's score less the previous wave's, in the score's units.
	Change Decimal `json:"change"`

	// verdict: Above or Below when the change is significant at the campaign's confidence
	// (the two waves' margins taken as independent), NotSignificant otherwise, Unknown when a
	// margin is missing.
	Verdict Verdict `json:"verdict"`
}

// Reporting says how results are published.
type Reporting struct {
	// minimumGroupSize: a segment or channel with fewer responses than this shows its counts
	// only, never a score, so that the answers of a small group cannot be singled out (5 when
	// unset; 0 turns it off).
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	// +optional
	MinimumGroupSize *int32 `json:"minimumGroupSize,omitempty"`
}

// PValue is a probability in plain or scientific notation: "0.012", "1.000", "8.3e-155".
// +kubebuilder:validation:Pattern=`^[01](\.[0-9]{1,6})?(e-[0-9]{1,3})?$|^[1-9]\.[0-9]e-[0-9]{1,3}$`
// +kubebuilder:validation:MaxLength=12
type PValue string

// Representativeness is a chi-square goodness of fit of the responses per segment against the
// segments' shares of the population.
type Representativeness struct {
	// chiSquare statistic (shown up to 999999).
	ChiSquare Decimal `json:"chiSquare"`

	// degreesOfFreedom: the segments with a population, less one.
	// +kubebuilder:validation:Minimum=0
	DegreesOfFreedom int32 `json:"degreesOfFreedom"`

	// pValue is the chance of a mix at least this far from the population's if the responses
	// came from the segments in proportion.
	PValue PValue `json:"pValue"`

	// representative is false when pValue is below 0.05: the responses' mix differs from the
	// population's more than chance explains (the weighted scores correct for it; say so when
	// publishing).
	Representative bool `json:"representative"`
}

// Breakdown is the figures of one segment or channel.
type Breakdown struct {
	// name of the segment or channel.
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`

	// population of a segment: the people it matched in the audience before sampling, as the
	// sender counted them. A segment's margins of error are worked out on it (when it is not
	// known yet, on the number invited).
	// +optional
	Population int64 `json:"population,omitempty"`

	// invited in this group.
	// +optional
	Invited int64 `json:"invited,omitempty"`

	// responded in this group.
	// +optional
	Responded int64 `json:"responded,omitempty"`

	// responseRate of this group in percent.
	// +optional
	ResponseRate Percent `json:"responseRate,omitempty"`

	// populationShare and responseShare of a segment, in percent: its share of the population
	// and of the responses, for representativeness.
	// +optional
	PopulationShare Percent `json:"populationShare,omitempty"`
	// +optional
	ResponseShare Percent `json:"responseShare,omitempty"`

	// score of the primary question in this group.
	// +optional
	Score *QuestionScore `json:"score,omitempty"`

	// scores of the other scored questions in a segment (not a channel), each with its margin
	// of error on the segment's population; none while the segment has fewer responses than
	// spec.reporting.minimumGroupSize. Only the newest wave keeps them.
	// +kubebuilder:validation:MaxItems=50
	// +optional
	Scores []QuestionScore `json:"scores,omitempty"`
}

// Driver is the association of one question with the primary question.
type Driver struct {
	// question id.
	// +kubebuilder:validation:MaxLength=63
	Question string `json:"question"`

	// correlation (Pearson) with the primary question, from -1 to 1.
	Correlation Decimal `json:"correlation"`

	// n is the number of responses that answered both questions.
	N int64 `json:"n"`
}

// TargetVerdict is the verdict on one target.
type TargetVerdict struct {
	// target is responseRate, score or marginOfError.
	// +kubebuilder:validation:Enum=responseRate;score;marginOfError
	Target string `json:"target"`

	// verdict: Met, NotMet, or Unknown while there is not enough data.
	Verdict Verdict `json:"verdict"`

	// actual value compared with the target.
	// +optional
	Actual Decimal `json:"actual,omitempty"`
}

// BenchmarkComparison compares a wave's score with a benchmark.
type BenchmarkComparison struct {
	// name of the benchmark.
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`

	// difference of the wave's score from the benchmark, in score units.
	// +optional
	Difference Decimal `json:"difference,omitempty"`

	// verdict: Above or Below only when the difference is significant at spec.confidence,
	// NotSignificant otherwise, Unknown without data.
	Verdict Verdict `json:"verdict"`
}

// SurveyCampaign is a satisfaction programme declared as code: who is asked, how, when, and
// what counts as good.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=camp,categories=surveys
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule.cron`
// +kubebuilder:printcolumn:name="Next Wave",type=string,JSONPath=`.status.nextWaveTime`
// +kubebuilder:printcolumn:name="Response Rate",type=string,JSONPath=`.status.responseRate`
// +kubebuilder:printcolumn:name="Score",type=string,JSONPath=`.status.score`
// +kubebuilder:printcolumn:name="Wave",type=string,JSONPath=`.status.summaryWave`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type SurveyCampaign struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec declares the programme.
	Spec SurveyCampaignSpec `json:"spec"`

	// status is what the operator observed.
	// +optional
	Status SurveyCampaignStatus `json:"status,omitempty"`
}

// SurveyCampaignList is a list of SurveyCampaigns.
// +kubebuilder:object:root=true
type SurveyCampaignList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SurveyCampaign `json:"items"`
}
