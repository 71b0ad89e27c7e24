// Package browsertest drives Debian's headless Chromium through chromedp
// for the browser tests of the pages and the portal: it starts the browser
// (failing, not skipping, under CI=true when there is none), runs steps
// with a deadline and saves screenshots where people can look at them.
package browsertest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Path is Debian's chromium, which .ci/run installs.
const Path = "/usr/bin/chromium"

// Artifacts is where the screenshots go: $TMPDIR/xmpp-invites-artifacts.
func Artifacts(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "xmpp-invites-artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Start starts a headless chromium for the test and returns a context of
// its first tab; the browser stops with the test. Without a browser the
// test is skipped, or fails under CI=true: CI must not pass by skipping.
func Start(t testing.TB) context.Context {
	t.Helper()
	if _, err := os.Stat(Path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI=true: %v", Path, err)
		}
		t.Skipf("no browser: %v", err)
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(Path),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.WindowSize(1280, 900),
	)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	// The first Do starts the browser; it lives as long as ctx.
	if err := chromedp.Do(ctx); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("start %s: %v", Path, err)
		}
		t.Skipf("cannot start %s: %v", Path, err)
	}
	return ctx
}

// Page runs steps in a browser tab and saves screenshots of it.
type Page struct {
	T   testing.TB
	Ctx context.Context
	Dir string // where Shot writes; Artifacts(t) by default
}

// NewPage is a Page on the tab of ctx.
func NewPage(t testing.TB, ctx context.Context) Page {
	return Page{T: t, Ctx: ctx, Dir: Artifacts(t)}
}

// Run does steps, failing the test if they do not finish in 30 s.
func (p Page) Run(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.T.Helper()
	ctx, cancel := context.WithTimeout(p.Ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.T.Fatalf("%s: %v", what, err)
	}
}

// Text returns the text of the first element sel matches.
func (p Page) Text(sel string) string {
	p.T.Helper()
	ctx, cancel := context.WithTimeout(p.Ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		p.T.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// Value returns the value of the input sel matches.
func (p Page) Value(sel string) string {
	p.T.Helper()
	ctx, cancel := context.WithTimeout(p.Ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector(`+quote(sel)+`).value`))
	if err != nil {
		p.T.Fatalf("value of %s: %v", sel, err)
	}
	return s
}

func quote(s string) string {
	b := []byte{'"'}
	for _, r := range s {
		if r == '"' || r == '\\' {
			b = append(b, '\\')
		}
		b = append(b, string(r)...)
	}
	return string(append(b, '"'))
}

// Shot saves a screenshot of the whole page as Dir/name.png.
func (p Page) Shot(name string) {
	p.T.Helper()
	png, err := chromedp.Run(p.Ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.T.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(p.Dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.T.Fatal(err)
	}
	p.T.Logf("screenshot: %s", path)
}
