// Package testbrowser gives tests a real headless Chromium and the axe-core accessibility
// engine, installing them the first time on a machine: Debian's chromium package, and axe-core
// from npm into a cache outside the repository.
package testbrowser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/chromedp/chromedp"
)

// AxeVersion is the axe-core release the tests run.
const AxeVersion = "4.14.1"

var installMu sync.Mutex

// Chromium returns the path of a Chromium binary, installing Debian's chromium when there is
// none.
func Chromium() (string, error) {
	installMu.Lock()
	defer installMu.Unlock()
	if p := findChromium(); p != "" {
		return p, nil
	}
	if os.Geteuid() != 0 {
		return "", errors.New("chromium is not installed and this user cannot install it: apt-get install chromium")
	}
	for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", "chromium", "fonts-dejavu-core"}} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("apt-get %v: %w\n%s", args, err, out)
		}
	}
	if p := findChromium(); p != "" {
		return p, nil
	}
	return "", errors.New("installed chromium but cannot find its binary")
}

func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// AxeSource returns the source of axe.min.js, installing axe-core with npm into the cache the
// first time.
func AxeSource() (string, error) {
	installMu.Lock()
	defer installMu.Unlock()
	cache := os.Getenv("SURVEY_CACHE_DIR")
	if cache == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", err
		}
		cache = filepath.Join(base, "survey-operator")
	}
	prefix := filepath.Join(cache, "npm", "axe-core-"+AxeVersion)
	file := filepath.Join(prefix, "node_modules", "axe-core", "axe.min.js")
	if _, err := os.Stat(file); err != nil {
		if err := os.MkdirAll(prefix, 0o755); err != nil {
			return "", err
		}
		cmd := exec.Command("npm", "install", "--prefix", prefix, "--no-audit", "--no-fund", "--no-save", "axe-core@"+AxeVersion)
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("npm install axe-core@%s: %w\n%s", AxeVersion, err, out)
		}
	}
	src, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	return string(src), nil
}

// New starts a headless Chromium with a fresh profile and no background traffic, and returns a
// browser context; cancel ends the browser.
func New(parent context.Context, userDataDir string) (context.Context, context.CancelFunc, error) {
	path, err := Chromium()
	if err != nil {
		return nil, nil, err
	}
	opts := append([]chromedp.ExecAllocatorOption{},
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(userDataDir),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(parent, opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	if err := chromedp.Do(ctx); err != nil {
		cancelCtx()
		cancelAlloc()
		return nil, nil, fmt.Errorf("starting %s: %w", path, err)
	}
	return ctx, func() { cancelCtx(); cancelAlloc() }, nil
}
