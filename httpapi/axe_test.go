package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"xmpp-invites/internal/browsertest"
)

// axeCheck runs axe-core on the page in ctx's tab (browsertest.Axe).
func axeCheck(t testing.TB, ctx context.Context, name string) { browsertest.Axe(t, ctx, name) }

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
	if browsertest.AxeSource(t) == "" {
		t.Skipf("no axe-core: %s unset or unreadable (test.sh sets it)", browsertest.AxeEnv)
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
	b := newBrowserPage(t, ctx, "")
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
