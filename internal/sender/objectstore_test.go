package sender

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/surveyops/survey-operator/internal/audience"
	"github.com/surveyops/survey-operator/internal/jobfile"
	"github.com/surveyops/survey-operator/internal/objectstore"
	"github.com/surveyops/survey-operator/internal/tests3"
)

// s3List is an export of n people of whom `reachable`, half at its start and half at its
// end, have a contact: even ones an email (shared ownership, asked by email), odd ones a
// mobile (general needs, by SMS first). The rest have none, so that a list of many megabytes
// sends few messages. Each line is about 40 bytes.
type s3List struct {
	data        []byte
	want        map[string]int  // each segment's population
	keys        []string        // the people invited
	emails, sms map[string]bool // their addresses and numbers
}

func newS3List(n, reachable int, tag string) s3List {
	var b bytes.Buffer
	b.WriteString("tenancy_ref,email,mobile,tenure\n")
	l := s3List{want: map[string]int{}, emails: map[string]bool{}, sms: map[string]bool{}}
	for i := range n {
		k := fmt.Sprintf("T-%s%06d", tag, i)
		none := i >= reachable/2 && i < n-reachable/2
		switch {
		case none && i%2 == 0:
			fmt.Fprintf(&b, "%s,,,shared-ownership\n", k)
			l.want["shared-ownership"]++
		case none:
			fmt.Fprintf(&b, "%s,,,general-needs\n", k)
			l.want["general-needs"]++
		case i%2 == 0:
			email := fmt.Sprintf("p%s%06d@example.org", tag, i)
			fmt.Fprintf(&b, "%s,%s,,shared-ownership\n", k, email)
			l.want["shared-ownership"]++
			l.emails[email] = true
			l.keys = append(l.keys, k)
		default:
			mobile := fmt.Sprintf("+44770%06d%d", i, len(tag))
			fmt.Fprintf(&b, "%s,,%s,general-needs\n", k, mobile)
			l.want["general-needs"]++
			l.sms[mobile] = true
			l.keys = append(l.keys, k)
		}
	}
	l.data = b.Bytes()
	return l
}

// s3Job is the Job a sender builds from a job file whose list is key in the bucket, pinned to
// version v and read with the given key pair (Build, as cmd/sender runs it), with the rig's
// ledger and clock.
func (r *rig) s3Job(t *testing.T, s *tests3.Server, key string, v objectstore.Version, access, secret string) Job {
	t.Helper()
	dir := t.TempDir()
	write := func(name, data string) string { return writeFile(t, dir, name, data) }
	keys := filepath.Join(dir, "keys")
	if err := os.Mkdir(keys, 0o700); err != nil {
		t.Fatal(err)
	}
	write("keys/2026-01", string(bytes.Repeat([]byte{3}, 32)))
	cfg := jobfile.Config{CampaignUID: uid, WaveID: "20260401-0900", Namespace: "riverside-homes", Campaign: "tenant-satisfaction",
		Title: "Riverside Homes tenant survey", PublicURL: "https://listen.example.org", Expiry: r.now.Add(21 * 24 * time.Hour),
		Seed: uid + "/20260401-0900", Shards: 1,
		Audience: jobfile.AudienceConfig{
			ObjectStore: &jobfile.ObjectStore{Endpoint: s.Host, Bucket: "exports", Key: key, Region: s.Region, Insecure: true, Addressing: "Path",
				AccessKeyFile: write("accesskey", access+"\n"), SecretKeyFile: write("secretkey", secret+"\n"), ETag: v.ETag, VersionID: v.VersionID},
			Gzip: strings.HasSuffix(key, ".gz"), Format: "CSV", IDField: "tenancy_ref",
			Segments: []audience.Segment{
				{Name: "general-needs", Match: `attrs.tenure == "general-needs"`, Channels: []string{"sms", "email"}},
				{Name: "shared-ownership", Channels: []string{"email"}},
			}},
		Channels: []jobfile.ChannelConfig{
			{Name: "email", ContactField: "email", Email: &jobfile.Email{Host: "127.0.0.1", Port: r.sink.Port, TLS: "None", From: "listening@riverside.example", Connections: 2}},
			{Name: "sms", ContactField: "mobile", Webhook: &jobfile.Hook{URL: r.smsURL}},
		},
		CollectorURL: "http://127.0.0.1:1", TokenKeysDir: keys, BatchSize: 5}
	job, err := Build(cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, c := range job.Channels {
			c.Close()
		}
	})
	job.Ledger, job.Now = r.ledger, r.clock
	return job
}

// tripwire calls fire once its reader has given at bytes.
type tripwire struct {
	io.ReadCloser
	n, at int64
	once  sync.Once
	fire  func()
}

func (w *tripwire) Read(p []byte) (int, error) {
	n, err := w.ReadCloser.Read(p)
	w.n += int64(n)
	if w.n >= w.at {
		w.once.Do(w.fire)
	}
	return n, err
}

// A list in object storage that goes or changes between the sender's two passes over it, or
// whose store stalls or stops answering part way: the sender's own object store client
// against the real S3 server (versitygw), with the deadlines shortened so that a stall costs
// seconds, not minutes. (cmd/sender's TestObjectStoreBadInput runs the sender binary against
// the same server, for the changes between shards and rounds.)
//
// Each case changes something at one moment of the run: before the first or second pass
// opens the list (pass 1 or 2, at 0), or once that pass has read `at` bytes. A failed run
// sends nothing that it had not recorded (before the sending pass: nothing at all), and says
// what went wrong, naming the object and never the data; a list read in full sends each
// person once. A run that fails part way through sending is run again once the store
// answers, and nobody gets two messages.
func TestObjectStoreStalls(t *testing.T) {
	saved := objectStoreWaits
	defer func() { objectStoreWaits = saved }()
	objectStoreWaits.Timeout, objectStoreWaits.Backoff, objectStoreWaits.Retries = 500*time.Millisecond, 100*time.Millisecond, 3

	plain, versioned := tests3.Start(t), tests3.StartVersioned(t)
	for _, s := range []*tests3.Server{plain, versioned} {
		s.Bucket(t, "exports")
	}
	// 1,000,000 lines, about 40 MB: much more than the sockets between the store and the
	// sender hold (several MB each way) and the sender's read-ahead (4 MiB), so that a store
	// frozen part way stalls the read. (At 20 MB, a run once had the whole object in flight
	// when the store froze.)
	big := newS3List(1_000_000, 40, "")
	small := newS3List(60, 60, "")
	other := newS3List(60, 60, "N") // another list, put in the wave's list's place
	ctx := context.Background()

	type event struct {
		pass int
		at   int64 // bytes into the pass; 0: before it opens
	}
	tests := map[string]struct {
		s         *tests3.Server
		list      s3List
		when      event
		do        func(t *testing.T, key, access string)
		want      []string // in the error; nil: the wave goes through
		rerun     bool     // once the store answers again, a rerun sends the rest
		minPaused time.Duration
	}{
		"the object deleted between the passes": {
			s: plain, list: small, when: event{pass: 2},
			do: func(t *testing.T, key, _ string) {
				if err := plain.Client(t).RemoveObject(ctx, "exports", key, minio.RemoveObjectOptions{}); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"opening the audience: s3://exports/", "no such object", "it was deleted or moved since the wave started"},
		},
		"the object replaced between the passes": {
			s: plain, list: small, when: event{pass: 2},
			do:   func(t *testing.T, key, _ string) { plain.Put(t, "exports", key, other.data) },
			want: []string{"opening the audience: the audience list changed since the wave started: s3://exports/", "was replaced"},
		},
		"the object replaced between the passes, on a versioned bucket: the wave reads its version": {
			s: versioned, list: small, when: event{pass: 2},
			do: func(t *testing.T, key, _ string) { versioned.Put(t, "exports", key, other.data) },
		},
		"the credentials revoked mid-read": {
			s: plain, list: big, when: event{pass: 1, at: 1 << 20},
			// The read in progress goes on; the next request, once the store stalls and the
			// read resumes, is refused.
			do: func(t *testing.T, _, access string) {
				plain.DeleteUser(t, access)
				pauseFor(t, plain, 1200*time.Millisecond)
			},
			want: []string{"s3://exports/", "the credentials were refused", "spec.audience.source.objectStore.secretRef"},
		},
		"a store that stalls mid-read: the read is cut at its deadline and resumed": {
			s: plain, list: big, when: event{pass: 1, at: 1 << 20},
			do:        func(t *testing.T, _, _ string) { pauseFor(t, plain, 1500*time.Millisecond) },
			minPaused: 1500 * time.Millisecond,
		},
		"a store slow to answer a pass's first request": {
			s: plain, list: small, when: event{pass: 2},
			do:        func(t *testing.T, _, _ string) { pauseFor(t, plain, 1500*time.Millisecond) },
			minPaused: 1500 * time.Millisecond,
		},
		"a store that never answers again, before the first pass": {
			s: plain, list: small, when: event{pass: 1},
			do:   func(t *testing.T, _, _ string) { plain.Pause(t) },
			want: []string{"opening the audience: s3://exports/", "the object store did not answer", "gave up after 3 tries"},
		},
		"a store that never answers again, mid-send": {
			s: plain, list: big, when: event{pass: 2, at: 1 << 20},
			do:    func(t *testing.T, _, _ string) { plain.Pause(t) },
			want:  []string{"reading the audience, sending stopped part way", "s3://exports/", "the object store did not answer", "gave up after 3 tries"},
			rerun: true,
		},
	}
	// Each case reads with its own key pair, which it may revoke. They are all made first:
	// versitygw refuses a bucket policy that names a deleted user, and tests3.Reader rewrites
	// the policy.
	type pair struct{ access, secret string }
	keys := map[string]pair{}
	for name, tc := range tests {
		a, s := tc.s.Reader(t, "exports")
		keys[name] = pair{a, s}
	}
	n := 0
	for name, tc := range tests {
		n++
		t.Run(name, func(t *testing.T) {
			r := newRig(t)
			key := fmt.Sprintf("nightly/tenants-%d.csv", n)
			put := tc.s.Put(t, "exports", key, tc.list.data)
			access, secret := keys[name].access, keys[name].secret
			// The wave's version, as the manager pins it: the one put.
			v := objectstore.Version{ETag: put.ETag, VersionID: put.VersionID}
			job := r.s3Job(t, tc.s, key, v, access, secret)
			open, opens := job.Open, 0
			job.Open = func() (io.ReadCloser, error) {
				opens++
				if opens != tc.when.pass {
					return open()
				}
				if tc.when.at == 0 {
					tc.do(t, key, access)
					return open()
				}
				f, err := open()
				if err != nil {
					return nil, err
				}
				return &tripwire{ReadCloser: f, at: tc.when.at, fire: func() { tc.do(t, key, access) }}, nil
			}
			start := time.Now()
			sum, err := Run(ctx, job)
			took := time.Since(start)
			t.Logf("%s: %s", took.Round(10*time.Millisecond), sum.JSON())
			if tc.want == nil {
				if err != nil {
					t.Fatalf("the wave failed: %v", err)
				}
				if took < tc.minPaused {
					t.Errorf("the run took %s: the store was not frozen for %s", took, tc.minPaused)
				}
			} else {
				if err == nil {
					t.Fatal("the wave went through")
				}
				for _, w := range tc.want {
					if !strings.Contains(sum.Error, w) {
						t.Errorf("the error %q does not say %q", sum.Error, w)
					}
				}
				for _, d := range []string{"@example.org", "T-", "+44770"} {
					if strings.Contains(sum.Error, d) {
						t.Errorf("the error %q holds data of the list (%q)", sum.Error, d)
					}
				}
				if !tc.rerun {
					r.checkNothingSent(t)
					return
				}
				// The people read before the store froze were sent and recorded; the rerun
				// sends the rest, and nobody twice.
				tc.s.Resume()
				job := r.s3Job(t, tc.s, key, v, access, secret)
				again, err := Run(ctx, job)
				if err != nil {
					t.Fatalf("the rerun: %v %s", err, again.JSON())
				}
				if sum.Sent == 0 || sum.Sent+again.Sent != len(tc.list.keys) || again.Skipped["already-sent"] != sum.Sent {
					t.Errorf("sent %d, then %d on the rerun (which skipped %d already sent); want some, then the rest of %d",
						sum.Sent, again.Sent, again.Skipped["already-sent"], len(tc.list.keys))
				}
			}
			r.checkEachOnce(t, tc.list)
		})
	}
}

// pauseFor freezes the store for d, or until the test ends.
func pauseFor(t *testing.T, s *tests3.Server, d time.Duration) {
	s.Pause(t)
	timer := time.AfterFunc(d, s.Resume)
	t.Cleanup(func() { timer.Stop() })
}

// checkNothingSent: no message went, and the ledger holds no invitation.
func (r *rig) checkNothingSent(t *testing.T) {
	t.Helper()
	if n := len(r.sink.Messages()); n > 0 {
		t.Errorf("%d emails were sent", n)
	}
	r.mu.Lock()
	sms := len(r.sms)
	r.mu.Unlock()
	if sms > 0 {
		t.Errorf("%d SMS were sent", sms)
	}
	sum, err := r.store.Summarize(context.Background(), uid, "20260401-0900", "tp01")
	if err != nil {
		t.Fatal(err)
	}
	for g, d := range sum.Dispositions {
		t.Errorf("the ledger holds invitations: %v %+v", g, d)
	}
}

// checkEachOnce: every reachable person of l got one message, nobody else got any, the ledger
// says each was sent, and the frame's populations are l's.
func (r *rig) checkEachOnce(t *testing.T, l s3List) {
	t.Helper()
	emails := map[string]int{}
	for _, m := range r.sink.Messages() {
		emails[m.To]++
	}
	r.mu.Lock()
	sms := map[string]int{}
	for _, m := range r.sms {
		sms[m["to"]]++
	}
	r.mu.Unlock()
	for what, c := range map[string]struct {
		got  map[string]int
		want map[string]bool
	}{"email": {emails, l.emails}, "SMS": {sms, l.sms}} {
		for to, n := range c.got {
			if n != 1 || !c.want[to] {
				t.Errorf("%d %s to %s: want %d", n, what, to, map[bool]int{true: 1}[c.want[to]])
			}
		}
		if len(c.got) != len(c.want) {
			t.Errorf("%d people got an %s, want %d", len(c.got), what, len(c.want))
		}
	}
	ctx := context.Background()
	sent, err := r.store.Unanswered(ctx, uid, "20260401-0900", l.keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) != len(l.keys) {
		t.Errorf("the ledger says %d of the %d people were sent their invitation", len(sent), len(l.keys))
	}
	sum, err := r.store.Summarize(ctx, uid, "20260401-0900", "tp01")
	if err != nil {
		t.Fatal(err)
	}
	for seg, want := range l.want {
		if got := sum.Frame[seg].Population; got != want {
			t.Errorf("segment %s: population %d in the frame, %d in the list", seg, got, want)
		}
	}
}

// A run that stops reading early (SIGTERM, a bad line) closes the list at once, even while
// the store is frozen mid-read: closing cancels the object's request before the read-ahead
// waits for the buffer it is filling. Without that, Close waited out the store's deadline
// (30 s by default) and its retries, past a pod's grace period.
func TestClosingAStalledObjectReturnsAtOnce(t *testing.T) {
	s := tests3.Start(t)
	s.Bucket(t, "exports")
	big := newS3List(1_000_000, 40, "")
	put := s.Put(t, "exports", "nightly/tenants.csv", big.data)
	access, secret := s.Reader(t, "exports")
	dir := t.TempDir()
	write := func(name, data string) string { return writeFile(t, dir, name, data) }
	// The store's own waits are the defaults (30 s, 5 tries), as in a Job.
	src, err := newSource(context.Background(), jobfile.AudienceConfig{ObjectStore: &jobfile.ObjectStore{
		Endpoint: s.Host, Bucket: "exports", Key: "nightly/tenants.csv", Region: s.Region, Insecure: true, Addressing: "Path",
		AccessKeyFile: write("access", access), SecretKeyFile: write("secret", secret), ETag: put.ETag}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := src.open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(io.Discard, r, 1<<20); err != nil {
		t.Fatal(err)
	}
	s.Pause(t)
	defer s.Resume()
	// Read on until a read blocks: the buffers and the sockets are drained, and the read-ahead
	// waits on the frozen store.
	read := make(chan int64, 1)
	go func() {
		n, _ := io.Copy(io.Discard, r)
		read <- n
	}()
	time.Sleep(2 * time.Second)
	select {
	case n := <-read:
		t.Fatalf("the whole object (%d bytes more) was read though the store froze", n)
	default:
	}
	closed := make(chan error, 1)
	go func() { closed <- r.Close() }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second): // the store's deadline is 30 s
		t.Fatal("closing the list waits for the frozen store")
	}
	select {
	case <-read: // the blocked read ends too
	case <-time.After(10 * time.Second):
		t.Fatal("the read blocked on the frozen store did not end when the list was closed")
	}
}

// writeFile writes data to dir/name, readable by its owner only, and returns its path.
func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
