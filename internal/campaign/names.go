// Package campaign is the domain of the SurveyCampaign reconciler, without Kubernetes clients:
// wave ids and Job names, what the schema cannot validate, the sending Job and its sender
// configuration, and a wave's results from the response service's aggregates. The controller
// only orchestrates these.
package campaign

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/surveyops/survey-operator/internal/schedule"
)

// MaxJobName bounds a Job's name: 63 characters is the limit of the job-name label, and an
// Indexed Job's pods are named after it plus "-<index>-<random>", so 56 leaves room for the
// hostnames of up to a million shards.
const MaxJobName = 56

// WaveID names the wave due at t: its UTC minute, "20260401-0900". The same due time always
// gives the same wave, whichever manager computes it.
func WaveID(t time.Time) string {
	return t.UTC().Format("20060102-1504")
}

// TouchPointWave is the wave of a touch-point campaign that an event due at due belongs to:
// the day, in loc, on which it fell due, "tp-20261208". It opens at the day's start and
// closes window after the day's end, so that an invitation sent on the day, however late,
// has at least the whole window. The manager and the sender compute it alike.
func TouchPointWave(due time.Time, loc *time.Location, window time.Duration) Wave {
	id, start, closes := schedule.TouchPointDay(due, loc, window)
	return Wave{ID: id, Scheduled: start, Closes: closes}
}

// TouchPointWaveOf is the touch-point wave whose id is id ("tp-20261208"), in loc; false when
// id is not one.
func TouchPointWaveOf(id string, loc *time.Location, window time.Duration) (Wave, bool) {
	opens, closes, ok := schedule.TouchPointDayOf(id, loc, window)
	return Wave{ID: id, Scheduled: opens, Closes: closes}, ok
}

// IsTouchPointWave says whether a wave id is a touch-point wave's.
func IsTouchPointWave(id string) bool { return strings.HasPrefix(id, "tp-") }

// TouchPointJobName is a touch-point campaign's sending Job for what is due at minute t:
// "<campaign>-tp-202612081405" (UTC), at most one a minute.
func TouchPointJobName(campaign string, t time.Time) string {
	return JobName(campaign, "tp-"+t.UTC().Format("200601021504"), 0)
}

// RequestedWaveID names the wave asked for by the requestedAt annotation: "now-" and a hash of
// the annotation's value, so that each new value is one new wave and re-applying the same value
// is not.
func RequestedWaveID(value string) string {
	sum := sha256.Sum256([]byte(value))
	return "now-" + hex.EncodeToString(sum[:4])
}

// JobName is the sending Job of a wave's round (0 the invitations, n the n-th reminder):
// "<campaign>-<wave>" or "<campaign>-<wave>-r<n>". A long campaign name is cut and a hash of the
// full name keeps it unique.
func JobName(campaign, wave string, round int) string {
	return PartName(campaign, wave, round, 0)
}

// PartName is the Job that continues a round after its sender stopped for quiet hours: part 1
// is "<JobName>-c1", and so on.
func PartName(campaign, wave string, round, part int) string {
	suffix := "-" + wave
	if round > 0 {
		suffix += "-r" + strconv.Itoa(round)
	}
	if part > 0 {
		suffix += "-c" + strconv.Itoa(part)
	}
	name := campaign + suffix
	if len(name) <= MaxJobName {
		return name
	}
	sum := sha256.Sum256([]byte(campaign))
	hash := "-" + hex.EncodeToString(sum[:4])
	keep := max(1, MaxJobName-len(suffix)-len(hash))
	return strings.TrimRight(campaign[:min(keep, len(campaign))], "-.") + hash + suffix
}

// SecretName is the campaign's sender Secret, which the manager keeps in the campaign's
// namespace: the response service's API token and the link-signing keys, for its Jobs to mount.
func SecretName(campaign string) string {
	return JobName(campaign, "sender", 0)
}

// The keys of a campaign's export Secret: an exporter's API credential for the namespace, an
// eraser's, and the response service's public address.
const (
	ExportSecretToken      = "token"
	ExportSecretEraseToken = "erase-token"
	ExportSecretURL        = "url"
)

// The keys of a touch-point campaign's events Secret: a producer's credential (an events
// credential for the namespace), alone and as a header's value, and where to post: the response
// service's public address and its address inside the cluster, each with the events route's
// path.
const (
	EventsSecretToken = "token"
	// EventsSecretAuthorization is the Authorization header's whole value, "Bearer <token>",
	// for pipelines that copy a Secret's value into a header as it is (Argo Events'
	// secureHeaders).
	EventsSecretAuthorization = "authorization"
	EventsSecretURL           = "url"
	EventsSecretInternalURL   = "internalURL"
)

// EventsSecretName is a touch-point campaign's events Secret: "<campaign>-events", for the
// producers of its events (a repairs system, a Knative trigger, an Argo Events sensor).
func EventsSecretName(campaign string) string {
	return JobName(campaign, "events", 0)
}

// ExportSecretName is the campaign's export Secret: "<campaign>-export", which `kubectl survey
// export` reads.
func ExportSecretName(campaign string) string {
	return JobName(campaign, "export", 0)
}
