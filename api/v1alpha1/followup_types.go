package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TriggerType says what opens a follow-up case.
// +kubebuilder:validation:Enum=Response;NonResponse
type TriggerType string

const (
	// TriggerResponse opens a case for a response that matches trigger.when.
	TriggerResponse TriggerType = "Response"
	// TriggerNonResponse opens a case for an invitation still unanswered trigger.after it was
	// sent.
	TriggerNonResponse TriggerType = "NonResponse"
)

// FollowUpSpec declares who is followed up after a campaign's waves, how, and how fast.
// +kubebuilder:validation:XValidation:rule="!has(self.sla) || !has(self.sla.contactWithin) || !has(self.sla.resolveWithin) || duration(self.sla.contactWithin) <= duration(self.sla.resolveWithin)",message="spec.sla.resolveWithin must not be shorter than spec.sla.contactWithin",fieldPath=".sla.resolveWithin"
type FollowUpSpec struct {
	// campaignRef names the SurveyCampaign, in the same namespace, whose responses and
	// invitations are followed up.
	CampaignRef LocalObjectReference `json:"campaignRef"`

	// trigger says what opens a case.
	Trigger Trigger `json:"trigger"`

	// segments limit the follow-up to these segments of the campaign. When omitted, all.
	// +listType=set
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:MaxLength=63
	// +optional
	Segments []string `json:"segments,omitempty"`

	// channels of the campaign used to contact people, in order of preference.
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=4
	// +kubebuilder:validation:items:MaxLength=63
	Channels []string `json:"channels"`

	// message sent to each person followed up.
	Message Message `json:"message"`

	// ticket opens a case in the organisation's CRM or helpdesk for each match, through a
	// signed webhook that is idempotent by case id.
	// +optional
	Ticket *Ticket `json:"ticket,omitempty"`

	// sla is the service standard: how fast people must be contacted and their matter resolved.
	// +optional
	SLA *SLA `json:"sla,omitempty"`

	// suspend stops new contacts; cases keep being matched and tracked.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// Trigger says what opens a follow-up case.
// +kubebuilder:validation:XValidation:rule="self.type != 'NonResponse' || has(self.after)",message="spec.trigger.after is required for a NonResponse trigger: how long after the invitation a non-responder is followed up",fieldPath=".after"
// +kubebuilder:validation:XValidation:rule="self.type != 'NonResponse' || !has(self.when)",message="spec.trigger.when applies to responses and is not allowed for a NonResponse trigger",fieldPath=".when"
type Trigger struct {
	// type is Response (a response matching when) or NonResponse (no answer after a delay).
	Type TriggerType `json:"type"`

	// when is a CEL expression over response: response.answers (a map from question id to the
	// answer, a number for scales and a string for Choice and Text), response.segment and
	// response.channel. For example `response.answers.overall <= 6` follows up NPS detractors.
	// When omitted every response matches.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	When string `json:"when,omitempty"`

	// after delays the contact: for Response, after the response; for NonResponse, after the
	// invitation.
	// +optional
	After Duration `json:"after,omitempty"`
}

// Message is the text sent to a person followed up. It carries a personal link where the person
// can say whether the matter is resolved.
type Message struct {
	// subject for email channels.
	// +kubebuilder:validation:MaxLength=200
	// +optional
	Subject string `json:"subject,omitempty"`

	// body of the message, a Go text/template that can use .Link, .OptOutLink, .Title and
	// .Campaign. Keep it short for SMS.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=8000
	Body string `json:"body"`

	// translations are the message in the campaign's other languages: one for each of its
	// spec.survey.translations (the manager reports a missing one, naming it, as Stalled). A
	// person whose language the campaign has (its audience's language column) gets the message
	// in it.
	// +listType=map
	// +listMapKey=language
	// +kubebuilder:validation:MaxItems=8
	// +optional
	Translations []MessageTranslation `json:"translations,omitempty"`
}

// MessageTranslation is a follow-up message in another language.
type MessageTranslation struct {
	// language of the translation, as in the campaign's spec.survey.translations.
	// +kubebuilder:validation:Pattern=`^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$`
	// +kubebuilder:validation:MaxLength=35
	Language string `json:"language"`

	// subject, translated (required when subject is set).
	// +kubebuilder:validation:MaxLength=200
	// +optional
	Subject string `json:"subject,omitempty"`

	// body, translated: a template like body.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=8000
	Body string `json:"body"`
}

// Ticket opens a case in a CRM or helpdesk.
type Ticket struct {
	// webhook the case is POSTed to, signed like a channel's webhook.
	Webhook WebhookChannel `json:"webhook"`
}

// SLA is the service standard of a follow-up.
// +kubebuilder:validation:XValidation:rule="has(self.contactWithin) || has(self.resolveWithin)",message="spec.sla needs contactWithin, resolveWithin or both"
type SLA struct {
	// contactWithin is how soon after a case opens the person must be contacted, for example
	// "48h".
	// +optional
	ContactWithin Duration `json:"contactWithin,omitempty"`

	// resolveWithin is how soon after a case opens it must be resolved, for example "336h".
	// +optional
	ResolveWithin Duration `json:"resolveWithin,omitempty"`
}

// DurationStats summarise how long something took.
type DurationStats struct {
	// median duration.
	// +optional
	Median *metav1.Duration `json:"median,omitempty"`

	// p90 is the 90th percentile.
	// +optional
	P90 *metav1.Duration `json:"p90,omitempty"`
}

// FollowUpStatus is what the operator observed: counts and times only, never personal data.
type FollowUpStatus struct {
	// observedGeneration is the generation of the spec this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready, Reconciling, Stalled, and SLABreached (cases are past their due time).
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// matched is how many cases were opened.
	// +optional
	Matched int64 `json:"matched,omitempty"`

	// contacted is how many cases had the person contacted.
	// +optional
	Contacted int64 `json:"contacted,omitempty"`

	// resolved is how many cases were resolved.
	// +optional
	Resolved int64 `json:"resolved,omitempty"`

	// overdue is how many open cases are past their contact or resolution due time.
	// +optional
	Overdue int64 `json:"overdue,omitempty"`

	// contactJobs is how many contact Jobs the operator has started for this FollowUp; the
	// next is named "<name>-contact-<contactJobs+1>".
	// +optional
	ContactJobs int32 `json:"contactJobs,omitempty"`

	// lastContactTime is when the latest contact Job started.
	// +optional
	LastContactTime *metav1.Time `json:"lastContactTime,omitempty"`

	// breaches is how many cases missed the service standard, ever.
	// +optional
	Breaches int64 `json:"breaches,omitempty"`

	// timeToContact is how long cases took from opening to contact.
	// +optional
	TimeToContact *DurationStats `json:"timeToContact,omitempty"`

	// timeToResolve is how long cases took from opening to resolution.
	// +optional
	TimeToResolve *DurationStats `json:"timeToResolve,omitempty"`
}

// FollowUp closes the loop: it contacts the dissatisfied or the silent after a campaign's waves
// and tracks each case against a service standard.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=fu,categories=surveys
// +kubebuilder:printcolumn:name="Campaign",type=string,JSONPath=`.spec.campaignRef.name`
// +kubebuilder:printcolumn:name="Trigger",type=string,JSONPath=`.spec.trigger.type`
// +kubebuilder:printcolumn:name="Matched",type=integer,JSONPath=`.status.matched`
// +kubebuilder:printcolumn:name="Contacted",type=integer,JSONPath=`.status.contacted`
// +kubebuilder:printcolumn:name="Overdue",type=integer,JSONPath=`.status.overdue`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type FollowUp struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec declares the follow-up.
	Spec FollowUpSpec `json:"spec"`

	// status is what the operator observed.
	// +optional
	Status FollowUpStatus `json:"status,omitempty"`
}

// FollowUpList is a list of FollowUps.
// +kubebuilder:object:root=true
type FollowUpList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []FollowUp `json:"items"`
}
