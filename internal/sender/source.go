package sender

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/klauspost/readahead"

	"github.com/surveyops/survey-operator/internal/jobfile"
	"github.com/surveyops/survey-operator/internal/objectstore"
)

// source opens the audience list of a job file, every time the same version of it: a mounted
// file (a Secret's or ConfigMap's key, or a file on a volume, whose size and modification time
// are its version), or an object in S3-compatible storage (read with If-Match on the ETag the
// manager pinned when the wave started). A list compressed with gzip is read through it.
type source struct {
	cfg jobfile.AudienceConfig
	obj *objectstore.Client

	mu  sync.Mutex
	pin *jobfile.FilePin // the file's version, once opened
}

// ErrAudienceChanged is a list that is no longer the version the wave started with.
var ErrAudienceChanged = errors.New("the audience list changed since the wave started")

func newSource(ctx context.Context, a jobfile.AudienceConfig) (*source, error) {
	s := &source{cfg: a}
	o := a.ObjectStore
	if o == nil {
		return s, nil
	}
	access, err := readSecret(o.AccessKeyFile)
	if err != nil {
		return nil, err
	}
	secret, err := readSecret(o.SecretKeyFile)
	if err != nil {
		return nil, err
	}
	var ca []byte
	if o.CAFile != "" {
		if ca, err = os.ReadFile(o.CAFile); err != nil {
			return nil, fmt.Errorf("reading the object store's CA bundle: %w", err)
		}
	}
	s.obj, err = objectstore.New(objectstore.Config{Endpoint: o.Endpoint, Bucket: o.Bucket, Key: o.Key, Region: o.Region,
		Insecure: o.Insecure, Addressing: o.Addressing, AccessKey: access, SecretKey: secret, CA: ca,
		Timeout: objectStoreWaits.Timeout, Retries: objectStoreWaits.Retries, Backoff: objectStoreWaits.Backoff})
	return s, err
}

// objectStoreWaits are the object store's deadline on each wait, and the retries of a read
// that stalls or breaks off and their first backoff; zero values are objectstore's defaults
// (30 s, 5 and 1 s). Tests shorten them.
var objectStoreWaits struct {
	Timeout, Backoff time.Duration
	Retries          int
}

// readAheadBuffers and readAheadSize are the read-ahead of an object: a goroutine receives
// (and, for a gzip-compressed list, decompresses) up to four 1 MiB buffers ahead of the parser,
// so that the network's and the S3 client's work runs beside the parsing, on another core,
// instead of adding to it. A file on a volume or from a Secret is read from the page cache and
// gains nothing from it. Measured in docs/sender.md ("From object storage, and in shards").
const (
	readAheadBuffers = 4
	readAheadSize    = 1 << 20
)

// readAhead reads r ahead of its reader; closing it stops the reading and closes r. Errors
// reach the reader after the bytes read before them, unchanged.
func readAhead(r io.ReadCloser) (io.ReadCloser, error) {
	return readahead.NewReadCloserSize(r, readAheadBuffers, readAheadSize)
}

// open opens the list from its start.
func (s *source) open(ctx context.Context) (io.ReadCloser, error) {
	if s.obj == nil {
		return s.openRaw(ctx)
	}
	// Closing the reader first cancels the object's request: the read-ahead's Close waits for
	// the buffer being filled, which on a stalled store would otherwise wait out the store's
	// deadlines and retries (minutes) when the run stops early, on SIGTERM say.
	ctx, cancel := context.WithCancel(ctx)
	r, err := s.openRaw(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	ra, err := readAhead(r)
	if err != nil {
		cancel()
		r.Close()
		return nil, err
	}
	return &cancelOnClose{ReadCloser: ra, cancel: cancel}, nil
}

// cancelOnClose cancels a reader's request before it closes it.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	c.cancel()
	return c.ReadCloser.Close()
}

// openRaw opens the list from its start, decompressed, without read-ahead.
func (s *source) openRaw(ctx context.Context) (io.ReadCloser, error) {
	var r io.ReadCloser
	if s.obj != nil {
		o := s.cfg.ObjectStore
		body, err := s.obj.Open(ctx, objectstore.Version{ETag: o.ETag, VersionID: o.VersionID})
		if err != nil {
			return nil, s.objectError(err)
		}
		r = &objectBody{ReadCloser: body, s: s}
	} else {
		f, err := os.Open(s.cfg.File)
		if err != nil {
			return nil, err
		}
		info, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		pin := jobfile.FilePin{Size: info.Size(), Modified: info.ModTime().Unix()}
		s.mu.Lock()
		want := s.cfg.Pin
		if want == nil {
			want = s.pin // the first pass's version holds for the second
		}
		if want != nil && *want != pin {
			s.mu.Unlock()
			f.Close()
			return nil, fmt.Errorf("%w (the file was %d bytes, modified %s; it is %d bytes, modified %s)", ErrAudienceChanged,
				want.Size, time.Unix(want.Modified, 0).UTC().Format(time.RFC3339), pin.Size, info.ModTime().UTC().Format(time.RFC3339))
		}
		s.pin = &pin
		s.mu.Unlock()
		r = f
	}
	if !s.cfg.Gzip {
		return r, nil
	}
	zr, err := gzip.NewReader(bufio.NewReaderSize(r, 64<<10))
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("the audience is not gzip-compressed, though its name ends in .gz: %w", err)
	}
	return &gzipped{Reader: zr, under: r}, nil
}

// version is the file's version the sender read (nil for other sources, or before it opened
// it), for the manager to pin the wave to.
func (s *source) version() *jobfile.FilePin {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.obj != nil || s.pin == nil {
		return nil
	}
	p := *s.pin
	return &p
}

// objectError says which object an error of the object store is about, and what it means for
// the wave, in words for the wave's condition: never anything of the list's content.
func (s *source) objectError(err error) error {
	var done *sourceError
	if errors.As(err, &done) {
		return err
	}
	o := s.cfg.ObjectStore
	at := fmt.Sprintf("s3://%s/%s at %s", o.Bucket, o.Key, o.Endpoint)
	switch objectstore.KindOf(err) {
	case objectstore.Changed:
		err = fmt.Errorf("%w: %s was replaced (the wave reads ETag %s only; the next wave reads the new list)", ErrAudienceChanged, at, o.ETag)
	case objectstore.NotFound:
		if o.ETag != "" {
			err = fmt.Errorf("%s: %w; it was deleted or moved since the wave started", at, err)
		} else {
			err = fmt.Errorf("%s: %w", at, err)
		}
	case objectstore.Denied:
		err = fmt.Errorf("%s: %w; the access key pair in spec.audience.source.objectStore.secretRef needs read access to the object "+
			"(it may have expired, or been revoked or replaced)", at, err)
	default:
		err = fmt.Errorf("%s: %w", at, err)
	}
	return &sourceError{Err: err}
}

// sourceError is a list that could not be read (opened, or read to its end) for a reason of its
// source, not of its content: an object store that failed, or a list that changed.
type sourceError struct{ Err error }

func (e *sourceError) Error() string { return e.Err.Error() }
func (e *sourceError) Unwrap() error { return e.Err }

// objectBody is an object's bytes, whose errors say which object and what happened.
type objectBody struct {
	io.ReadCloser
	s *source
}

func (b *objectBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = b.s.objectError(err)
	}
	return n, err
}

// gzipped closes the gzip reader and what it reads.
type gzipped struct {
	*gzip.Reader
	under io.Closer
}

func (g *gzipped) Close() error {
	return errors.Join(g.Reader.Close(), g.under.Close())
}
