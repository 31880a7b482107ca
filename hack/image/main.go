// Command image builds images without a container engine and writes each as a docker-archive
// tarball: `make image`. The set "operator" is the operator's one image (manager, collector and
// sender); "pause" is the local cluster's pod sandbox (hack/pause); "mailsink" is the demo's
// mail server (hack/mailsink); "s3" is a real S3-compatible server, versitygw, built from the
// Go module proxy by hack/s3-build.sh, for the end-to-end tests' audiences. The binaries are static (CGO_ENABLED=0), the operator's carry the
// time zone database (time/tzdata); the CA certificates come from this machine's
// ca-certificates package.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/surveyops/survey-operator/internal/image"
)

func main() {
	set := flag.String("set", "operator", "which image: operator, pause, mailsink or s3")
	out := flag.String("out", "", "the tarball to write (default bin/<set>.tar, bin/survey-operator.tar for the operator)")
	tag := flag.String("tag", "", "the image's name and tag (default survey-operator:dev, registry.k8s.io/pause:3.10, survey-mailsink:dev)")
	arch := flag.String("arch", runtime.GOARCH, "the architecture to build for")
	ca := flag.String("ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "the CA bundle to include (Debian: apt-get install ca-certificates)")
	version := flag.String("version", "dev", "the version label")
	flag.Parse()
	spec, ok := sets[*set]
	if !ok {
		fmt.Fprintf(os.Stderr, "image: unknown set %q (operator, pause, mailsink or s3)\n", *set)
		os.Exit(2)
	}
	if *out == "" {
		*out = spec.out
	}
	if *tag == "" {
		*tag = spec.tag
	}
	if err := run(spec, *out, *tag, *arch, *ca, *version); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

// imageSet is what goes into one image.
type imageSet struct {
	title    string
	commands []string // packages, each built to /<last element>
	// prebuilt is a script that prints the path of a static binary built elsewhere (for the
	// host's architecture only), put in the image under its own name.
	prebuilt string
	out, tag string
}

var sets = map[string]imageSet{
	"operator": {"survey-operator", []string{"./cmd/manager", "./cmd/collector", "./cmd/sender"}, "", "bin/survey-operator.tar", "survey-operator:dev"},
	"pause":    {"survey-pause", []string{"./hack/pause"}, "", "bin/pause.tar", "registry.k8s.io/pause:3.10"},
	"mailsink": {"survey-mailsink", []string{"./hack/mailsink"}, "", "bin/mailsink.tar", "survey-mailsink:dev"},
	"s3":       {"survey-s3", nil, "hack/s3-build.sh", "bin/s3.tar", "survey-s3:dev"},
}

func run(spec imageSet, out, tag, arch, ca, version string) error {
	dir, err := os.MkdirTemp("", "survey-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var files []image.File
	for _, pkg := range spec.commands {
		cmd := path.Base(pkg)
		bin := filepath.Join(dir, cmd)
		build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -buildid=", "-o", bin, pkg)
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
	if spec.prebuilt != "" {
		if arch != runtime.GOARCH {
			return fmt.Errorf("%s is built for %s only", spec.title, runtime.GOARCH)
		}
		cmd := exec.Command(spec.prebuilt)
		cmd.Stderr = os.Stderr
		where, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("%s: %w", spec.prebuilt, err)
		}
		bin := strings.TrimSpace(string(where))
		data, err := os.ReadFile(bin)
		if err != nil {
			return err
		}
		files = append(files, image.File{Path: "/" + filepath.Base(bin), Mode: 0o755, Content: data})
	}
	certs, err := os.ReadFile(ca)
	if err != nil {
		return fmt.Errorf("the CA certificates (install Debian's ca-certificates package): %w", err)
	}
	files = append(files, image.File{Path: "/etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Content: certs})
	entrypoint := files[0].Path
	img, err := image.Build(files, image.Config{Entrypoint: []string{entrypoint}, OS: "linux", Arch: arch,
		Labels: map[string]string{
			"org.opencontainers.image.title":   spec.title,
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
