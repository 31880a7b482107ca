package image

import (
	"archive/tar"
	"io"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The image, written and read back as a docker-archive: its configuration, and its files with
// their modes, in a reproducible build.
func TestBuildAndWrite(t *testing.T) {
	files := []File{
		{Path: "/manager", Mode: 0o755, Content: []byte("#!manager")},
		{Path: "/sender", Mode: 0o755, Content: []byte("#!sender")},
		{Path: "/etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Content: []byte("-----BEGIN CERTIFICATE-----\n")},
	}
	cfg := Config{Entrypoint: []string{"/manager"}, OS: "linux", Arch: "amd64", Labels: map[string]string{"org.opencontainers.image.title": "survey-operator"}}
	img, err := Build(files, cfg)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Build(files, cfg)
	d1, _ := img.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("two builds of the same files differ: %s %s", d1, d2)
	}
	file := filepath.Join(t.TempDir(), "image.tar")
	if err := Write(file, "survey-operator:dev", img); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("survey-operator:dev")
	read, err := tarball.ImageFromPath(file, &tag)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := read.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "65532:65532" || len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != "/manager" || cf.OS != "linux" ||
		cf.Architecture != "amd64" || cf.Config.Labels["org.opencontainers.image.title"] != "survey-operator" {
		t.Errorf("config %+v", cf)
	}
	layers, err := read.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers %d, %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	modes := map[string]int64{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		modes[h.Name] = h.Mode
	}
	want := map[string]int64{"manager": 0o755, "sender": 0o755, "etc/": 0o755, "etc/ssl/certs/": 0o755,
		"etc/ssl/certs/ca-certificates.crt": 0o644, "etc/passwd": 0o644, "tmp/": 0o1777, "home/nonroot/": 0o700}
	for p, m := range want {
		if got, ok := modes[p]; !ok || got != m {
			t.Errorf("%s: mode %o (present %v), want %o", p, got, ok, m)
		}
	}
	if _, err := Build([]File{{Path: "relative", Mode: 0o644}}, cfg); err == nil {
		t.Error("a relative path was accepted")
	}
}
