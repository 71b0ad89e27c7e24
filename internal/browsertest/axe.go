package browsertest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// AxeEnv names the file axe.min.js of the pinned axe-core that test.sh
// downloads from the npm registry (docs: README, Tests).
const AxeEnv = "XMPP_INVITES_AXE"

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

// AxeSource reads axe.min.js, or fails the test under CI=true and returns ""
// otherwise, so that a developer without it still runs the rest of a test.
func AxeSource(t testing.TB) string {
	t.Helper()
	path := os.Getenv(AxeEnv)
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set under CI=true: test.sh downloads axe-core and sets it", AxeEnv)
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

// Axe runs axe-core on the page open in ctx's tab and fails the test
// listing every serious or critical violation; moderate and minor ones, and
// what axe could not decide, are logged. Without axe-core (XMPP_INVITES_AXE unset or unreadable) it fails
// under CI=true and checks nothing otherwise.
func Axe(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	src := AxeSource(t)
	if src == "" {
		t.Logf("%s: accessibility not checked: %s unset (test.sh sets it)", name, AxeEnv)
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
