// Package objectstore reads one object from S3-compatible object storage (AWS S3, MinIO, Ceph
// RGW, Cloudflare R2) through minio-go, the client Flux's Bucket source uses for generic S3: a
// HEAD that finds the object's version, and reads that ask for exactly that version (If-Match
// on its ETag, and its version id where the bucket versions objects), each with a deadline on
// every response and a resume with backoff when a read breaks off part way.
//
// It is shared by the manager (which checks the object and pins its version when a wave
// starts) and the sender (which reads it), and imports no Kubernetes package.
package objectstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Config addresses one object.
type Config struct {
	Endpoint string // host[:port]
	Bucket   string
	Key      string
	Region   string
	// Insecure uses plain HTTP.
	Insecure bool
	// Addressing is Auto, Path or VirtualHost ("" is Auto).
	Addressing string
	AccessKey  string
	SecretKey  string
	// CA is a PEM bundle of the CAs that sign the endpoint's certificate (nil: the system's).
	CA []byte
	// Timeout bounds each request's wait for a response, and each read's wait for more bytes
	// (30s when zero).
	Timeout time.Duration
	// Retries is how many times a read that broke off is resumed (5 when zero), with
	// exponential backoff from Backoff (1s when zero).
	Retries int
	Backoff time.Duration
}

// Version identifies one version of the object.
type Version struct {
	ETag      string
	VersionID string
	Size      int64
	Modified  time.Time
}

// Kind classifies an error, so that the caller can say what to fix.
type Kind int

const (
	// Unavailable: the storage did not answer, or answered with a server error; worth trying
	// again later.
	Unavailable Kind = iota
	// NotFound: no such object (or no such bucket).
	NotFound
	// Denied: the credentials were refused (unknown key, wrong secret, expired, or no
	// permission on the object).
	Denied
	// Changed: the object is no longer the version asked for.
	Changed
	// Invalid: the configuration itself is wrong (endpoint, region, CA bundle): the store
	// refused the request as malformed (HTTP 400).
	Invalid
)

// Error is a failed call, with its Kind. Its message never holds the object's content.
type Error struct {
	Kind Kind
	Op   string // "check" or "read"
	Err  error
}

func (e *Error) Error() string {
	var what string
	switch e.Kind {
	case NotFound:
		what = "no such object"
	case Denied:
		what = "the credentials were refused"
	case Changed:
		what = "the object changed since the wave started"
	case Invalid:
		what = "the object store settings are invalid"
	default:
		what = "the object store did not answer"
	}
	if e.Err == nil {
		return what
	}
	return what + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf is the Kind of err (Unavailable when it is not an *Error).
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Unavailable
}

// Client reads one object.
type Client struct {
	cfg Config
	mc  *minio.Client
}

// New makes a client; it sends nothing.
func New(cfg Config) (*Client, error) {
	cfg.Timeout = cmpOr(cfg.Timeout, 30*time.Second)
	cfg.Backoff = cmpOr(cfg.Backoff, time.Second)
	if cfg.Retries == 0 {
		cfg.Retries = 5
	}
	tr, err := minio.DefaultTransport(!cfg.Insecure)
	if err != nil {
		return nil, &Error{Kind: Invalid, Err: err}
	}
	tr.ResponseHeaderTimeout = cfg.Timeout
	if len(cfg.CA) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(cfg.CA) {
			return nil, &Error{Kind: Invalid, Err: errors.New("the CA bundle holds no PEM certificate")}
		}
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	lookup := minio.BucketLookupAuto
	switch cfg.Addressing {
	case "Path":
		lookup = minio.BucketLookupPath
	case "VirtualHost":
		lookup = minio.BucketLookupDNS
	}
	mc, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       !cfg.Insecure,
		Transport:    tr,
		Region:       cfg.Region,
		BucketLookup: lookup,
		// Requests are retried by this package, with its own bound: minio-go's own retries
		// (10, with backoff) would hide a slow or failing store for minutes.
		MaxRetries: 1,
	})
	if err != nil {
		return nil, &Error{Kind: Invalid, Err: err}
	}
	return &Client{cfg: cfg, mc: mc}, nil
}

// Stat finds the object's current version (a HEAD request).
func (c *Client) Stat(ctx context.Context) (Version, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	info, err := c.mc.StatObject(ctx, c.cfg.Bucket, c.cfg.Key, minio.StatObjectOptions{})
	if err != nil {
		return Version{}, classify("check", err)
	}
	return Version{ETag: info.ETag, VersionID: info.VersionID, Size: info.Size, Modified: info.LastModified}, nil
}

// Open reads version v of the object from its start: every request asks for exactly that
// version, so a changed object is an error of Kind Changed, never a new list. A first request
// that gets no answer, and a read that breaks off or stalls, are tried again (resumed where
// it stopped), with backoff, up to Retries times.
func (c *Client) Open(ctx context.Context, v Version) (io.ReadCloser, error) {
	r := &reader{c: c, ctx: ctx, v: v}
	if err := r.open(); err != nil {
		if KindOf(err) != Unavailable || ctx.Err() != nil {
			return nil, err
		}
		if err := r.retry(err); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// reader is the object's bytes from offset on, over as many GET requests as it takes.
type reader struct {
	c      *Client
	ctx    context.Context
	v      Version
	offset int64
	body   *minio.Object
	cancel context.CancelFunc
	timer  *time.Timer
	tries  int
}

func (r *reader) open() error {
	r.closeBody()
	opts := minio.GetObjectOptions{VersionID: r.v.VersionID}
	if r.v.ETag != "" {
		if err := opts.SetMatchETag(r.v.ETag); err != nil {
			return &Error{Kind: Invalid, Op: "read", Err: err}
		}
	}
	if r.offset > 0 {
		if err := opts.SetRange(r.offset, 0); err != nil {
			return &Error{Kind: Invalid, Op: "read", Err: err}
		}
	}
	ctx, cancel := context.WithCancel(r.ctx)
	// A read that waits longer than Timeout for its next bytes is cut, and resumed.
	timer := time.AfterFunc(r.c.cfg.Timeout, cancel)
	obj, err := r.c.mc.GetObject(ctx, r.c.cfg.Bucket, r.c.cfg.Key, opts)
	if err == nil {
		// GetObject is lazy: Stat sends the request and reads the answer's headers.
		var info minio.ObjectInfo
		if info, err = obj.Stat(); err == nil && r.v.ETag == "" && r.offset == 0 {
			r.v.ETag = info.ETag // an unpinned read still reads one version throughout
		}
	}
	if err != nil {
		timedOut := !timer.Stop() && r.ctx.Err() == nil
		cancel()
		if obj != nil {
			_ = obj.Close()
		}
		if timedOut || isTimeout(err) {
			return &Error{Kind: Unavailable, Op: "read", Err: fmt.Errorf("no answer within %s", r.c.cfg.Timeout)}
		}
		return classify("read", err)
	}
	r.body, r.cancel, r.timer = obj, cancel, timer
	return nil
}

func (r *reader) Read(p []byte) (int, error) {
	for {
		if r.body == nil {
			if err := r.retry(nil); err != nil {
				return 0, err
			}
			continue
		}
		r.timer.Reset(r.c.cfg.Timeout) // only the wait inside Read counts, not the caller's
		n, err := r.body.Read(p)
		if !r.timer.Stop() && err != nil && !errors.Is(err, io.EOF) && r.ctx.Err() == nil {
			err = fmt.Errorf("no more bytes within %s", r.c.cfg.Timeout)
		}
		r.offset += int64(n)
		switch {
		case err == nil || errors.Is(err, io.EOF):
			if n > 0 {
				r.tries = 0
			}
			return n, err
		case n > 0:
			r.closeBody() // resumed on the next Read
			return n, nil
		}
		if err := r.retry(err); err != nil {
			return 0, err
		}
	}
}

// retry opens the object again at offset after cause, waiting the backoff first, while the
// tries last and the cause is worth it.
func (r *reader) retry(cause error) error {
	if cause != nil {
		if k := KindOf(classify("read", cause)); k != Unavailable || r.ctx.Err() != nil {
			return classify("read", cause)
		}
	}
	for {
		if r.tries >= r.c.cfg.Retries {
			var last *Error // its own words, without "the object store did not answer" again
			if errors.As(cause, &last) && last.Err != nil {
				cause = last.Err
			}
			return &Error{Kind: Unavailable, Op: "read", Err: fmt.Errorf("gave up after %d tries at byte %d: %w", r.tries, r.offset, cause)}
		}
		wait := r.c.cfg.Backoff << r.tries
		r.tries++
		select {
		case <-r.ctx.Done():
			return &Error{Kind: Unavailable, Op: "read", Err: r.ctx.Err()}
		case <-time.After(wait):
		}
		err := r.open()
		if err == nil {
			return nil
		}
		if KindOf(err) != Unavailable {
			return err
		}
		cause = err
	}
}

func (r *reader) closeBody() {
	if r.body != nil {
		r.timer.Stop()
		_ = r.body.Close()
		r.cancel()
		r.body = nil
	}
}

func (r *reader) Close() error {
	r.closeBody()
	return nil
}

// classify turns a minio-go error into an *Error of the right Kind.
func classify(op string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	resp := minio.ToErrorResponse(err)
	kind := Unavailable
	switch {
	case resp.Code == "NoSuchKey" || resp.Code == "NoSuchBucket" || resp.Code == "NoSuchVersion" || resp.StatusCode == http.StatusNotFound:
		kind = NotFound
	case resp.Code == "PreconditionFailed" || resp.StatusCode == http.StatusPreconditionFailed:
		kind = Changed
	case resp.Code == "AccessDenied" || resp.Code == "InvalidAccessKeyId" || resp.Code == "SignatureDoesNotMatch" ||
		resp.Code == "ExpiredToken" || resp.Code == "InvalidToken" ||
		resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized:
		kind = Denied
	case resp.StatusCode == http.StatusBadRequest:
		// A wrong region (AuthorizationHeaderMalformed), a malformed version id: the settings,
		// not the store, are at fault, and asking again will not help.
		kind = Invalid
	}
	if resp.Code != "" {
		err = fmt.Errorf("%s (HTTP %d)", resp.Code, resp.StatusCode)
	}
	return &Error{Kind: kind, Op: op, Err: err}
}

// isTimeout says whether err is a wait that ran out (the transport's for a response's headers).
func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
