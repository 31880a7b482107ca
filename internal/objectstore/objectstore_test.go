package objectstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/surveyops/survey-operator/internal/tests3"
)

func list(n int) []byte {
	var b bytes.Buffer
	b.WriteString("ref,email\n")
	for i := range n {
		fmt.Fprintf(&b, "R-%06d,r%06d@example.org\n", i, i)
	}
	return b.Bytes()
}

// Against a real S3 server (versitygw): the HEAD finds the version, a read pinned to it reads
// it, and each way the object or its access can go wrong is told apart.
func TestObjectStoreAgainstARealServer(t *testing.T) {
	s := tests3.Start(t)
	s.Bucket(t, "exports")
	data := list(2000)
	put := s.Put(t, "exports", "tenants.csv", data)
	access, secret := s.Reader(t, "exports")
	ctx := context.Background()
	cfg := Config{Endpoint: s.Host, Bucket: "exports", Key: "tenants.csv", Region: s.Region, Insecure: true, Addressing: "Path",
		AccessKey: access, SecretKey: secret, Timeout: 5 * time.Second, Backoff: 50 * time.Millisecond}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Stat(ctx)
	if err != nil {
		t.Fatalf("stat: %v", err)
	}
	if v.ETag != put.ETag || v.Size != int64(len(data)) || v.Modified.IsZero() {
		t.Fatalf("version %+v, want ETag %s and %d bytes", v, put.ETag, len(data))
	}
	read := func(c *Client, v Version) ([]byte, error) {
		r, err := c.Open(ctx, v)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return io.ReadAll(r)
	}
	if got, err := read(c, v); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("pinned read: %d bytes, %v", len(got), err)
	}

	for name, tc := range map[string]struct {
		cfg  func(Config) Config
		v    Version
		kind Kind
		op   func(c *Client) error
	}{
		"no such key":    {cfg: func(c Config) Config { c.Key = "missing.csv"; return c }, kind: NotFound},
		"no such bucket": {cfg: func(c Config) Config { c.Bucket = "nobucket"; return c }, kind: NotFound},
		"a wrong secret": {cfg: func(c Config) Config { c.SecretKey = "wrong" + c.SecretKey; return c }, kind: Denied},
		"an unknown key": {cfg: func(c Config) Config { c.AccessKey = "NOSUCHKEY0001"; return c }, kind: Denied},
		"a read of another version": {v: Version{ETag: `"0123456789abcdef0123456789abcdef"`}, kind: Changed,
			op: func(c *Client) error {
				_, err := read(c, Version{ETag: `"0123456789abcdef0123456789abcdef"`})
				return err
			}},
		"the wrong region":  {cfg: func(c Config) Config { c.Region = "us-east-1"; return c }, kind: Invalid},
		"nothing listening": {cfg: func(c Config) Config { c.Endpoint = "127.0.0.1:1"; c.Timeout = time.Second; return c }, kind: Unavailable},
	} {
		t.Run(name, func(t *testing.T) {
			cc := cfg
			if tc.cfg != nil {
				cc = tc.cfg(cfg)
			}
			c, err := New(cc)
			if err != nil {
				t.Fatal(err)
			}
			if tc.op == nil {
				_, err = c.Stat(ctx)
			} else {
				err = tc.op(c)
			}
			if err == nil || KindOf(err) != tc.kind {
				t.Fatalf("got %v (kind %d), want kind %d", err, KindOf(err), tc.kind)
			}
			if strings.Contains(err.Error(), "@example.org") {
				t.Errorf("the error holds the list's content: %v", err)
			}
		})
	}

	// The object replaced after the wave pinned it: a read of the pinned version is refused,
	// never the new list read instead.
	s.Put(t, "exports", "tenants.csv", list(10))
	if _, err := read(c, v); KindOf(err) != Changed {
		t.Fatalf("read of a replaced object: %v, want Changed", err)
	}
	// Deleted: not found.
	if err := s.Client(t).RemoveObject(ctx, "exports", "tenants.csv", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := read(c, v); KindOf(err) != NotFound && KindOf(err) != Changed {
		t.Fatalf("read of a deleted object: %v, want NotFound", err)
	}
	// The reader's key revoked: denied.
	s.DeleteUser(t, access)
	if _, err := c.Stat(ctx); KindOf(err) != Denied {
		t.Fatalf("stat with a revoked key: %v, want Denied", err)
	}
}

// A storage that stops answering part way through a read: each wait has a deadline, and the
// read resumes where it stopped, with backoff, once the storage answers again; a storage that
// never does gives up after the retries, saying so.
func TestReadResumesAfterTheStorageStalls(t *testing.T) {
	s := tests3.Start(t)
	s.Bucket(t, "exports")
	data := list(200_000) // about 5 MB: more than one read's buffers
	s.Put(t, "exports", "big.csv", data)
	ctx := context.Background()
	cfg := Config{Endpoint: s.Host, Bucket: "exports", Key: "big.csv", Region: s.Region, Insecure: true, Addressing: "Path",
		AccessKey: s.AccessKey, SecretKey: s.SecretKey, Timeout: time.Second, Backoff: 200 * time.Millisecond, Retries: 6}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Stat(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Open(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 64<<10)
	if _, err := io.ReadFull(r, head); err != nil {
		t.Fatal(err)
	}
	// Frozen for 3 seconds: the read in progress times out and is tried again, with backoff,
	// until the storage answers.
	s.Pause(t)
	go func() { time.Sleep(3 * time.Second); s.Resume() }()
	rest, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		t.Fatalf("the read did not resume: %v", err)
	}
	if got := append(head, rest...); !bytes.Equal(got, data) {
		t.Fatalf("resumed read: %d bytes, want %d, the same bytes", len(got), len(data))
	}

	// Frozen for good: the retries run out, and the error says the storage did not answer.
	c2, _ := New(Config{Endpoint: s.Host, Bucket: "exports", Key: "big.csv", Region: s.Region, Insecure: true, Addressing: "Path",
		AccessKey: s.AccessKey, SecretKey: s.SecretKey, Timeout: 500 * time.Millisecond, Backoff: 100 * time.Millisecond, Retries: 2})
	r, err = c2.Open(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(r, head); err != nil {
		t.Fatal(err)
	}
	s.Pause(t)
	_, err = io.ReadAll(r)
	r.Close()
	s.Resume()
	if KindOf(err) != Unavailable || !strings.Contains(err.Error(), "gave up after 2 tries") {
		t.Fatalf("a storage that never answers again: %v", err)
	}
}
