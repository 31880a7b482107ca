package tests3

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

const audience = "id,email,mobile,tenure\n1,a@example.org,,owner\n2,b@example.org,,tenant\n"

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func read(t *testing.T, obj *minio.Object) (string, error) {
	t.Helper()
	defer obj.Close()
	b, err := io.ReadAll(obj)
	return string(b), err
}

// The calls the audience reader is built on, against the real server, with path-style
// addressing: a put, a HEAD for the ETag, a GET pinned to it with If-Match, a ranged read.
func TestObjectPinnedToItsETag(t *testing.T) {
	s := Start(t)
	s.Bucket(t, "exports")
	put := s.Put(t, "exports", "nightly/audience.csv", []byte(audience))
	c := s.Client(t)

	info, err := c.StatObject(ctx(t), "exports", "nightly/audience.csv", minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.ETag == "" || info.ETag != put.ETag || strings.Contains(info.ETag, `"`) {
		t.Fatalf("HEAD's ETag %q, put's %q: want the same, unquoted", info.ETag, put.ETag)
	}
	if info.Size != int64(len(audience)) {
		t.Fatalf("HEAD's size %d, want %d", info.Size, len(audience))
	}

	tests := map[string]struct {
		etag     string
		from, to int64 // a range when either is set
		want     string
		wantCode string
		wantHTTP int
	}{
		"If-Match on the ETag": {etag: info.ETag, want: audience},
		// SetMatchETag quotes the ETag itself: one given quoted matches nothing.
		"If-Match on the ETag, quoted":              {etag: `"` + info.ETag + `"`, wantCode: "PreconditionFailed", wantHTTP: http.StatusPreconditionFailed},
		"If-Match on another ETag":                  {etag: "0123456789abcdef0123456789abcdef", wantCode: "PreconditionFailed", wantHTTP: http.StatusPreconditionFailed},
		"a range":                                   {from: 23, to: 44, want: audience[23:45]},
		"a range from an offset to the end, pinned": {etag: info.ETag, from: 45, want: audience[45:]},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var opts minio.GetObjectOptions
			if tc.etag != "" {
				if err := opts.SetMatchETag(tc.etag); err != nil {
					t.Fatal(err)
				}
			}
			if tc.from > 0 || tc.to > 0 {
				if err := opts.SetRange(tc.from, tc.to); err != nil {
					t.Fatal(err)
				}
			}
			obj, err := c.GetObject(ctx(t), "exports", "nightly/audience.csv", opts)
			if err != nil {
				t.Fatalf("GetObject: %v", err) // it is lazy: errors come with Stat or Read
			}
			got, err := read(t, obj)
			if tc.wantCode != "" {
				resp := minio.ToErrorResponse(err)
				if resp.Code != tc.wantCode || resp.StatusCode != tc.wantHTTP {
					t.Fatalf("got %q, error %v (code %q, HTTP %d), want code %q, HTTP %d", got, err, resp.Code, resp.StatusCode, tc.wantCode, tc.wantHTTP)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// The errors the audience reader must tell apart, as versitygw answers them through
// minio-go: StatObject (a HEAD, so no error body: minio-go makes the code from the status) and
// a GetObject read (an error body with the server's own code).
func TestErrors(t *testing.T) {
	s := Start(t)
	s.Bucket(t, "exports")
	v1 := s.Put(t, "exports", "audience.csv", []byte(audience))
	s.Put(t, "exports", "audience.csv", []byte(audience+"3,c@example.org,,owner\n"))
	readerKey, readerSecret := s.Reader(t, "exports")
	goneKey, goneSecret := s.Reader(t, "exports")
	s.DeleteUser(t, goneKey)

	type want struct {
		code string
		http int
	}
	tests := map[string]struct {
		client               *minio.Client
		bucket, key, ifMatch string
		head, get            want
	}{
		"a missing object": {
			client: s.Client(t), bucket: "exports", key: "missing.csv",
			head: want{"NoSuchKey", 404}, get: want{"NoSuchKey", 404},
		},
		"a missing bucket": {
			client: s.Client(t), bucket: "nobucket", key: "audience.csv",
			// A HEAD cannot say which: minio-go calls any 404 on an object NoSuchKey.
			head: want{"NoSuchKey", 404}, get: want{"NoSuchBucket", 404},
		},
		"a changed object (If-Match on the first version's ETag)": {
			client: s.Client(t), bucket: "exports", key: "audience.csv", ifMatch: v1.ETag,
			head: want{"PreconditionFailed", 412}, get: want{"PreconditionFailed", 412},
		},
		"a wrong secret": {
			client: s.ClientFor(t, s.AccessKey, "wrong"+s.SecretKey[5:]), bucket: "exports", key: "audience.csv",
			head: want{"AccessDenied", 403}, get: want{"SignatureDoesNotMatch", 403},
		},
		"an unknown access key": {
			client: s.ClientFor(t, "UNKNOWNKEY0123456789", s.SecretKey), bucket: "exports", key: "audience.csv",
			head: want{"AccessDenied", 403}, get: want{"InvalidAccessKeyId", 403},
		},
		"a deleted user's key (expired, revoked)": {
			client: s.ClientFor(t, goneKey, goneSecret), bucket: "exports", key: "audience.csv",
			head: want{"AccessDenied", 403}, get: want{"InvalidAccessKeyId", 403},
		},
		"a user with no right to the bucket": {
			client: s.ClientFor(t, readerKey, readerSecret), bucket: "other", key: "audience.csv",
			head: want{"AccessDenied", 403}, get: want{"AccessDenied", 403},
		},
	}
	s.Bucket(t, "other")
	s.Put(t, "other", "audience.csv", []byte(audience))
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var opts minio.GetObjectOptions
			if tc.ifMatch != "" {
				if err := opts.SetMatchETag(tc.ifMatch); err != nil {
					t.Fatal(err)
				}
			}
			_, err := tc.client.StatObject(ctx(t), tc.bucket, tc.key, opts)
			if r := minio.ToErrorResponse(err); r.Code != tc.head.code || r.StatusCode != tc.head.http {
				t.Errorf("StatObject: %v (code %q, HTTP %d), want code %q, HTTP %d", err, r.Code, r.StatusCode, tc.head.code, tc.head.http)
			}
			obj, err := tc.client.GetObject(ctx(t), tc.bucket, tc.key, opts)
			if err == nil {
				_, err = read(t, obj)
			}
			if r := minio.ToErrorResponse(err); r.Code != tc.get.code || r.StatusCode != tc.get.http {
				t.Errorf("GetObject: %v (code %q, HTTP %d), want code %q, HTTP %d", err, r.Code, r.StatusCode, tc.get.code, tc.get.http)
			}
		})
	}

	// The reader's key reads its bucket until it is deleted, and not after.
	c := s.ClientFor(t, readerKey, readerSecret)
	if _, err := c.StatObject(ctx(t), "exports", "audience.csv", minio.StatObjectOptions{}); err != nil {
		t.Fatalf("the reader's HEAD: %v", err)
	}
	s.DeleteUser(t, readerKey)
	if _, err := c.StatObject(ctx(t), "exports", "audience.csv", minio.StatObjectOptions{}); minio.ToErrorResponse(err).StatusCode != http.StatusForbidden {
		t.Fatalf("the reader's HEAD after its key was deleted: %v, want 403", err)
	}
}

// On a versioned bucket every put keeps a version: a HEAD gives the current one's id, and a
// read of an older version id still gets that version's bytes.
func TestVersioned(t *testing.T) {
	s := StartVersioned(t)
	s.Bucket(t, "exports")
	v1 := s.Put(t, "exports", "audience.csv", []byte(audience))
	v2 := s.Put(t, "exports", "audience.csv", []byte(audience+"3,c@example.org,,owner\n"))
	if v1.VersionID == "" || v2.VersionID == "" || v1.VersionID == v2.VersionID {
		t.Fatalf("version ids %q and %q: want two different ones", v1.VersionID, v2.VersionID)
	}
	c := s.Client(t)
	info, err := c.StatObject(ctx(t), "exports", "audience.csv", minio.StatObjectOptions{})
	if err != nil || info.VersionID != v2.VersionID || info.ETag != v2.ETag {
		t.Fatalf("HEAD: %+v, %v; want version %s, ETag %s", info, err, v2.VersionID, v2.ETag)
	}
	opts := minio.GetObjectOptions{VersionID: v1.VersionID}
	if err := opts.SetMatchETag(v1.ETag); err != nil {
		t.Fatal(err)
	}
	obj, err := c.GetObject(ctx(t), "exports", "audience.csv", opts)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := read(t, obj); err != nil || got != audience {
		t.Fatalf("the first version: %q, %v; want %q", got, err, audience)
	}

	// Deleted, the object reads on at its version id.
	if err := c.RemoveObject(ctx(t), "exports", "audience.csv", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.StatObject(ctx(t), "exports", "audience.csv", minio.StatObjectOptions{}); minio.ToErrorResponse(err).StatusCode != http.StatusNotFound {
		t.Fatalf("HEAD after delete: %v, want 404", err)
	}
	obj, err = c.GetObject(ctx(t), "exports", "audience.csv", minio.GetObjectOptions{VersionID: v1.VersionID})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := read(t, obj); err != nil || got != audience {
		t.Fatalf("the first version after delete: %q, %v", got, err)
	}

	// versitygw's version ids are ULIDs: one of that form that was never written is not
	// found; one of another form is refused as bad (the HEAD's has no body, so minio-go's
	// code is the HTTP status line).
	unknown := v1.VersionID[:len(v1.VersionID)-2] + "ZZ"
	if unknown == v1.VersionID || unknown == v2.VersionID {
		t.Fatalf("version ids %s and %s", v1.VersionID, v2.VersionID)
	}
	type want struct {
		code string
		http int
	}
	tests := map[string]struct {
		versionID string
		head, get want
	}{
		"an unknown version id":  {versionID: unknown, head: want{"NoSuchKey", 404}, get: want{"NoSuchVersion", 404}},
		"the null version id":    {versionID: "null", head: want{"NoSuchKey", 404}, get: want{"NoSuchVersion", 404}},
		"a malformed version id": {versionID: "no-such-version", head: want{"400 Bad Request", 400}, get: want{"InvalidArgument", 400}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			opts := minio.GetObjectOptions{VersionID: tc.versionID}
			_, err := c.StatObject(ctx(t), "exports", "audience.csv", opts)
			if r := minio.ToErrorResponse(err); r.Code != tc.head.code || r.StatusCode != tc.head.http {
				t.Errorf("StatObject: %v (code %q, HTTP %d), want code %q, HTTP %d", err, r.Code, r.StatusCode, tc.head.code, tc.head.http)
			}
			obj, err := c.GetObject(ctx(t), "exports", "audience.csv", opts)
			if err == nil {
				_, err = read(t, obj)
			}
			if r := minio.ToErrorResponse(err); r.Code != tc.get.code || r.StatusCode != tc.get.http {
				t.Errorf("GetObject: %v (code %q, HTTP %d), want code %q, HTTP %d", err, r.Code, r.StatusCode, tc.get.code, tc.get.http)
			}
		})
	}
}

// The server signs for Region, not the S3 default: a client given no region asks the bucket's
// location first (GetBucketLocation) and gets it right; a client given the wrong one is
// refused before anything is read.
func TestRegion(t *testing.T) {
	s := Start(t)
	s.Bucket(t, "exports")
	s.Put(t, "exports", "audience.csv", []byte(audience))
	tests := map[string]struct {
		region            string
		headCode, getCode string
	}{
		"the server's region":        {region: Region},
		"no region":                  {region: ""},
		"the S3 default, wrong here": {region: "us-east-1", headCode: "400 Bad Request", getCode: "AuthorizationHeaderMalformed"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := minio.New(s.Host, &minio.Options{
				Creds:  credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
				Region: tc.region,
			})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.StatObject(ctx(t), "exports", "audience.csv", minio.StatObjectOptions{})
			if r := minio.ToErrorResponse(err); r.Code != tc.headCode {
				t.Errorf("StatObject: %v (code %q, HTTP %d), want code %q", err, r.Code, r.StatusCode, tc.headCode)
			}
			obj, err := c.GetObject(ctx(t), "exports", "audience.csv", minio.GetObjectOptions{})
			if err == nil {
				_, err = read(t, obj)
			}
			if r := minio.ToErrorResponse(err); r.Code != tc.getCode {
				t.Errorf("GetObject: %v (code %q, HTTP %d), want code %q", err, r.Code, r.StatusCode, tc.getCode)
			}
		})
	}
}

// Virtual-host addressing (bucket.s3.localhost:PORT) reaches the same object.
func TestVirtualHost(t *testing.T) {
	s := Start(t)
	s.Bucket(t, "exports")
	s.Put(t, "exports", "audience.csv", []byte(audience))
	rec := &hostRecorder{rt: s.Transport()}
	c, err := minio.New(s.VirtualHost, &minio.Options{
		Creds:        credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Region:       s.Region,
		BucketLookup: minio.BucketLookupDNS,
		Transport:    rec,
	})
	if err != nil {
		t.Fatal(err)
	}
	obj, err := c.GetObject(ctx(t), "exports", "audience.csv", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := read(t, obj); err != nil || got != audience {
		t.Fatalf("got %q, %v", got, err)
	}
	if want := "exports." + s.VirtualHost; len(rec.hosts) != 1 || rec.hosts[0] != want {
		t.Fatalf("requests went to %q, want one to %q", rec.hosts, want)
	}
}

type hostRecorder struct {
	rt    http.RoundTripper
	hosts []string
}

func (h *hostRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	h.hosts = append(h.hosts, r.Host)
	return h.rt.RoundTrip(r)
}

// A paused server answers nothing: a HEAD with a deadline fails by it, and once resumed the
// same call succeeds.
func TestPause(t *testing.T) {
	s := Start(t)
	s.Bucket(t, "exports")
	big := bytes.Repeat([]byte("1,a@example.org,,owner\n"), 1<<16) // 1.5 MB
	s.Put(t, "exports", "audience.csv", big)
	c := s.Client(t)

	s.Pause(t)
	short, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.StatObject(short, "exports", "audience.csv", minio.StatObjectOptions{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("HEAD on a paused server: %v, want the deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("HEAD on a paused server took %s", d)
	}
	s.Resume()
	if _, err := c.StatObject(ctx(t), "exports", "audience.csv", minio.StatObjectOptions{}); err != nil {
		t.Fatalf("HEAD after resume: %v", err)
	}
}

// A read under way when the server is paused stalls once the sockets' buffers are drained, and
// goes on to the end when it is resumed.
func TestPauseMidRead(t *testing.T) {
	s := Start(t)
	s.Bucket(t, "exports")
	big := bytes.Repeat([]byte("1,a@example.org,,owner\n"), 32<<20/23) // 32 MB, over any socket buffers
	s.Put(t, "exports", "audience.csv", big)
	obj, err := s.Client(t).GetObject(ctx(t), "exports", "audience.csv", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	first := make([]byte, 64<<10)
	if _, err := io.ReadFull(obj, first); err != nil {
		t.Fatal(err)
	}
	s.Pause(t)
	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := io.Copy(io.Discard, obj)
		done <- result{n, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("read to the end (%d bytes, %v) while the server was paused", r.n, r.err)
	case <-time.After(2 * time.Second):
	}
	s.Resume()
	r := <-done
	if r.err != nil || int(r.n)+len(first) != len(big) {
		t.Fatalf("after resume: read %d bytes in all, %v; want %d", int(r.n)+len(first), r.err, len(big))
	}
}

// How long a server takes to start, the binary built.
func BenchmarkStart(b *testing.B) {
	if _, err := Binary(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		Start(b).stop()
	}
}

// A reader deleted, then another made for the same bucket: the new policy does not name the
// deleted one (versitygw would refuse it), and the new reader reads.
func TestReaderAfterADeletedReader(t *testing.T) {
	s := Start(t)
	s.Bucket(t, "exports")
	s.Put(t, "exports", "a.csv", []byte("id\n1\n"))
	first, _ := s.Reader(t, "exports")
	s.DeleteUser(t, first)
	access, secret := s.Reader(t, "exports")
	if _, err := s.ClientFor(t, access, secret).StatObject(t.Context(), "exports", "a.csv", minio.StatObjectOptions{}); err != nil {
		t.Fatalf("the second reader: %v", err)
	}
}
