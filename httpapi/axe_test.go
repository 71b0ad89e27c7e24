package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// axeEnv names the file axe.min.js of the pinned axe-core that test.sh
// downloads from the npm registry (docs: README, Tests).
const axeEnv = "XMPP_INVITES_AXE"

// axeRules are the rule sets the pages must pass: WCAG 2.1 A and AA, and
// axe's best practices (landmarks, one main heading, …).
const axeRules = `['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']`

// axeViolation is one failed axe rule with the elements that fail it.
type axeViolation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	Targets []string `json:"targets"`
	// Review is set for what axe could not decide (such as the contrast of
	// text over an element it cannot see through): for people to look at.
	Review bool `json:"review"`
}

func (v axeViolation) String() string {
	return fmt.Sprintf("%s (%s): %s at %s", v.ID, v.Impact, v.Help, strings.Join(v.Targets, ", "))
}

// axeSource reads axe.min.js, or fails the test under CI=true and returns ""
// otherwise, so that a developer without it still runs the rest of a test.
func axeSource(t testing.TB) string {
	t.Helper()
	path := os.Getenv(axeEnv)
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set under CI=true: test.sh downloads axe-core and sets it", axeEnv)
		}
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("axe-core: %v", err)
		}
		t.Logf("axe-core: %v", err)
		return ""
	}
	return string(b)
}

// axeRun injects axe-core into the page in ctx's tab through the DevTools
// protocol (Runtime.evaluate is not subject to the page's CSP, so the page's
// default-src 'none' stays as served) and returns what axe finds.
func axeRun(ctx context.Context, src string) ([]axeViolation, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](src)); err != nil {
		return nil, fmt.Errorf("inject axe-core: %w", err)
	}
	vs, err := chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](`axe.run(document, {
		runOnly: `+axeRules+`,
		resultTypes: ['violations', 'incomplete'],
	}).then(r => {
		const f = review => v => ({
			id: v.id, impact: v.impact || '', help: v.help, review,
			targets: v.nodes.map(n => n.target.flat(Infinity).join(' ')),
		});
		return r.violations.map(f(false)).concat(r.incomplete.map(f(true)));
	})`, chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, fmt.Errorf("axe.run: %w", err)
	}
	return vs, nil
}

// axeCheck runs axe-core on the page open in ctx's tab and fails the test
// listing every serious or critical violation; moderate and minor ones, and
// what axe could not decide, are logged. Without axe-core (XMPP_INVITES_AXE unset or unreadable) it fails
// under CI=true and checks nothing otherwise.
func axeCheck(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	src := axeSource(t)
	if src == "" {
		t.Logf("%s: accessibility not checked: %s unset (test.sh sets it)", name, axeEnv)
		return
	}
	vs, err := axeRun(ctx, src)
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	var bad []string
	for _, v := range vs {
		switch {
		case v.Review:
			t.Logf("%s: accessibility, needs review: %s", name, v)
		case v.Impact == "serious" || v.Impact == "critical":
			bad = append(bad, v.String())
		default:
			t.Logf("%s: accessibility: %s", name, v)
		}
	}
	if len(bad) > 0 {
		t.Errorf("%s: %d serious accessibility violations (axe-core):\n\t%s", name, len(bad), strings.Join(bad, "\n\t"))
	}
}

// axeRecorder stands in for the test in TestAxeFindsViolations, to see what
// axeCheck reports.
type axeRecorder struct {
	testing.TB
	errors []string
}

func (r *axeRecorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// TestAxeFindsViolations shows that the accessibility check can fail: a page
// with an image without alt text and an input without a label, served with
// the pages' strict CSP, makes axeCheck report both as serious.
func TestAxeFindsViolations(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	if axeSource(t) == "" {
		t.Skipf("no axe-core: %s unset or unreadable (test.sh sets it)", axeEnv)
	}
	ctx := newPageBrowser(t)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; img-src data:")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html lang="en"><head><title>Bad page</title></head>
<body><main><h1>Bad page</h1>
<img id="pic" src="data:image/gif;base64,R0lGODlhAQABAAAAACwAAAAAAQABAAA=" width="40" height="40">
<form><input id="nolabel" type="text" name="q"></form>
</main></body></html>`)
	}))
	t.Cleanup(ts.Close)
	b := browserPage{t: t, ctx: ctx}
	b.run("open the bad page", chromedp.Navigate(ts.URL), chromedp.WaitVisible(chromedp.CSS("#nolabel")))

	rec := &axeRecorder{TB: t}
	axeCheck(rec, ctx, "bad page")
	got := strings.Join(rec.errors, "\n")
	for _, want := range []string{"image-alt (critical)", "#pic", "label (critical)", "#nolabel"} {
		if !strings.Contains(got, want) {
			t.Errorf("axeCheck reported %q, want it to contain %q", got, want)
		}
	}
}
