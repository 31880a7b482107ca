// Package jobfile is the contract between the manager and a sending Job: the job file the
// manager writes into the Job (what to send, to whom, through which channels; secrets only as
// the paths of mounted files) and the summary the sender leaves in its termination message.
// It imports neither the sender nor the manager, so each links only what it uses.
package jobfile

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/surveyops/survey-operator/internal/audience"
)

// EnvJob is the environment variable that carries the job file in the Jobs the manager makes.
const EnvJob = "SURVEY_JOB"

// Config is a sending Job's description, written by the manager into the Job (a mounted file).
// Secrets are never in it: it names the files where they are mounted.
type Config struct {
	CampaignUID string    `json:"campaignUID"`
	WaveID      string    `json:"waveID"`
	Round       int       `json:"round"`
	Namespace   string    `json:"namespace"`
	Campaign    string    `json:"campaign"`
	Title       string    `json:"title"`
	PublicURL   string    `json:"publicURL"`
	Expiry      time.Time `json:"expiry"`
	Seed        string    `json:"seed"`
	Shards      int       `json:"shards,omitempty"`

	Audience        AudienceConfig  `json:"audience"`
	ContactedWithin string          `json:"contactedWithin,omitempty"`
	Channels        []ChannelConfig `json:"channels"`
	QuietHours      *QuietConfig    `json:"quietHours,omitempty"`

	CollectorURL  string `json:"collectorURL"`
	APITokenFile  string `json:"apiTokenFile"`
	TokenKeysDir  string `json:"tokenKeysDir"`
	Concurrency   int    `json:"concurrency,omitempty"`
	Window        int    `json:"window,omitempty"`
	BatchSize     int    `json:"batchSize,omitempty"`
	SubjectPrefix string `json:"subjectPrefix,omitempty"`
	// FollowUp makes the Job a follow-up batch of this FollowUp's cases.
	FollowUp *FollowUpConfig `json:"followUp,omitempty"`
}

// FollowUpConfig is a follow-up batch's FollowUp.
type FollowUpConfig struct {
	UID      string   `json:"uid"`
	Channels []string `json:"channels"`
	Subject  string   `json:"subject,omitempty"`
	Body     string   `json:"body"`
	// Translations are the message in other languages, by language.
	Translations map[string]MessageText `json:"translations,omitempty"`
	Ticket       *Hook                  `json:"ticket,omitempty"`
	Limit        int                    `json:"limit,omitempty"`
}

// MessageText is a follow-up message in one language.
type MessageText struct {
	Subject string `json:"subject,omitempty"`
	Body    string `json:"body"`
}

// AudienceConfig says where the audience is and how to divide it: a mounted File (a Secret's
// or ConfigMap's key, or a file on a volume), an object in ObjectStore, or touch-point Events.
type AudienceConfig struct {
	File        string       `json:"file,omitempty"`
	ObjectStore *ObjectStore `json:"objectStore,omitempty"`
	// Events makes the Job a touch-point campaign's: its people are in the events due, which
	// it asks the response service for.
	Events *EventsConfig `json:"events,omitempty"`
	// Gzip reads the list through gzip (a key or path ending in .gz).
	Gzip bool `json:"gzip,omitempty"`
	// Pin is the version of a file on a volume that the wave reads, once known (its first
	// round records it): a file whose size or modification time differ is refused.
	Pin      *FilePin           `json:"pin,omitempty"`
	Format   string             `json:"format"`
	IDField  string             `json:"idField"`
	Segments []audience.Segment `json:"segments"`
	// LanguageColumn holds each person's language; Languages are the survey's (its own first):
	// a person whose language is one of them gets a link that opens the survey in it.
	LanguageColumn string   `json:"languageColumn,omitempty"`
	Languages      []string `json:"languages,omitempty"`
	// Titles are the survey's title in its other languages, by language.
	Titles map[string]string `json:"titles,omitempty"`
}

// EventsConfig is a touch-point campaign's audience: the event fields its decisions record
// for the results' breakdowns, and how its waves are cut.
type EventsConfig struct {
	Attributes []string `json:"attributes,omitempty"`
	// TimeZone and Window place each event's invitation in its wave: the day it fell due, in
	// the campaign's time zone (campaign.TouchPointWave).
	TimeZone string `json:"timeZone"`
	Window   string `json:"window"`
	// Until is when the manager made the Job, and Waves the waves it had registered for it:
	// the Job takes what was due then, in those waves (a follow-up's or a reminder's: unset).
	Until time.Time `json:"until,omitzero"`
	Waves []string  `json:"waves,omitempty"`
}

// ObjectStore is an audience object in S3-compatible storage, with the files of its mounted
// credentials, and the version the wave reads (every read asks for exactly it).
type ObjectStore struct {
	Endpoint      string `json:"endpoint"`
	Bucket        string `json:"bucket"`
	Key           string `json:"key"`
	Region        string `json:"region,omitempty"`
	Insecure      bool   `json:"insecure,omitempty"`
	Addressing    string `json:"addressing,omitempty"` // Auto, Path or VirtualHost
	AccessKeyFile string `json:"accessKeyFile"`
	SecretKeyFile string `json:"secretKeyFile"`
	CAFile        string `json:"caFile,omitempty"`
	ETag          string `json:"etag,omitempty"`
	VersionID     string `json:"versionID,omitempty"`
}

// FilePin is a file's version: its size and modification time (Unix seconds, as a status
// keeps times).
type FilePin struct {
	Size     int64 `json:"size"`
	Modified int64 `json:"modified"`
}

// ChannelConfig is one channel, with the files of its mounted secrets.
type ChannelConfig struct {
	Name         string  `json:"name"`
	ContactField string  `json:"contactField"` // the audience column it delivers to
	Email        *Email  `json:"email,omitempty"`
	Webhook      *Hook   `json:"webhook,omitempty"`
	PerSecond    float64 `json:"perSecond,omitempty"`
	Burst        int     `json:"burst,omitempty"`
}

// Email is an email channel's settings.
type Email struct {
	Host    string `json:"host"`
	Port    int    `json:"port"`
	TLS     string `json:"tls"`
	From    string `json:"from"`
	Subject string `json:"subject,omitempty"`
	// Subjects are Subject in the survey's other languages, by language.
	Subjects     map[string]string `json:"subjects,omitempty"`
	UsernameFile string            `json:"usernameFile,omitempty"`
	PasswordFile string            `json:"passwordFile,omitempty"`
	// Connections is how many SMTP connections the sender may hold open (1 when zero).
	Connections int `json:"connections,omitempty"`
}

// Hook is a webhook channel's settings.
type Hook struct {
	URL             string `json:"url"`
	BodyTemplate    string `json:"bodyTemplate,omitempty"`
	HMACKeyFile     string `json:"hmacKeyFile,omitempty"`
	BearerTokenFile string `json:"bearerTokenFile,omitempty"`
}

// QuietConfig is the campaign's quiet hours.
type QuietConfig struct {
	Start    string `json:"start"`
	End      string `json:"end"`
	TimeZone string `json:"timeZone"`
}

// Summary is what a run did, in counts only: the Job's termination message, and the sender's
// last log line.
type Summary struct {
	Audience        int            `json:"audience"`
	Invited         int            `json:"invited"`
	Sent            int            `json:"sent"`
	Retried         int            `json:"retried,omitempty"`
	Failed          map[string]int `json:"failed"`
	Skipped         map[string]int `json:"skipped"`
	Stopped         string         `json:"stopped,omitempty"`
	Error           string         `json:"error,omitempty"`
	DurationSeconds float64        `json:"durationSeconds"`
	// Pin is the version of the volume file the sender read (volume sources only).
	Pin *FilePin `json:"pin,omitempty"`
}

// StoppedQuietHours is Summary.Stopped when the sender stopped at the start of quiet hours,
// leaving the rest of its round for the manager to continue once they end.
const StoppedQuietHours = "quiet-hours"

// JSON is the summary as one line of JSON.
func (s Summary) JSON() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Termination reads a finished sender's summary from its termination message: the message
// itself, or, when the kubelet fell back to the logs, their last line.
func Termination(message string) (Summary, bool) {
	var sum Summary
	message = strings.TrimSpace(message)
	if i := strings.LastIndex(message, "\n"); i >= 0 {
		message = message[i+1:]
	}
	if err := json.Unmarshal([]byte(message), &sum); err != nil {
		return sum, false
	}
	return sum, true
}
