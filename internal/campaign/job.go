package campaign

import (
	"bytes"
	"cmp"
	"encoding/json"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/jobfile"
)

// Labels and annotations of the objects the manager makes.
const (
	LabelCampaignUID = "surveys.surveyops.io/campaign-uid"
	LabelWave        = "surveys.surveyops.io/wave"
	LabelRound       = "surveys.surveyops.io/round"
	LabelPart        = "surveys.surveyops.io/part"
	AnnotationDueAt  = "surveys.surveyops.io/scheduled-time"
	// AnnotationWaves lists, on a touch-point campaign's sending Job, the waves it was made
	// for (comma-separated): the manager records them in the status from the Jobs, so that a
	// status write lost after a Job was made loses no wave.
	AnnotationWaves = "surveys.surveyops.io/waves"
	// SecretAPIToken is the key of the API token in the sender Secret; token keys are
	// "token-<id>".
	SecretAPIToken    = "api-token"
	SecretTokenPrefix = "token-"
)

// Settings are the manager's, the same for every Job.
type Settings struct {
	// Image of the sender (the operator's one image).
	Image           string
	ImagePullPolicy corev1.PullPolicy
	// CollectorURL is where senders reach the response service's API; PublicURL is where
	// respondents reach its pages.
	CollectorURL, PublicURL string
	// BackoffLimit is the retries of a sending pod (6 when zero): a retry is safe, the ledger
	// skips what was sent.
	BackoffLimit int32
	// ActiveDeadline bounds a sending Job's run (6h when zero).
	ActiveDeadline time.Duration
	// RowsPerShard is the audience rows one pod sends (5000 when zero); a larger audience is
	// an Indexed Job of up to MaxShards pods, MaxParallelism at a time.
	RowsPerShard, MaxShards, MaxParallelism int
	// Resources of the sender container.
	Resources corev1.ResourceRequirements
}

func (s Settings) withDefaults() Settings {
	if s.BackoffLimit == 0 {
		s.BackoffLimit = 6
	}
	if s.ActiveDeadline == 0 {
		s.ActiveDeadline = 6 * time.Hour
	}
	if s.RowsPerShard == 0 {
		s.RowsPerShard = 5000
	}
	if s.MaxShards == 0 {
		s.MaxShards = 16
	}
	if s.MaxParallelism == 0 {
		s.MaxParallelism = 4
	}
	return s
}

// Wave is what a sending Job is for.
type Wave struct {
	ID    string
	Round int
	// Part counts the Jobs that continue a round after quiet hours stopped it (0: the first).
	Part      int
	Scheduled time.Time
	// Closes is the end of the response window: links expire then.
	Closes time.Time
	// Audience is the version of the list the wave reads (object storage: pinned when the
	// wave starts; a volume: recorded by its first round), nil when not known yet.
	Audience *v1alpha1.AudienceVersion
}

// Mounted is what the manager found in the referenced Secrets, which decides what is mounted.
type Mounted struct {
	// TokenKeyIDs are the ids of the link-signing keys in the sender Secret.
	TokenKeyIDs []string
	// SecretKeys lists, by channel name, the keys present in the channel's Secret.
	SecretKeys map[string]map[string]bool
	// Rows is the audience's line count, for sharding: counted in a Secret's or ConfigMap's
	// list, estimated from an object's size (EstimateRows), 0 when unknown (a volume).
	Rows int
}

// BytesPerRow is the line length assumed to estimate an object's rows from its size, for
// sharding: a line of id, email, mobile and two attributes.
const BytesPerRow = 100

// EstimateRows is the lines of an audience object of size bytes, for sharding.
func EstimateRows(size int64) int {
	return int(min(size/BytesPerRow+1, 1<<40))
}

const (
	mountAudience    = "/var/run/survey/audience"
	mountObjectStore = "/var/run/survey/objectstore"
	mountSender      = "/var/run/survey/sender"
	mountChannels    = "/var/run/survey/channels"
)

// SenderConfig is the configuration the sender reads for one wave's round.
// titles are a survey's title in its other languages, by language (nil for none).
func titles(s *v1alpha1.Survey) map[string]string {
	var out map[string]string
	for _, t := range s.Translations {
		if out == nil {
			out = map[string]string{}
		}
		out[t.Language] = t.Title
	}
	return out
}

func SenderConfig(c *v1alpha1.SurveyCampaign, w Wave, m Mounted, s Settings) jobfile.Config {
	spec := &c.Spec
	aud := AudienceSpec(spec)
	cfg := jobfile.Config{
		CampaignUID: string(c.UID), WaveID: w.ID, Round: w.Round, Namespace: c.Namespace, Campaign: c.Name,
		Title: spec.Survey.Title, PublicURL: s.PublicURL, Expiry: w.Closes.UTC(), Seed: string(c.UID) + "/" + w.ID,
		Shards: ShardsOf(spec, m, s),
		Audience: jobfile.AudienceConfig{Format: string(aud.Format),
			IDField: aud.IDField, Segments: aud.Segments, LanguageColumn: aud.LanguageColumn, Languages: Definition(&spec.Survey).Languages(),
			Titles: titles(&spec.Survey)},
		CollectorURL: s.CollectorURL, APITokenFile: path.Join(mountSender, SecretAPIToken),
		TokenKeysDir: path.Join(mountSender, "keys"),
	}
	audienceSource(&cfg.Audience, spec.Audience.Source, w.Audience)
	if e := cfg.Audience.Events; e != nil {
		if w.ID == "" {
			// Each event's invitation is in the wave of the day it fell due: the Job has none.
			cfg.WaveID, cfg.Expiry, cfg.Seed = "", time.Time{}, string(c.UID)
		}
		e.TimeZone, e.Window = "UTC", DefaultResponseWindow.String()
		if sc := spec.Schedule; sc != nil {
			e.TimeZone = cmp.Or(sc.TimeZone, "UTC")
			if sc.ResponseWindow != "" {
				e.Window = string(sc.ResponseWindow)
			}
		}
	}
	if ex := spec.Audience.Exclude; ex != nil {
		cfg.ContactedWithin = string(ex.ContactedWithin)
	}
	if sc := spec.Schedule; sc != nil && sc.QuietHours != nil {
		cfg.QuietHours = &jobfile.QuietConfig{Start: sc.QuietHours.Start, End: sc.QuietHours.End, TimeZone: sc.TimeZone}
	}
	for i := range spec.Channels {
		ch := &spec.Channels[i]
		out := jobfile.ChannelConfig{Name: ch.Name, ContactField: aud.ContactColumns[ch.Name]}
		dir := path.Join(mountChannels, ch.Name)
		keys := m.SecretKeys[ch.Name]
		file := func(key string) string {
			if keys[key] {
				return path.Join(dir, key)
			}
			return ""
		}
		switch {
		case ch.Email != nil:
			e := ch.Email
			out.Email = &jobfile.Email{Host: e.SMTP.Host, Port: int(e.SMTP.Port), TLS: string(e.SMTP.TLS), From: e.From,
				Subject: e.Subject, UsernameFile: file("username"), PasswordFile: file("password"), Connections: 4}
			for _, t := range spec.Survey.Translations {
				if t.EmailSubject != "" {
					if out.Email.Subjects == nil {
						out.Email.Subjects = map[string]string{}
					}
					out.Email.Subjects[t.Language] = t.EmailSubject
				}
			}
		case ch.Webhook != nil:
			out.Webhook = &jobfile.Hook{URL: ch.Webhook.URL, BodyTemplate: ch.Webhook.BodyTemplate,
				HMACKeyFile: file("hmacKey"), BearerTokenFile: file("bearerToken")}
		}
		if rl := ch.RateLimit; rl != nil {
			out.PerSecond, out.Burst = podRate(rl, ParallelOf(spec, m, s))
		}
		cfg.Channels = append(cfg.Channels, out)
	}
	return cfg
}

// audienceSource says in a job file where the list is, and which version a wave reads.
func audienceSource(a *jobfile.AudienceConfig, src v1alpha1.AudienceSource, version *v1alpha1.AudienceVersion) {
	switch {
	case src.ObjectStore != nil:
		o := src.ObjectStore
		a.ObjectStore = &jobfile.ObjectStore{Endpoint: o.Endpoint, Bucket: o.Bucket, Key: o.Key, Region: o.Region,
			Insecure: o.Insecure, Addressing: string(o.Addressing),
			AccessKeyFile: path.Join(mountObjectStore, SecretAccessKey), SecretKeyFile: path.Join(mountObjectStore, SecretSecretKey)}
		if o.CASecretRef != nil {
			a.ObjectStore.CAFile = path.Join(mountObjectStore, "ca", SecretCA)
		}
		if version != nil {
			a.ObjectStore.ETag, a.ObjectStore.VersionID = version.ETag, version.VersionID
		}
		a.Gzip = strings.HasSuffix(o.Key, ".gz")
	case src.Volume != nil:
		a.File = path.Join(mountAudience, path.Clean(src.Volume.Path))
		a.Gzip = strings.HasSuffix(src.Volume.Path, ".gz")
		if version != nil && version.Modified != nil {
			a.Pin = &jobfile.FilePin{Size: version.Size, Modified: version.Modified.Unix()}
		}
	case src.Events != nil:
		a.Events = &jobfile.EventsConfig{Attributes: src.Events.Attributes}
	default:
		a.File = path.Join(mountAudience, "audience")
	}
}

// The keys of an object store's Secrets, as Flux's Bucket source names them.
const (
	SecretAccessKey = "accesskey"
	SecretSecretKey = "secretkey"
	SecretCA        = "ca.crt"
)

// ShardsOf is how many pods send a wave of the campaign: spec.sending.shards, else one per
// RowsPerShard rows of the list (counted, or estimated from an object's size), at most
// MaxShards.
func ShardsOf(spec *v1alpha1.SurveyCampaignSpec, m Mounted, s Settings) int {
	if spec.Audience.Source.Events != nil {
		return 1 // a touch-point campaign's Job sends what is due, a batch at a time
	}
	if sd := spec.Sending; sd != nil && sd.Shards != nil {
		return int(*sd.Shards)
	}
	return Shards(m.Rows, s)
}

// ParallelOf is how many pods of a wave's Job send at once: spec.sending.parallelism (else
// MaxParallelism), at most its shards.
func ParallelOf(spec *v1alpha1.SurveyCampaignSpec, m Mounted, s Settings) int {
	s = s.withDefaults()
	limit := s.MaxParallelism
	if sd := spec.Sending; sd != nil && sd.Parallelism != nil {
		limit = int(*sd.Parallelism)
	}
	return max(1, min(ShardsOf(spec, m, s), limit))
}

// Parallel is how many pods of a wave's Job send at once: its shards, at most MaxParallelism.
func Parallel(rows int, s Settings) int {
	s = s.withDefaults()
	return max(1, min(Shards(rows, s), s.MaxParallelism))
}

// podRate is one pod's share of a channel's rate limit when parallel pods send at once: the
// limit is the channel's (its relay's or gateway's), not each pod's, so the pods' rates and
// bursts add up to at most what the spec declares. A burst too small to share gives each pod
// one message.
func podRate(rl *v1alpha1.RateLimit, parallel int) (perSecond float64, burst int) {
	declared := int(rl.PerSecond) // the burst defaults to perSecond
	if rl.Burst != nil {
		declared = int(*rl.Burst)
	}
	return float64(rl.PerSecond) / float64(parallel), max(1, declared/parallel)
}

// Shards is how many pods send an audience of rows lines.
func Shards(rows int, s Settings) int {
	s = s.withDefaults()
	return max(1, min(s.MaxShards, (rows+s.RowsPerShard-1)/s.RowsPerShard))
}

// CountRows counts an audience's lines (the header included), for sharding.
func CountRows(data []byte) int {
	n := bytes.Count(data, []byte("\n"))
	if len(data) > 0 && data[len(data)-1] != '\n' {
		n++
	}
	return n
}

// BuildJob makes the sending Job of a wave's round. Its name is deterministic, so a second
// create of the same wave is AlreadyExists, never a second Job.
func BuildJob(c *v1alpha1.SurveyCampaign, w Wave, m Mounted, s Settings) (*batchv1.Job, error) {
	s = s.withDefaults()
	labels := map[string]string{
		LabelCampaignUID: string(c.UID),
		LabelWave:        w.ID,
		LabelRound:       strconv.Itoa(w.Round),
		LabelPart:        strconv.Itoa(w.Part),
	}
	job, err := buildJob(c, SenderConfig(c, w, m, s), PartName(c.Name, w.ID, w.Round, w.Part), labels, m, s, nil, nil)
	if err != nil {
		return nil, err
	}
	job.Annotations = map[string]string{AnnotationDueAt: w.Scheduled.UTC().Format(time.RFC3339)}
	if shards := int32(ShardsOf(&c.Spec, m, s)); shards > 1 {
		job.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		job.Spec.Completions = ptr.To(shards)
		job.Spec.Parallelism = ptr.To(int32(ParallelOf(&c.Spec, m, s)))
	}
	return job, nil
}

// TouchPointsLabel is the wave label of a touch-point campaign's sending Jobs: each sends
// what is due, in the waves of the days it fell due.
const TouchPointsLabel = "touchpoints"

// BuildTouchPointJob makes a touch-point campaign's sending Job for what is due at now: one
// pod that asks the response service for the events due and sends them, page by page.
func BuildTouchPointJob(c *v1alpha1.SurveyCampaign, now time.Time, waves []string, m Mounted, s Settings) (*batchv1.Job, error) {
	s = s.withDefaults()
	labels := map[string]string{LabelCampaignUID: string(c.UID), LabelWave: TouchPointsLabel, LabelRound: "0", LabelPart: "0"}
	cfg := SenderConfig(c, Wave{}, m, s)
	cfg.Audience.Events.Until, cfg.Audience.Events.Waves = now.UTC(), waves
	job, err := buildJob(c, cfg, TouchPointJobName(c.Name, now), labels, m, s, nil, nil)
	if err != nil {
		return nil, err
	}
	job.Annotations = map[string]string{AnnotationDueAt: now.UTC().Format(time.RFC3339), AnnotationWaves: strings.Join(waves, ",")}
	return job, nil
}

// LabelFollowUpUID marks the contact Jobs of a FollowUp, and LabelBatch their number.
const (
	LabelFollowUpUID = "surveys.surveyops.io/followup-uid"
	LabelBatch       = "surveys.surveyops.io/batch"
)

const mountTicket = "/var/run/survey/ticket"

// FollowUpJobName is the n-th contact Job of a FollowUp: "<followup>-contact-<n>".
func FollowUpJobName(followUp string, n int) string {
	return JobName(followUp, "contact-"+strconv.Itoa(n), 0)
}

// BuildFollowUpJob makes a FollowUp's n-th contact Job: the sender in follow-up mode, with the
// campaign's audience and channels and the FollowUp's message and ticket webhook. Case links
// expire at expiry.
func BuildFollowUpJob(c *v1alpha1.SurveyCampaign, fu *v1alpha1.FollowUp, n int, m Mounted, s Settings, expiry time.Time) (*batchv1.Job, error) {
	s = s.withDefaults()
	m.Rows = 0          // one pod: a batch is bounded by its case count
	one := c.DeepCopy() // a contact batch is one pod: it has the channels' whole rate limits
	one.Spec.Sending = nil
	cfg := SenderConfig(one, Wave{ID: "followup", Closes: expiry}, m, s)
	cfg.FollowUp = &jobfile.FollowUpConfig{UID: string(fu.UID), Channels: fu.Spec.Channels, Subject: fu.Spec.Message.Subject,
		Body: fu.Spec.Message.Body, Limit: 1000}
	for _, t := range fu.Spec.Message.Translations {
		if cfg.FollowUp.Translations == nil {
			cfg.FollowUp.Translations = map[string]jobfile.MessageText{}
		}
		cfg.FollowUp.Translations[t.Language] = jobfile.MessageText{Subject: t.Subject, Body: t.Body}
	}
	var volumes []corev1.Volume
	var mounts []corev1.VolumeMount
	if t := fu.Spec.Ticket; t != nil {
		hook := &jobfile.Hook{URL: t.Webhook.URL, BodyTemplate: t.Webhook.BodyTemplate}
		if ref := t.Webhook.SecretRef; ref != nil {
			hook.HMACKeyFile = path.Join(mountTicket, "hmacKey")
			if m.SecretKeys["ticket"]["bearerToken"] {
				hook.BearerTokenFile = path.Join(mountTicket, "bearerToken")
			}
			volumes = append(volumes, corev1.Volume{Name: "ticket", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: ref.Name}}})
			mounts = append(mounts, corev1.VolumeMount{Name: "ticket", MountPath: mountTicket, ReadOnly: true})
		}
		cfg.FollowUp.Ticket = hook
	}
	labels := map[string]string{LabelCampaignUID: string(c.UID), LabelFollowUpUID: string(fu.UID), LabelBatch: strconv.Itoa(n)}
	job, err := buildJob(c, cfg, FollowUpJobName(fu.Name, n), labels, m, s, volumes, mounts)
	if err != nil {
		return nil, err
	}
	job.Namespace = fu.Namespace
	return job, nil
}

// buildJob makes a sender Job from its configuration: the audience, the sender Secret and the
// channels' Secrets mounted read-only, a restricted security context.
func buildJob(c *v1alpha1.SurveyCampaign, senderConfig jobfile.Config, name string, extraLabels map[string]string, m Mounted, s Settings,
	extraVolumes []corev1.Volume, extraMounts []corev1.VolumeMount) (*batchv1.Job, error) {
	cfg, err := json.Marshal(senderConfig)
	if err != nil {
		return nil, err
	}
	labels := map[string]string{
		"app.kubernetes.io/name":       "survey-sender",
		"app.kubernetes.io/component":  "sender",
		"app.kubernetes.io/managed-by": "survey-operator",
	}
	for k, v := range extraLabels {
		labels[k] = v
	}
	src := c.Spec.Audience.Source
	var audienceVolume corev1.VolumeSource
	switch {
	case src.SecretRef != nil:
		audienceVolume.Secret = &corev1.SecretVolumeSource{SecretName: src.SecretRef.Name,
			Items: []corev1.KeyToPath{{Key: src.SecretRef.Key, Path: "audience"}}}
	case src.ConfigMapRef != nil:
		audienceVolume.ConfigMap = &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: src.ConfigMapRef.Name},
			Items: []corev1.KeyToPath{{Key: src.ConfigMapRef.Key, Path: "audience"}}}
	case src.Volume != nil:
		audienceVolume.PersistentVolumeClaim = &corev1.PersistentVolumeClaimVolumeSource{ClaimName: src.Volume.ClaimName, ReadOnly: true}
	case src.ObjectStore != nil:
		// Only the credentials are mounted; the list is read from the store, never written to
		// the node's disk.
		sources := []corev1.VolumeProjection{{Secret: &corev1.SecretProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: src.ObjectStore.SecretRef.Name},
			Items:                []corev1.KeyToPath{{Key: SecretAccessKey, Path: SecretAccessKey}, {Key: SecretSecretKey, Path: SecretSecretKey}}}}}
		if ca := src.ObjectStore.CASecretRef; ca != nil {
			sources = append(sources, corev1.VolumeProjection{Secret: &corev1.SecretProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: ca.Name},
				Items:                []corev1.KeyToPath{{Key: SecretCA, Path: "ca/" + SecretCA}}}})
		}
		audienceVolume.Projected = &corev1.ProjectedVolumeSource{Sources: sources}
	}
	audienceMount := mountAudience
	if src.ObjectStore != nil {
		audienceMount = mountObjectStore
	}
	senderItems := []corev1.KeyToPath{{Key: SecretAPIToken, Path: SecretAPIToken}}
	ids := append([]string(nil), m.TokenKeyIDs...)
	sort.Strings(ids)
	for _, id := range ids {
		senderItems = append(senderItems, corev1.KeyToPath{Key: SecretTokenPrefix + id, Path: "keys/" + id})
	}
	volumes := []corev1.Volume{
		{Name: "sender", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: SecretName(c.Name), Items: senderItems}}},
	}
	mounts := []corev1.VolumeMount{
		{Name: "sender", MountPath: mountSender, ReadOnly: true},
	}
	if src.Events == nil { // a touch-point campaign's people come in events, from the response service
		volumes = append([]corev1.Volume{{Name: "audience", VolumeSource: audienceVolume}}, volumes...)
		mounts = append([]corev1.VolumeMount{{Name: "audience", MountPath: audienceMount, ReadOnly: true}}, mounts...)
	}
	for i := range c.Spec.Channels {
		ch := &c.Spec.Channels[i]
		ref := ChannelSecret(ch)
		if ref == nil {
			continue
		}
		name := "channel-" + strconv.Itoa(i)
		volumes = append(volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: ref.Name}}})
		mounts = append(mounts, corev1.VolumeMount{Name: name, MountPath: path.Join(mountChannels, ch.Name), ReadOnly: true})
	}
	volumes, mounts = append(volumes, extraVolumes...), append(mounts, extraMounts...)
	// The root filesystem is read-only: a scan of an audience of more than 262,144 people keeps
	// what it needs of each (about 17 bytes) in files under /tmp instead of in memory.
	volumes = append(volumes, corev1.Volume{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	mounts = append(mounts, corev1.VolumeMount{Name: "tmp", MountPath: "/tmp"})

	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c.Namespace, Labels: labels},
		Spec: batchv1.JobSpec{
			BackoffLimit:          ptr.To(s.BackoffLimit),
			ActiveDeadlineSeconds: ptr.To(int64(s.ActiveDeadline / time.Second)),
			// A pod stopped by a disruption (a node drained, a pod evicted or preempted) stops
			// cleanly and is replaced without using up a retry.
			PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
				Action: batchv1.PodFailurePolicyActionIgnore,
				OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{
					{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue},
				},
			}}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					RestartPolicy:                corev1.RestartPolicyNever,
					AutomountServiceAccountToken: ptr.To(false),
					EnableServiceLinks:           ptr.To(false),
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   ptr.To(true),
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers: []corev1.Container{{
						Name:                     "sender",
						Image:                    s.Image,
						ImagePullPolicy:          s.ImagePullPolicy,
						Command:                  []string{"/sender"},
						Env:                      []corev1.EnvVar{{Name: jobfile.EnvJob, Value: string(cfg)}},
						VolumeMounts:             mounts,
						Resources:                resourcesOf(&c.Spec, s),
						TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
						SecurityContext: &corev1.SecurityContext{
							AllowPrivilegeEscalation: ptr.To(false),
							ReadOnlyRootFilesystem:   ptr.To(true),
							RunAsNonRoot:             ptr.To(true),
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						},
					}},
					Volumes: volumes,
				},
			},
		},
	}, nil
}

// resourcesOf is the sending pod's resources: spec.sending.resources, else the operator's.
func resourcesOf(spec *v1alpha1.SurveyCampaignSpec, s Settings) corev1.ResourceRequirements {
	if sd := spec.Sending; sd != nil && sd.Resources != nil {
		return *sd.Resources
	}
	return s.Resources
}
