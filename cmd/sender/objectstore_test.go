package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/audience"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/channel"
	"github.com/surveyops/survey-operator/internal/collector"
	"github.com/surveyops/survey-operator/internal/jobfile"
	"github.com/surveyops/survey-operator/internal/objectstore"
	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/tests3"
	"github.com/surveyops/survey-operator/internal/testsmtp"
	"github.com/surveyops/survey-operator/internal/token"
)

// s3Rig runs the sender binary against a list in a real S3 server (versitygw), a real
// response service on SQLite, an SMTP sink and an SMS gateway that counts deliveries by
// Idempotency-Key. Job files are made as the manager makes them: campaign.SenderConfig, with
// the wave's version from a HEAD (objectstore's Stat), then the mounted files' paths moved to
// the test's directory.
type s3Rig struct {
	t              *testing.T
	dir, bin, db   string
	st             store.Store
	coll           string
	apiToken, keys string
	s3             *tests3.Server
	creds          creds // the Job's, unless a case gives its own
	sink           *testsmtp.Sink
	gw             *httptest.Server
	email          *channel.Email

	mu         sync.Mutex
	deliveries map[string]int // SMS deliveries by Idempotency-Key
}

const bucket = "exports"

func newS3Rig(t *testing.T) *s3Rig {
	t.Helper()
	r := &s3Rig{t: t, dir: t.TempDir(), deliveries: map[string]int{}}
	r.bin = filepath.Join(r.dir, "sender")
	if out, err := exec.Command("go", "build", "-o", r.bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	r.db = filepath.Join(r.dir, "survey.db")
	st, err := store.Open(context.Background(), "sqlite://"+r.db)
	must(t, err)
	t.Cleanup(func() { st.Close() })
	r.st = st
	r.keys = filepath.Join(r.dir, "keys")
	must(t, os.Mkdir(r.keys, 0o700))
	secret := bytes.Repeat([]byte{9}, 32)
	must(t, os.WriteFile(filepath.Join(r.keys, "2026-01"), secret, 0o600))
	ring, _ := token.NewKeyRing(token.Key{ID: "2026-01", Secret: secret})
	r.apiToken = filepath.Join(r.dir, "api-token")
	must(t, os.WriteFile(r.apiToken, []byte("s3-test-api-token-0123\n"), 0o600))
	srv, err := collector.New(collector.Config{Store: st, Keys: func() *token.KeyRing { return ring }, APIToken: []byte("s3-test-api-token-0123")})
	must(t, err)
	coll := httptest.NewServer(srv.Handler())
	t.Cleanup(coll.Close)
	r.coll = coll.URL
	r.gw = httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.deliveries[req.Header.Get("Idempotency-Key")]++
		r.mu.Unlock()
	}))
	t.Cleanup(r.gw.Close)
	r.sink = testsmtp.Start(t, "None", nil)
	r.email, _ = channel.NewEmail(channel.EmailConfig{Host: "127.0.0.1", From: "listening@riverside.example"})

	r.s3 = tests3.Start(t)
	r.s3.Bucket(t, bucket)
	r.creds = r.reader()
	return r
}

// creds are an access key pair as the Job mounts them, in files.
type creds struct {
	access, secret         string
	accessFile, secretFile string
}

// reader makes a user that may only read the bucket, as docs/security.md asks, and writes its
// key pair into files as the Job mounts them.
func (r *s3Rig) reader() creds {
	r.t.Helper()
	c := creds{}
	c.access, c.secret = r.s3.Reader(r.t, bucket)
	c.accessFile, c.secretFile = filepath.Join(r.dir, c.access+".accesskey"), filepath.Join(r.dir, c.access+".secretkey")
	must(r.t, os.WriteFile(c.accessFile, []byte(c.access+"\n"), 0o600))
	must(r.t, os.WriteFile(c.secretFile, []byte(c.secret+"\n"), 0o600))
	return c
}

// campaign is a campaign whose list is key in the bucket: people who prefer email are asked
// by email, the rest by SMS, in 3 shards that send at once.
func (r *s3Rig) campaign(key string, perSecond int32) *v1alpha1.SurveyCampaign {
	var rl *v1alpha1.RateLimit
	if perSecond > 0 {
		rl = &v1alpha1.RateLimit{PerSecond: perSecond, Burst: ptr.To(int32(3))}
	}
	return &v1alpha1.SurveyCampaign{
		ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns", UID: uid},
		Spec: v1alpha1.SurveyCampaignSpec{
			Survey: v1alpha1.Survey{Title: "Survey", Questions: []v1alpha1.Question{{ID: "q1", Kind: v1alpha1.QuestionCSAT, Text: "?"}}},
			Audience: v1alpha1.Audience{
				Source: v1alpha1.AudienceSource{
					ObjectStore: &v1alpha1.ObjectStoreSource{Endpoint: r.s3.Host, Bucket: bucket, Key: key, Region: r.s3.Region,
						SecretRef: v1alpha1.LocalObjectReference{Name: "exports-reader"}, Insecure: true, Addressing: v1alpha1.BucketAddressingPath},
					IDField: "ref", Contact: v1alpha1.ContactColumns{Email: "email", Phone: "mobile"}},
				Segments: []v1alpha1.Segment{
					{Name: "email", Match: `attrs.prefers == "email"`, Channels: []string{"email"}},
					{Name: "sms", Channels: []string{"sms"}}},
			},
			Channels: []v1alpha1.Channel{
				{Name: "email", RateLimit: rl, Email: &v1alpha1.EmailChannel{
					SMTP: v1alpha1.SMTPSettings{Host: "127.0.0.1", Port: int32(r.sink.Port), TLS: v1alpha1.SMTPNoTLS}, From: "listening@riverside.example"}},
				{Name: "sms", RateLimit: rl, Webhook: &v1alpha1.WebhookChannel{URL: r.gw.URL}},
			},
			Sending: &v1alpha1.Sending{Shards: ptr.To(int32(3))},
		},
	}
}

// pin is what the manager does when a wave starts: a HEAD with the Job's credentials, whose
// ETag (and version id) every shard, rerun and round of the wave then reads.
func (r *s3Rig) pin(key string, cr creds) *v1alpha1.AudienceVersion {
	r.t.Helper()
	c, err := objectstore.New(objectstore.Config{Endpoint: r.s3.Host, Bucket: bucket, Key: key, Region: r.s3.Region, Insecure: true,
		Addressing: "Path", AccessKey: cr.access, SecretKey: cr.secret})
	must(r.t, err)
	v, err := c.Stat(context.Background())
	must(r.t, err)
	out := &v1alpha1.AudienceVersion{ETag: v.ETag, VersionID: v.VersionID, Size: v.Size}
	if !v.Modified.IsZero() {
		out.Modified = &metav1.Time{Time: v.Modified}
	}
	return out
}

// startWave registers a wave with the response service, as the manager does.
func (r *s3Rig) startWave(wave string) {
	r.t.Helper()
	must(r.t, r.st.PutWave(context.Background(), store.Wave{CampaignUID: uid, WaveID: wave, Namespace: "ns", Campaign: "c",
		Definition: []byte(`{"questions":[{"id":"q1","kind":"CSAT"}]}`), OpensAt: time.Now(), ClosesAt: time.Now().Add(24 * time.Hour)}))
}

// jobFile writes the job file of a wave's round, as the manager would mount it.
func (r *s3Rig) jobFile(c *v1alpha1.SurveyCampaign, wave string, round int, version *v1alpha1.AudienceVersion, cr creds) string {
	r.t.Helper()
	settings := campaign.Settings{CollectorURL: r.coll, PublicURL: "https://listen.example.org"}
	cfg := campaign.SenderConfig(c, campaign.Wave{ID: wave, Round: round, Closes: time.Now().Add(24 * time.Hour), Audience: version},
		campaign.Mounted{Rows: campaign.EstimateRows(version.Size)}, settings)
	if cfg.Audience.ObjectStore == nil || cfg.Audience.ObjectStore.ETag != version.ETag || cfg.Shards != 3 {
		r.t.Fatalf("the job file reads %+v in %d shards: want the pinned object in 3", cfg.Audience.ObjectStore, cfg.Shards)
	}
	cfg.Audience.ObjectStore.AccessKeyFile, cfg.Audience.ObjectStore.SecretKeyFile = cr.accessFile, cr.secretFile
	cfg.APITokenFile, cfg.TokenKeysDir = r.apiToken, r.keys
	cfg.BatchSize, cfg.Concurrency = 5, 4
	name := filepath.Join(r.dir, fmt.Sprintf("job-%s-%d.json", wave, round))
	data, err := json.Marshal(cfg)
	must(r.t, err)
	must(r.t, os.WriteFile(name, data, 0o600))
	return name
}

// run runs shard of a job file to its end (or until kill after, when kill > 0), and returns
// its termination message, whether it exited 0, whether it was killed, and its output. It may
// run on any goroutine: a run that cannot start, or leaves no summary, is an error of the test
// and a failed run.
func (r *s3Rig) run(job string, shard int, kill time.Duration) (sum jobfile.Summary, ok, killed bool, out []byte) {
	term := filepath.Join(r.dir, fmt.Sprintf("termination-%d-%d", shard, time.Now().UnixNano()))
	cmd := exec.Command(r.bin, "--job", job, "--termination-log", term)
	cmd.Env = append(os.Environ(), "JOB_COMPLETION_INDEX="+strconv.Itoa(shard))
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		r.t.Errorf("starting shard %d: %v", shard, err)
		return sum, false, false, nil
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-timer(kill):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		return sum, false, true, buf.Bytes()
	}
	msg, _ := os.ReadFile(term)
	sum, parsed := jobfile.Termination(string(msg))
	if !parsed {
		r.t.Errorf("shard %d left no summary (%v):\n%s", shard, err, buf.Bytes())
		return sum, false, false, buf.Bytes()
	}
	return sum, err == nil, false, buf.Bytes()
}

// timer fires after d, or never when d is 0.
func timer(d time.Duration) <-chan time.Time {
	if d <= 0 {
		return nil
	}
	return time.After(d)
}

// runShards runs the given shards of a job file at once, as an Indexed Job's pods, each to
// its end, and returns their summaries and exit statuses.
func (r *s3Rig) runShards(job string, shards ...int) ([]jobfile.Summary, []bool) {
	r.t.Helper()
	sums, oks := make([]jobfile.Summary, len(shards)), make([]bool, len(shards))
	var wg sync.WaitGroup
	for i, shard := range shards {
		wg.Go(func() { sums[i], oks[i], _, _ = r.run(job, shard, 0) })
	}
	wg.Wait()
	return sums, oks
}

// messages counts the emails that arrived, by Message-ID.
func (r *s3Rig) messages() map[string]int {
	out := map[string]int{}
	for _, m := range r.sink.Messages() {
		for _, line := range strings.Split(string(m.Data), "\r\n") {
			if id, ok := strings.CutPrefix(line, "Message-ID: "); ok {
				out[id]++
			}
		}
	}
	return out
}

// sms is the SMS deliveries of one invitation.
func (r *s3Rig) sms(wave, key string, round int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.deliveries[fmt.Sprintf("%s/%s/%s/%d", uid, wave, key, round)]
}

// smsTotal is every SMS delivery so far.
func (r *s3Rig) smsTotal() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, d := range r.deliveries {
		n += d
	}
	return n
}

// ledger is each invitation's state in the ledger, by recipient and round, read straight from
// the database (a read changes nothing).
func (r *s3Rig) ledger(wave string) map[string]string {
	r.t.Helper()
	db, err := sql.Open("sqlite", "file:"+r.db+"?mode=ro&_pragma=busy_timeout(10000)")
	must(r.t, err)
	defer db.Close()
	rows, err := db.Query(`SELECT recipient_key, round, state FROM invitations WHERE campaign_uid = ? AND wave_id = ?`, uid, wave)
	must(r.t, err)
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var key, state string
		var round int
		must(r.t, rows.Scan(&key, &round, &state))
		out[fmt.Sprintf("%s/%d", key, round)] = state
	}
	must(r.t, rows.Err())
	return out
}

// frame is the frame the senders recorded for a wave: each segment's population.
func (r *s3Rig) frame(wave string) map[string]int {
	r.t.Helper()
	sum, err := r.st.Summarize(context.Background(), uid, wave, "q1")
	must(r.t, err)
	out := map[string]int{}
	for seg, f := range sum.Frame {
		out[seg] = f.Population
	}
	return out
}

// list is an audience of n people, by email (even) or SMS (odd); every seventh of those by
// email has no address (unreachable, still in the frame). want is each segment's population.
type list struct {
	n    int
	data []byte
	want map[string]int
}

func makeList(n int, bom, gz bool) list {
	var b bytes.Buffer
	if bom {
		b.WriteString("\ufeff")
	}
	b.WriteString("ref,email,mobile,prefers\n")
	l := list{n: n, want: map[string]int{}}
	for i := range n {
		switch {
		case i%2 == 0 && i%7 == 0:
			fmt.Fprintf(&b, "R-%04d,,,email\n", i)
			l.want["email"]++
		case i%2 == 0:
			fmt.Fprintf(&b, "R-%04d,r%04d@example.org,,email\n", i, i)
			l.want["email"]++
		default:
			fmt.Fprintf(&b, "R-%04d,,+4477009%05d,sms\n", i, i)
			l.want["sms"]++
		}
	}
	l.data = b.Bytes()
	if gz {
		var z bytes.Buffer
		w := gzip.NewWriter(&z)
		_, _ = w.Write(l.data)
		_ = w.Close()
		l.data = z.Bytes()
	}
	return l
}

func key(i int) string { return fmt.Sprintf("R-%04d", i) }

// reachable says whether person i of a list has a contact.
func reachable(i int) bool { return i%2 == 1 || i%7 != 0 }

// checkOnce checks a wave's round against its list: nobody got two emails or was sent twice
// in the ledger, every reachable person has exactly one invitation in the ledger (sent, or,
// for an email whose sender was killed mid-send, unknown with no email or one), every SMS
// went (the gateway deduplicates resends on Idempotency-Key), and nobody unreachable was
// invited. It returns the emails that arrived for the round.
func (r *s3Rig) checkOnce(wave string, round int, l list) int {
	r.t.Helper()
	messages := r.messages()
	ledger := r.ledger(wave)
	arrived := 0
	for i := range l.n {
		k := key(i)
		state, invited := ledger[fmt.Sprintf("%s/%d", k, round)]
		if !reachable(i) {
			if invited {
				r.t.Errorf("wave %s round %d: %s has no contact, and the ledger says %s", wave, round, k, state)
			}
			continue
		}
		if i%2 == 0 {
			got := messages[r.email.MessageID(fmt.Sprintf("%s/%s/%s/%d", uid, wave, k, round))]
			arrived += got
			switch {
			case got > 1:
				r.t.Errorf("wave %s round %d: %s got the email %d times", wave, round, k, got)
			case got == 0 && state != string(store.StateUnknown):
				r.t.Errorf("wave %s round %d: %s got no email and the ledger says %q", wave, round, k, state)
			case got == 1 && state != string(store.StateSent) && state != string(store.StateUnknown):
				r.t.Errorf("wave %s round %d: %s got the email and the ledger says %q", wave, round, k, state)
			}
			continue
		}
		if got := r.sms(wave, k, round); got == 0 || state != string(store.StateSent) {
			r.t.Errorf("wave %s round %d: %s: %d SMS deliveries, ledger %q", wave, round, k, got, state)
		}
	}
	return arrived
}

// The kill test against a list in object storage: a gzip-compressed export with a BOM, in a
// bucket, read by 3 shards at once as an Indexed Job's pods, each killed at random moments
// and run again until it finishes, as the Job's backoff would. Every shard and every rerun
// reads the version the wave pinned; every person is invited once across shards, reruns and
// kills (the SMTP sink's Message-IDs and the ledger agree); the frame's populations are the
// file's.
func TestKilledShardsReadingABucketSendEachInvitationOnce(t *testing.T) {
	r := newS3Rig(t)
	const people = 60
	l := makeList(people, true, true)
	r.s3.Put(t, bucket, "nightly/tenants.csv.gz", l.data)
	c := r.campaign("nightly/tenants.csv.gz", 90) // 30 a second per pod and channel: kills land mid-send
	rng := rand.New(rand.NewPCG(2026, 30))
	runs, kills, ambiguous := 0, 0, 0
	const waves = 5
	for w := range waves {
		wave := fmt.Sprintf("w%02d", w)
		r.startWave(wave)
		job := r.jobFile(c, wave, 0, r.pin("nightly/tenants.csv.gz", r.creds), r.creds)
		var wg sync.WaitGroup
		var mu sync.Mutex
		for shard := range 3 {
			wg.Go(func() {
				for attempt := 0; ; attempt++ {
					if attempt > 20 {
						t.Errorf("wave %s shard %d never finished", wave, shard)
						return
					}
					var kill time.Duration
					if attempt < 3 { // the first runs are killed at a random moment; the rest finish
						mu.Lock()
						kill = time.Duration(20+rng.IntN(400)) * time.Millisecond
						mu.Unlock()
					}
					sum, ok, killed, out := r.run(job, shard, kill)
					mu.Lock()
					runs++
					if killed {
						kills++
					}
					mu.Unlock()
					if ok {
						return
					}
					if !killed {
						t.Errorf("wave %s shard %d failed: %s\n%s", wave, shard, sum.Error, out)
						return
					}
				}
			})
		}
		wg.Wait()
		r.checkOnce(wave, 0, l)
		for _, state := range r.ledger(wave) {
			if state == string(store.StateUnknown) {
				ambiguous++
			}
		}
		if got := r.frame(wave); !maps.Equal(got, l.want) {
			t.Errorf("wave %s: the frame's populations are %v, the file's %v", wave, got, l.want)
		}
	}
	t.Logf("%d waves of 3 shards: %d runs, %d killed; %d emails, %d emails possibly sent by a killed run (unknown), %d SMS deliveries for %d (resends deduplicated by Idempotency-Key)",
		waves, runs, kills, len(r.sink.Messages()), ambiguous, r.smsTotal(), waves*l.want["sms"])
	if kills < waves*3 {
		t.Errorf("only %d runs were killed: the test did not interrupt the shards", kills)
	}
}

// putStream writes an object of size bytes from gen with the root account, streaming: the
// object is never held in memory whole.
func putStream(t *testing.T, s *tests3.Server, key string, size int64, gen func(io.Writer) error) minio.UploadInfo {
	t.Helper()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(gen(pw)) }()
	info, err := s.Client(t).PutObject(context.Background(), bucket, key, pr, size, minio.PutObjectOptions{ContentType: "text/csv"})
	pr.CloseWithError(err)
	if err != nil {
		t.Fatalf("putting %s: %v", key, err)
	}
	return info
}

// countingWriter counts what is written to it.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// bigList writes an export of over 100 MiB (700,000 people, with an address and a few more
// columns each, as a housing system's export has), whose third line from the end has the
// same id as the first person (line 2): the bad line, bigDup, is near the end, and found only
// once the whole file is read.
func bigList(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	if _, err := bw.WriteString("ref,email,mobile,prefers,address,tenure,landlord,tenancy_start,household\n"); err != nil {
		return err
	}
	for i := range bigRows {
		id := i
		if i == bigRows-3 {
			id = 0
		}
		prefers := "email"
		if i%2 == 1 {
			prefers = "sms"
		}
		if _, err := fmt.Fprintf(bw, "R-%07d,r%07d@example.org,+447700%06d,%s,Flat %d Riverside Court Long Street Townsville TN%d 4AB,general-needs,Riverside Homes,2019-04-01,%d\n",
			id, i, i%1_000_000, prefers, i%500, i%90, i%6+1); err != nil {
			return err
		}
	}
	return bw.Flush()
}

const (
	bigRows = 701_000
	bigDup  = bigRows - 3 + 2 // the header is line 1
)

// Bad input and a store that goes wrong mid-wave (issue 30, item 6), through the sender binary
// against the real S3 server. Each failure stops the shards it reaches before they send
// anything: the SMTP sink gets nothing more, and the ledger has no invitation of the failed
// runs. The error (the summary's, which the manager makes the wave's Failed message and a
// Warning Event) names the line or the problem, never any data of a line. A list with a BOM
// and a gzip-compressed one are read as they should be.
//
// A change mid-wave: shards 0 and 1 of the invitation round finish, then the object goes or
// changes or the key is revoked; shard 2 (a late pod, or one rerun after a kill) then sends
// nothing, nor does the reminder round, which is pinned to the same version. A store that
// answers slowly or not at all is in internal/sender (TestObjectStoreStalls), where the
// deadlines can be made short.
func TestObjectStoreBadInput(t *testing.T) {
	r := newS3Rig(t)
	ctx := context.Background()
	noData := []string{"@example.org", "R-0", "+44770"}
	tests := map[string]struct {
		key string
		// put writes the object, and returns the list for the checks (nil for the big one).
		put func(t *testing.T, key string) *list
		// change happens after shards 0 and 1 finished the invitation round (nil: nothing
		// changes, and every run is the invitation round's).
		change func(t *testing.T, key string, cr creds)
		want   []string // in every failed run's error; nil: the wave goes through
	}{
		"a CSV over 100 MB with a duplicate id 3 lines before its end": {
			key: "nightly/big.csv",
			put: func(t *testing.T, key string) *list {
				var size countingWriter
				_ = bigList(&size)
				if size.n <= 100<<20 { // MiB: over 100 MB either way
					t.Fatalf("the big list is %d bytes: want over 100 MiB", size.n)
				}
				putStream(t, r.s3, key, size.n, bigList)
				return nil
			},
			want: []string{"the audience is invalid, nothing was sent", fmt.Sprintf("line %d: the id is the same as on line 2", bigDup)},
		},
		"the object deleted mid-wave": {
			key: "nightly/deleted.csv",
			change: func(t *testing.T, key string, _ creds) {
				must(t, r.s3.Client(t).RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{}))
			},
			want: []string{"s3://exports/nightly/deleted.csv", "no such object"},
		},
		"the object replaced mid-wave": {
			key: "nightly/replaced.csv",
			change: func(t *testing.T, key string, _ creds) {
				l := makeList(40, false, false)
				r.s3.Put(t, bucket, key, l.data)
			},
			want: []string{"s3://exports/nightly/replaced.csv", "the audience list changed since the wave started"},
		},
		"the credentials revoked mid-wave": {
			key: "nightly/revoked.csv",
			change: func(t *testing.T, _ string, cr creds) {
				r.s3.DeleteUser(t, cr.access)
			},
			want: []string{"s3://exports/nightly/revoked.csv", "the credentials were refused", "spec.audience.source.objectStore.secretRef"},
		},
		"a list with a BOM": {key: "nightly/bom.csv"},
		"a gzip-compressed list (.csv.gz)": {
			key: "nightly/tenants.csv.gz",
			put: func(t *testing.T, key string) *list {
				l := makeList(60, false, true)
				r.s3.Put(t, bucket, key, l.data)
				return &l
			},
		},
	}
	// Each case has its own key pair, which it may revoke. They are all made first: versitygw
	// refuses a bucket policy that names a deleted user, and tests3.Reader rewrites the policy.
	keys := map[string]creds{}
	for name := range tests {
		keys[name] = r.reader()
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			r.t = t
			r.sink = testsmtp.Start(t, "None", nil)
			wave := strings.NewReplacer(" ", "-", "(", "", ")", "", ".", "").Replace(name)
			wave = wave[:min(len(wave), 40)]
			smsBefore := r.smsTotal()
			var l *list
			if tc.put != nil {
				l = tc.put(t, tc.key)
			} else {
				ll := makeList(60, true, false)
				r.s3.Put(t, bucket, tc.key, ll.data)
				l = &ll
			}
			cr := keys[name]
			c := r.campaign(tc.key, 0)
			r.startWave(wave)
			version := r.pin(tc.key, cr)
			round0 := r.jobFile(c, wave, 0, version, cr)

			failed := func(what string, sums []jobfile.Summary, oks []bool) {
				t.Helper()
				t.Logf("%s: %s", what, sums[0].Error)
				for i, sum := range sums {
					if oks[i] {
						t.Errorf("%s, run %d: finished; want it to fail", what, i)
						continue
					}
					for _, w := range tc.want {
						if !strings.Contains(sum.Error, w) {
							t.Errorf("%s, run %d: the error %q does not say %q", what, i, sum.Error, w)
						}
					}
					for _, d := range noData {
						if strings.Contains(sum.Error, d) {
							t.Errorf("%s, run %d: the error %q holds data of the list (%q)", what, i, sum.Error, d)
						}
					}
					if sum.Sent != 0 || sum.Invited != 0 {
						t.Errorf("%s, run %d: sent %d, invited %d; want nothing", what, i, sum.Sent, sum.Invited)
					}
				}
			}

			switch {
			case tc.want == nil:
				sums, oks := r.runShards(round0, 0, 1, 2)
				for i, ok := range oks {
					if !ok {
						t.Fatalf("shard %d failed: %s", i, sums[i].Error)
					}
				}
				r.checkOnce(wave, 0, *l)
				if got := r.frame(wave); !maps.Equal(got, l.want) {
					t.Errorf("the frame's populations are %v, the file's %v", got, l.want)
				}
			case tc.change == nil:
				// Every shard reads the whole list first, so every shard stops.
				sums, oks := r.runShards(round0, 0, 1, 2)
				failed("the invitation round", sums, oks)
				if n := len(r.sink.Messages()); n != 0 {
					t.Errorf("%d emails were sent", n)
				}
				if n := r.smsTotal() - smsBefore; n != 0 {
					t.Errorf("%d SMS were sent", n)
				}
				if got := r.ledger(wave); len(got) != 0 {
					t.Errorf("the ledger holds %d invitations: want none", len(got))
				}
				if got := r.frame(wave); len(got) != 0 {
					t.Errorf("a frame was recorded: %v", got)
				}
			default:
				sums, oks := r.runShards(round0, 0, 1)
				for i, ok := range oks {
					if !ok {
						t.Fatalf("shard %d failed before the change: %s", i, sums[i].Error)
					}
				}
				emails, sms := len(r.sink.Messages()), r.smsTotal()
				tc.change(t, tc.key, cr)
				sums, oks = r.runShards(round0, 2)
				failed("shard 2 of the invitation round, after the change", sums, oks)
				round1 := r.jobFile(c, wave, 1, version, cr)
				sums, oks = r.runShards(round1, 0, 1, 2)
				failed("the reminder round", sums, oks)
				if n := len(r.sink.Messages()); n != emails {
					t.Errorf("%d emails were sent after the change", n-emails)
				}
				if n := r.smsTotal(); n != sms {
					t.Errorf("%d SMS were sent after the change", n-sms)
				}
				// Shards 0 and 1 sent each of theirs once; shard 2's people and the reminder
				// round have nothing in the ledger.
				ledger := r.ledger(wave)
				messages := r.messages()
				for i := range l.n {
					k := key(i)
					state, invited := ledger[k+"/0"]
					if _, reminded := ledger[k+"/1"]; reminded {
						t.Errorf("%s has a reminder in the ledger", k)
					}
					want := reachable(i) && audience.Shard(k, 3) != 2
					got := r.sms(wave, k, 0)
					if i%2 == 0 {
						got = messages[r.email.MessageID(fmt.Sprintf("%s/%s/%s/0", uid, wave, k))]
					}
					switch {
					case want && (state != string(store.StateSent) || got != 1):
						t.Errorf("%s: ledger %q, %d messages; want sent, once", k, state, got)
					case !want && (invited || got != 0):
						t.Errorf("%s: ledger %q, %d messages; want nothing", k, state, got)
					}
				}
			}
			t.Logf("%s", time.Since(start).Round(10*time.Millisecond))
		})
	}
}
