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
