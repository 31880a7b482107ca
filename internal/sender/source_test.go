package sender

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/jobfile"
)

const sourceCSV = "\ufeffref,email\nR-1,one@example.org\nR-2,two@example.org\n"

func gz(t *testing.T, data string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A list on a volume is read the same way every time: its size and modification time are its
// version, the first pass's holds for the second, and a round given the wave's pin refuses a
// file that is not that version. A .gz list is read through gzip; a BOM is the parser's to drop.
func TestFileSourceVersionAndGzip(t *testing.T) {
	ctx := context.Background()
	for name, c := range map[string]struct {
		data    []byte
		gzip    bool
		want    string
		openErr string
	}{
		"plain":                     {data: []byte(sourceCSV), want: sourceCSV},
		"gzip":                      {data: gz(t, sourceCSV), gzip: true, want: sourceCSV},
		"named .gz, not compressed": {data: []byte(sourceCSV), gzip: true, openErr: "not gzip-compressed"},
	} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "tenants.csv")
			if err := os.WriteFile(file, c.data, 0o600); err != nil {
				t.Fatal(err)
			}
			src, err := newSource(ctx, jobfile.AudienceConfig{File: file, Gzip: c.gzip})
			if err != nil {
				t.Fatal(err)
			}
			r, err := src.open(ctx)
			if c.openErr != "" {
				if err == nil || !bytes.Contains([]byte(err.Error()), []byte(c.openErr)) {
					t.Fatalf("open: %v, want %q", err, c.openErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || string(got) != c.want {
				t.Fatalf("read %q, %v", got, err)
			}
			pin := src.version()
			if pin == nil || pin.Size != int64(len(c.data)) {
				t.Fatalf("version %+v, want the file's size %d", pin, len(c.data))
			}
			// The second pass of the same run reads the same version...
			r, err = src.open(ctx)
			if err != nil {
				t.Fatalf("second open: %v", err)
			}
			r.Close()
			// ...and refuses a file changed in between.
			later := time.Now().Add(time.Minute)
			if err := os.Chtimes(file, later, later); err != nil {
				t.Fatal(err)
			}
			if _, err := src.open(ctx); !errors.Is(err, ErrAudienceChanged) {
				t.Fatalf("open after a change: %v, want ErrAudienceChanged", err)
			}
			// A later round, given the wave's pin, refuses it too; given the new version, reads.
			src2, _ := newSource(ctx, jobfile.AudienceConfig{File: file, Gzip: c.gzip, Pin: pin})
			if _, err := src2.open(ctx); !errors.Is(err, ErrAudienceChanged) {
				t.Fatalf("a round pinned to the first version: %v, want ErrAudienceChanged", err)
			}
			src3, _ := newSource(ctx, jobfile.AudienceConfig{File: file, Gzip: c.gzip, Pin: &jobfile.FilePin{Size: pin.Size, Modified: later.Unix()}})
			if r, err := src3.open(ctx); err != nil {
				t.Fatalf("a round pinned to the file's version: %v", err)
			} else {
				r.Close()
			}
		})
	}
}

// An object is read ahead of the parser: while the parser is busy with the first bytes, the
// next buffers are received (the source gives the parser the read-ahead reader); an error of
// the object reaches the parser after every byte read before it, unchanged; closing stops the
// reading and closes the object.
func TestReadAhead(t *testing.T) {
	pr, pw := io.Pipe()
	body := &closeCounter{Reader: pr}
	r, err := readAhead(body)
	if err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte("R-1,one@example.org\n"), 1<<12) // 80 KiB
	ahead := make(chan int)
	go func() {
		// With nobody reading past the first byte, the writes go through only if something
		// reads ahead: a pipe holds nothing.
		n := 0
		for n < 2*readAheadSize {
			w, err := pw.Write(chunk)
			n += w
			if err != nil {
				break
			}
		}
		ahead <- n
		pw.CloseWithError(errTruncated)
	}()
	one := make([]byte, 1)
	if _, err := io.ReadFull(r, one); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-ahead:
		if n < 2*readAheadSize {
			t.Fatalf("read ahead %d bytes, want %d", n, 2*readAheadSize)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("nothing was read ahead of the reader: the writer is still blocked")
	}
	rest, err := io.ReadAll(r)
	if !errors.Is(err, errTruncated) {
		t.Errorf("the error after the bytes is %v, want %v", err, errTruncated)
	}
	if got := 1 + len(rest); got < 2*readAheadSize || got%len(chunk) != 0 {
		t.Errorf("read %d bytes before the error, want all that were written", got)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if body.closed != 1 {
		t.Errorf("the object was closed %d times, want once", body.closed)
	}
}

var errTruncated = errors.New("the connection was reset")

type closeCounter struct {
	io.Reader
	closed int
}

func (c *closeCounter) Close() error { c.closed++; return nil }
