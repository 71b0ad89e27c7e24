package httpapi_test

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"xmpp-invites/internal/browsertest"
	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

// browserArtifacts is where the screenshots go.
func browserArtifacts(t *testing.T) string { return browsertest.Artifacts(t) }

// newPageBrowser starts a headless chromium for the test (browsertest).
func newPageBrowser(t *testing.T) context.Context { return browsertest.Start(t) }

// browserPage runs steps in a browser tab and saves screenshots of it.
type browserPage struct{ p browsertest.Page }

func newBrowserPage(t *testing.T, ctx context.Context, dir string) browserPage {
	return browserPage{browsertest.Page{T: t, Ctx: ctx, Dir: dir}}
}

func (b browserPage) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.p.T.Helper()
	b.p.Run(what, steps...)
}

func (b browserPage) shot(name string) {
	b.p.T.Helper()
	b.p.Shot(name)
}

// browserConsole collects what the page logs, such as CSP violations.
func browserConsole(t *testing.T, ctx context.Context) func() []string {
	var mu sync.Mutex
	var msgs []string
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range chromedp.Console(cctx) {
			if err != nil {
				return
			}
			mu.Lock()
			msgs = append(msgs, string(m.Type)+": "+m.Text)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), msgs...)
	}
}

func TestBrowserRegistration(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	ctx := newPageBrowser(t)
	console := browserConsole(t, ctx)

	// The public URL must be the test server's, so the page's links work.
	ts := httptest.NewUnstartedServer(nil)
	e := newPageEnv(t, "http://"+ts.Listener.Addr().String())
	ts.Config.Handler = e.srv
	ts.Start()
	t.Cleanup(ts.Close)
	e.link.delay = 50 * time.Millisecond

	c := e.invite(invites.Request{Creator: "xmpp:admin@example.com"})
	dir := browserArtifacts(t)
	b := newBrowserPage(t, ctx, dir)
	shot, run := b.shot, b.run
	eval := func(js string) float64 {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[float64](js))
		if err != nil {
			t.Fatalf("evaluate %s: %v", js, err)
		}
		return v
	}

	desktop := chromedp.EmulateViewport(1280, 900)
	phone := chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch)

	// Landing page, desktop.
	run("open the landing page",
		desktop,
		chromedp.Navigate(e.svc.LandingURL(c.Token)),
		chromedp.WaitVisible(chromedp.CSS("#register")),
	)
	if w, h := eval(`document.querySelector("svg.qr").getBoundingClientRect().width`),
		eval(`document.querySelector("svg.qr").getBoundingClientRect().height`); w < 100 || h < 100 {
		t.Errorf("QR code is %.0f×%.0f px, want a visible square", w, h)
	}
	if n := eval(`[...document.querySelectorAll("#apps .client")].filter(e => e.getBoundingClientRect().height > 0).length`); n < 5 {
		t.Errorf("%v clients rendered, want the list", n)
	}
	// The stylesheet applies: the CSP hash matches what is inlined.
	if r := eval(`parseFloat(getComputedStyle(document.querySelector(".card")).borderTopLeftRadius)`); r == 0 {
		t.Error("stylesheet not applied (blocked by the CSP?)")
	}
	axeCheck(t, ctx, "landing page")
	shot("landing-desktop")
	browserDecodeQR(t, filepath.Join(dir, "landing-desktop.png"), e.svc.LandingURL(c.Token))

	// The same page on a phone, then in dark mode.
	run("phone viewport", phone)
	if w := eval(`document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("landing page is %v px wide on a 390 px phone: it scrolls sideways", w)
	}
	shot("landing-phone")
	run("dark mode", browserDarkMode(true))
	axeCheck(t, ctx, "landing page, phone, dark")
	shot("landing-phone-dark")
	run("desktop viewport", browserDarkMode(false), desktop)

	// Registration form.
	run("click through to registration",
		chromedp.Click(chromedp.CSS("#register")),
		chromedp.WaitVisible(chromedp.CSS("#register-form")),
	)
	axeCheck(t, ctx, "registration form")
	if ac := eval(`document.querySelectorAll('input[type=password][autocomplete="new-password"]').length`); ac != 2 {
		t.Errorf("%v password fields with autocomplete=new-password, want 2", ac)
	}
	const pw = "Sunny-Meadow-42"
	run("submit mismatched passwords",
		chromedp.SendKeys(chromedp.CSS("#user"), "Alice"),
		chromedp.SendKeys(chromedp.CSS("#password"), pw),
		chromedp.SendKeys(chromedp.CSS("#password_confirm"), pw+"!"),
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS("#form-error")),
	)
	kept, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#user").value + "|" + document.querySelector("#password").value`))
	if err != nil {
		t.Fatal(err)
	}
	if kept != "Alice|" {
		t.Errorf("after an error the form holds %q, want the username and no password", kept)
	}
	axeCheck(t, ctx, "registration form with an error")
	shot("register-error")
	run("fill the form",
		chromedp.SendKeys(chromedp.CSS("#password"), pw),
		chromedp.SendKeys(chromedp.CSS("#password_confirm"), pw),
		chromedp.SetValue(chromedp.CSS("#c"), "gajim"),
	)
	shot("register-form")
	run("submit",
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS("#success")),
	)
	jid, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#jid")))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(jid) != "alice@example.com" {
		t.Errorf("success page names %q, want alice@example.com", jid)
	}
	body, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(body, pw) {
		t.Error("success page shows the password")
	}
	if !strings.Contains(body, "Install <strong>Gajim</strong>") {
		t.Error("success page has no steps for the chosen client")
	}
	axeCheck(t, ctx, "success page")
	shot("success-desktop")
	run("phone viewport", phone)
	shot("success-phone")
	run("desktop viewport", desktop)

	if got := e.link.createdAccounts(); len(got) != 1 || got[0] != "alice" {
		t.Errorf("accounts created %v, want [alice]", got)
	}
	if inv, err := e.store.GetInvite(context.Background(), c.Invite.ID); err != nil || inv.State(e.clock.Now()) != keystore.StateUsed {
		t.Errorf("invite after registration: %+v, %v; want used", inv, err)
	}

	// Going back to the invite now shows that it was used.
	run("reopen the invite",
		chromedp.Navigate(e.svc.LandingURL(c.Token)),
		chromedp.WaitVisible(chromedp.CSS("#error")),
	)
	shot("used-invite")

	contact := e.invite(invites.Request{Type: keystore.TypeContact, Username: "admin", Creator: "xmpp:admin@example.com", AllowRegister: true})
	run("open a contact invite",
		chromedp.Navigate(e.svc.LandingURL(contact.Token)),
		chromedp.WaitVisible(chromedp.CSS("#add-contact")),
	)
	shot("landing-contact")

	for _, m := range console() {
		if strings.Contains(m, "Content Security Policy") || strings.HasPrefix(m, "exception") {
			t.Errorf("browser console: %s", m)
		}
	}
	t.Logf("screenshots in %s", dir)
}

// browserDarkMode makes the page see prefers-color-scheme: dark, or not.
func browserDarkMode(on bool) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		v := "light"
		if on {
			v = "dark"
		}
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v}},
		})
		return err
	})
}

// browserDecodeQR reads the QR code in a screenshot with zbarimg, where it is
// installed (Debian's zbar-tools), and checks that it is the landing URL: the
// proof that phones can scan it.
func browserDecodeQR(t *testing.T, png, want string) {
	t.Helper()
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("zbarimg not installed: the QR code cannot be decoded (test.sh --install-deps installs zbar-tools)")
		}
		t.Log("zbarimg not installed: QR code not decoded")
		return
	}
	out, err := exec.Command(zbar, "-q", "--raw", png).Output()
	if err != nil {
		t.Errorf("zbarimg %s: %v", png, err)
		return
	}
	if got := strings.TrimSpace(string(out)); got != want {
		t.Errorf("QR code reads %q, want %q", got, want)
	}
}

// TestBrowserLanguages renders the landing page and the registration form
// in German, Arabic and Japanese, on a desktop and a phone, and saves
// screenshots (landing-de.png, register-ar-phone.png, …): Arabic reads
// right to left with the address still left to right, and no page
// scrolls sideways.
func TestBrowserLanguages(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	ctx := newPageBrowser(t)
	ts := httptest.NewUnstartedServer(nil)
	e := newPageEnv(t, "http://"+ts.Listener.Addr().String())
	ts.Config.Handler = e.srv
	ts.Start()
	t.Cleanup(ts.Close)
	dir := browserArtifacts(t)
	c := e.invite(invites.Request{Creator: "xmpp:admin@example.com", Uses: 3})

	b := newBrowserPage(t, ctx, dir)
	shot, run := b.shot, b.run
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("evaluate %s: %v", js, err)
		}
		return v
	}
	desktop := chromedp.EmulateViewport(1280, 900)
	phone := chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch)
	for _, lang := range []string{"de", "ar", "ja"} {
		for _, pg := range []struct{ name, url, ready string }{
			{"landing", e.svc.LandingURL(c.Token) + "&lang=" + lang, "#register"},
			{"register", e.svc.RegisterURL(c.Token) + "&lang=" + lang, "#register-form"},
		} {
			run("open "+pg.name+" in "+lang, desktop, chromedp.Navigate(pg.url), chromedp.WaitVisible(chromedp.CSS(pg.ready)))
			if got := eval(`document.documentElement.lang + " " + document.documentElement.dir`); got != lang+" "+map[bool]string{true: "rtl", false: "ltr"}[lang == "ar"] {
				t.Errorf("%s in %s: <html> lang and dir %q", pg.name, lang, got)
			}
			if h1 := eval(`document.querySelector("h1").textContent`); strings.Contains(h1, "invited") || strings.Contains(h1, "Create your account") {
				t.Errorf("%s in %s: heading still English: %q", pg.name, lang, h1)
			}
			if lang == "ar" {
				// The heading starts at the right; the address field stays
				// left to right, its @domain on the right.
				if got := eval(`(() => { const h = document.querySelector("h1").getBoundingClientRect(), c = document.querySelector("h1").parentElement.getBoundingClientRect(); return String(c.right - h.right < 40) })()`); got != "true" {
					t.Errorf("%s in Arabic: the heading does not start at the right", pg.name)
				}
				if pg.name == "register" {
					if got := eval(`String(document.querySelector(".suffix").getBoundingClientRect().left > document.querySelector("#user").getBoundingClientRect().left)`); got != "true" {
						t.Error("register in Arabic: @domain is not to the right of the username")
					}
				}
			}
			if lang == "ar" {
				axeCheck(t, ctx, pg.name+" in Arabic")
			}
			shot(pg.name + "-" + lang)
			run("phone", phone)
			if w := eval(`String(document.documentElement.scrollWidth)`); w != "390" {
				t.Errorf("%s in %s is %s px wide on a 390 px phone", pg.name, lang, w)
			}
			shot(pg.name + "-" + lang + "-phone")
		}
	}
}
