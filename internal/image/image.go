// Package image builds the operator's container image without a container engine: static
// binaries and a few files in one layer on an empty base, non-root, written as a
// docker-archive tarball that containerd (`ctr images import`) and Docker (`docker load`)
// read. It uses go-containerregistry, the library made for building and moving OCI images.
package image

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// NonRoot is the user and group the image runs as (distroless's "nonroot").
const NonRoot = 65532

// File is a file of the image: its absolute path, mode and content.
type File struct {
	Path    string
	Mode    int64
	Content []byte
}

// Config is the image's metadata.
type Config struct {
	Entrypoint []string
	Env        []string
	Labels     map[string]string
	OS, Arch   string
	// Created is the image's and the files' time; the zero time makes the build reproducible.
	Created time.Time
}

// Build makes an image of files in one layer, with /etc/passwd and /etc/group naming the
// non-root user, and /tmp.
func Build(files []File, cfg Config) (v1.Image, error) {
	files = append(files,
		File{Path: "/etc/passwd", Mode: 0o644, Content: []byte(fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", NonRoot, NonRoot))},
		File{Path: "/etc/group", Mode: 0o644, Content: []byte(fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", NonRoot))},
	)
	layerTar, err := layer(files, cfg.Created)
	if err != nil {
		return nil, err
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layerTar)), nil })
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = cfg.OS, cfg.Arch
	cf.Created = v1.Time{Time: cfg.Created}
	cf.Config = v1.Config{
		Entrypoint: cfg.Entrypoint,
		Env:        append([]string{"PATH=/", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}, cfg.Env...),
		User:       fmt.Sprintf("%d:%d", NonRoot, NonRoot),
		WorkingDir: "/",
		Labels:     cfg.Labels,
	}
	return mutate.ConfigFile(img, cf)
}

// layer writes the files, and the directories that hold them, as a tar, in path order.
func layer(files []File, mtime time.Time) ([]byte, error) {
	dirs := map[string]bool{"/tmp": true, "/home/nonroot": true}
	for _, f := range files {
		if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path {
			return nil, fmt.Errorf("image file %q: the path must be absolute and clean", f.Path)
		}
		for d := path.Dir(f.Path); d != "/"; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	for d := range dirs {
		for p := path.Dir(d); p != "/"; p = path.Dir(p) {
			dirs[p] = true
		}
	}
	type entry struct {
		hdr  *tar.Header
		body []byte
	}
	var entries []entry
	for d := range dirs {
		hdr := &tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(d, "/") + "/", Mode: 0o755, ModTime: mtime}
		switch d {
		case "/tmp":
			hdr.Mode = 0o1777
		case "/home/nonroot":
			hdr.Mode, hdr.Uid, hdr.Gid = 0o700, NonRoot, NonRoot
		}
		entries = append(entries, entry{hdr: hdr})
	}
	for _, f := range files {
		entries = append(entries, entry{hdr: &tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(f.Path, "/"), Mode: f.Mode,
			Size: int64(len(f.Content)), ModTime: mtime}, body: f.Content})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].hdr.Name < entries[j].hdr.Name })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		e.hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(e.hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Write saves an image as a docker-archive tarball tagged tag ("survey-operator:dev").
func Write(file, tag string, img v1.Image) error {
	ref, err := name.NewTag(tag)
	if err != nil {
		return err
	}
	return tarball.WriteToFile(file, ref, img)
}
