package v1alpha1

// Types shared by SurveyCampaign and FollowUp.

// Percent is a percentage from 0 to 100 written as a decimal string with at most two decimals,
// for example "72.4". Numbers in this API are strings so that no float is ever stored in a
// custom resource.
// +kubebuilder:validation:Pattern=`^(100(\.0{1,2})?|[0-9]{1,2}(\.[0-9]{1,2})?)$`
// +kubebuilder:validation:MaxLength=6
type Percent string

// Decimal is a signed number written as a decimal string with at most two decimals, for example
// "-12.5" or "4.08".
// +kubebuilder:validation:Pattern=`^-?[0-9]{1,6}(\.[0-9]{1,2})?$`
// +kubebuilder:validation:MaxLength=10
type Decimal string

// Duration is a Go duration string such as "90m", "72h" or "1h30m" (units ms, s, m, h; there is
// no day unit, so two weeks is "336h").
// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
// +kubebuilder:validation:MaxLength=32
type Duration string

// LocalObjectReference names an object in the namespace of the referring resource.
type LocalObjectReference struct {
	// name of the object, in the same namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`
}

// KeySelector names one key of a Secret or ConfigMap in the same namespace.
type KeySelector struct {
	// name of the Secret or ConfigMap, in the same namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`

	// key within the object's data, for example "residents.csv".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key"`
}

// ContactField is the audience column a webhook channel delivers to.
// +kubebuilder:validation:Enum=phone;email
type ContactField string

const (
	// ContactPhone delivers to the column named by spec.audience.source.contact.phone.
	ContactPhone ContactField = "phone"
	// ContactEmail delivers to the column named by spec.audience.source.contact.email.
	ContactEmail ContactField = "email"
)

// WebhookChannel delivers through an HTTP gateway: SMS, chat, WhatsApp or a ticketing system.
// +kubebuilder:validation:XValidation:rule=`self.url.startsWith('https://') || self.url.matches('^http://([a-z0-9]([-a-z0-9]*[a-z0-9])?|[-a-z0-9.]+[.]svc|[-a-z0-9.]+[.]svc[.]cluster[.]local)(:[0-9]{1,5})?(/.*)?$')`,message="webhook url must use https; plain http is allowed only for an in-cluster Service name (no dots, or ending in .svc or .svc.cluster.local)",fieldPath=".url"
type WebhookChannel struct {
	// url the sender POSTs each message to. It must be https, or http to an in-cluster Service
	// (for example http://sms-gateway.messaging.svc:8080/send).
	// +kubebuilder:validation:MinLength=8
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self)",message="webhook url must be an absolute URL"
	URL string `json:"url"`

	// secretRef names a Secret with the key "hmacKey" (required: each request carries
	// X-Survey-Timestamp, the Unix seconds it was signed at, and X-Survey-Signature, the hex
	// HMAC-SHA256 under that key of the timestamp, a full stop and the body; a gateway should
	// refuse a request signed more than 5 minutes from its clock) and optionally "bearerToken"
	// (sent as an Authorization header).
	// +optional
	SecretRef *LocalObjectReference `json:"secretRef,omitempty"`

	// bodyTemplate is a Go text/template rendering the request body. It can use
	// .To, .Link, .OptOutLink, .Title, .Campaign and .Segment. When empty the body is JSON:
	// {"to": ..., "text": ..., "link": ..., "optOut": ...}.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	BodyTemplate string `json:"bodyTemplate,omitempty"`

	// contactField says which audience contact column this gateway delivers to: phone for SMS
	// and most chat gateways, email for gateways that take an address.
	// +kubebuilder:default=phone
	// +optional
	ContactField ContactField `json:"contactField,omitempty"`
}
