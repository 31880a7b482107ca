// Command image builds the operator's one image (manager, collector and sender) without a
// container engine and writes it as a docker-archive tarball: `make image`. The binaries are
// static (CGO_ENABLED=0) and carry the time zone database (time/tzdata); the CA certificates
// come from this machine's ca-certificates package.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/surveyops/survey-operator/internal/image"
)

func main() {
	out := flag.String("out", "bin/survey-operator.tar", "the tarball to write")
	tag := flag.String("tag", "survey-operator:dev", "the image's name and tag")
	arch := flag.String("arch", runtime.GOARCH, "the architecture to build for")
	ca := flag.String("ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "the CA bundle to include (Debian: apt-get install ca-certificates)")
	version := flag.String("version", "dev", "the version label")
	flag.Parse()
	if err := run(*out, *tag, *arch, *ca, *version); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(out, tag, arch, ca, version string) error {
	dir, err := os.MkdirTemp("", "survey-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var files []image.File
	for _, cmd := range []string{"manager", "collector", "sender"} {
		bin := filepath.Join(dir, cmd)
		build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -buildid=", "-o", bin, "./cmd/"+cmd)
		build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("building %s: %w", cmd, err)
		}
		data, err := os.ReadFile(bin)
		if err != nil {
			return err
		}
		files = append(files, image.File{Path: "/" + cmd, Mode: 0o755, Content: data})
	}
	certs, err := os.ReadFile(ca)
	if err != nil {
		return fmt.Errorf("the CA certificates (install Debian's ca-certificates package): %w", err)
	}
	files = append(files, image.File{Path: "/etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Content: certs})
	img, err := image.Build(files, image.Config{Entrypoint: []string{"/manager"}, OS: "linux", Arch: arch,
		Labels: map[string]string{
			"org.opencontainers.image.title":   "survey-operator",
			"org.opencontainers.image.version": version,
			"org.opencontainers.image.source":  "https://github.com/surveyops/survey-operator",
		}})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := image.Write(out, tag, img); err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	info, err := os.Stat(out)
	if err != nil {
		return err
	}
	fmt.Printf("%s %s (%s, %.1f MiB): %s\n", tag, digest, arch, float64(info.Size())/(1<<20), out)
	return nil
}
