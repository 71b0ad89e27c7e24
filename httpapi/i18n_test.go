package httpapi_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"xmpp-invites/httpapi"
	"xmpp-invites/i18n"
	"xmpp-invites/invites"
)

var menuLink = regexp.MustCompile(`<a href="([^"]*)" hreflang="([^"]+)">`)

func getWith(e *pageEnv, target string, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	return e.do(req)
}

// TestLanguageMenuLinksLeadToTheirLanguage follows every link of the
// language menu of a landing page and a registration form: each page comes
// back in the link's language, says so, and is right to left for Arabic.
func TestLanguageMenuLinksLeadToTheirLanguage(t *testing.T) {
	e := newPageEnv(t, pagePublic)
	c := e.invite(invites.Request{})
	cat, _ := i18n.New("")
	for _, start := range []string{"/invite?" + c.Token, "/invite/" + c.Token, "/register?t=" + c.Token} {
		rec := e.get(start)
		pageWantStatus(t, rec, 200, start)
		links := menuLink.FindAllStringSubmatch(rec.Body.String(), -1)
		// Every locale but the current one is a link; the current one is
		// marked.
		if len(links) != len(cat.Locales())-1 || !strings.Contains(rec.Body.String(), `<strong aria-current="page" lang="en">English</strong>`) {
			t.Fatalf("%s: %d menu links for %d locales, or English not marked current", start, len(links), len(cat.Locales()))
		}
		for _, m := range links {
			href, tag := strings.ReplaceAll(m[1], "&amp;", "&"), m[2]
			base := pagePublic + start
			if i := strings.IndexByte(base, '?'); i >= 0 {
				base = base[:i]
			}
			// Absolute, to this very page, with lang= added to its query.
			if !strings.HasPrefix(href, base+"?") || !strings.HasSuffix(href, "lang="+tag) {
				t.Fatalf("%s: menu link %q is not this page's URL with lang=%s", start, href, tag)
			}
			href = strings.TrimPrefix(href, base)
			base = strings.TrimPrefix(base, pagePublic)
			rec := e.get(base + href)
			pageWantStatus(t, rec, 200, base+href)
			body := rec.Body.String()
			loc, _ := cat.Lookup(tag)
			wantHTML := `<html lang="` + tag + `" dir="` + loc.Dir() + `">`
			if !strings.Contains(body, wantHTML) {
				t.Errorf("%s%s: page lacks %s", base, href, wantHTML)
			}
			if got := rec.Header().Get("Content-Language"); got != tag {
				t.Errorf("%s%s: Content-Language %q, want %s", base, href, got, tag)
			}
			if !strings.Contains(body, `<strong aria-current="page" lang="`+tag+`">`) {
				t.Errorf("%s%s: %s is not marked current in the menu", base, href, tag)
			}
			if tag == "ar" && !strings.Contains(body, `dir="rtl"`) {
				t.Errorf("Arabic page is not right to left")
			}
			if cookie := rec.Header().Get("Set-Cookie"); !strings.HasPrefix(cookie, "lang="+tag+";") || !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Lax") {
				t.Errorf("%s%s: cookie %q does not keep %s", base, href, cookie, tag)
			}
		}
	}
}

func TestLanguageNegotiation(t *testing.T) {
	e := newPageEnv(t, pagePublic)
	c := e.invite(invites.Request{})
	target := "/invite?" + c.Token
	for _, tc := range []struct {
		name   string
		target string
		header http.Header
		want   string
	}{
		{"nothing asked", target, nil, "en"},
		{"Accept-Language", target, http.Header{"Accept-Language": {"de-AT,de;q=0.9,en;q=0.5"}}, "de"},
		{"Accept-Language unavailable", target, http.Header{"Accept-Language": {"xx-YY"}}, "en"},
		{"cookie beats Accept-Language", target, http.Header{"Accept-Language": {"de"}, "Cookie": {"lang=fr"}}, "fr"},
		{"lang= beats the cookie", target + "&lang=ja", http.Header{"Cookie": {"lang=fr"}}, "ja"},
		{"unknown lang= ignored", target + "&lang=xx", http.Header{"Accept-Language": {"uk"}}, "uk"},
		{"bad cookie ignored", target, http.Header{"Cookie": {"lang=<script>"}, "Accept-Language": {"pt-BR"}}, "pt-BR"},
		{"Chinese from zh-CN", target, http.Header{"Accept-Language": {"zh-CN,zh;q=0.9"}}, "zh-Hans"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := getWith(e, tc.target, tc.header)
			pageWantStatus(t, rec, 200, tc.name)
			if got := rec.Header().Get("Content-Language"); got != tc.want {
				t.Errorf("Content-Language %q, want %s", got, tc.want)
			}
			if vary := strings.Join(rec.Header().Values("Vary"), ", "); !strings.Contains(vary, "Accept-Language, Cookie") {
				t.Errorf("Vary %q lacks Accept-Language, Cookie", vary)
			}
			if strings.Contains(tc.name, "ignored") && rec.Header().Get("Set-Cookie") != "" {
				t.Errorf("an unknown language set a cookie: %s", rec.Header().Get("Set-Cookie"))
			}
		})
	}
	// The landing page's cache is keyed by language: German after English
	// is German.
	en := e.get(target).Body.String()
	de := getWith(e, target, http.Header{"Accept-Language": {"de"}}).Body.String()
	if en == de || !strings.Contains(de, `lang="de"`) {
		t.Error("the landing page cache served another language's page")
	}
	// Error pages speak the language too.
	rec := getWith(e, "/invite?nosuchtoken", http.Header{"Accept-Language": {"de"}})
	if rec.Code != 404 || rec.Header().Get("Content-Language") != "de" || strings.Contains(rec.Body.String(), "Invite not found") {
		t.Errorf("error page: %d, Content-Language %q, or still English", rec.Code, rec.Header().Get("Content-Language"))
	}
}

func TestDefaultLanguage(t *testing.T) {
	cat, err := i18n.New("de")
	if err != nil {
		t.Fatal(err)
	}
	e, err := newPageEnvWith(t, pagePublic, httpapi.Config{Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	c := e.invite(invites.Request{})
	if rec := getWith(e, "/invite?"+c.Token, http.Header{"Accept-Language": {"xx"}}); rec.Header().Get("Content-Language") != "de" {
		t.Errorf("unknown language: Content-Language %q, want the default de", rec.Header().Get("Content-Language"))
	}
}

// TestSevenDayInviteSaysSevenDays: the relative expiry rounds to the
// nearest day, in every language.
func TestSevenDayInviteSaysSevenDays(t *testing.T) {
	e := newPageEnv(t, pagePublic)
	c := e.invite(invites.Request{})
	body := pageText(e.get("/invite?" + c.Token).Body.String())
	if !strings.Contains(body, "(in 7 days)") {
		t.Errorf("a 7-day invite does not read in 7 days:\n%s", body)
	}
	de := pageText(getWith(e, "/invite?"+c.Token, http.Header{"Accept-Language": {"de"}}).Body.String())
	if !strings.Contains(de, "7") || strings.Contains(de, "in 7 days") {
		t.Errorf("German page:\n%s", de)
	}
}

func TestBranding(t *testing.T) {
	logo := []byte(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>`)
	e, err := newPageEnvWith(t, "https://example.com/join", httpapi.Config{Branding: httpapi.Branding{
		Logo: logo, LogoType: "image/svg+xml", AccentColor: "#aa3300",
		ImprintURL: "https://example.com/imprint", PrivacyURL: "https://example.com/privacy", TermsURL: "https://example.com/terms",
		Notice: "Maintenance on Sunday <b>night</b>",
	}})
	if err != nil {
		t.Fatal(err)
	}
	c := e.invite(invites.Request{})
	for _, target := range []string{"/join/invite?" + c.Token, "/join/register?t=" + c.Token, "/join/invite?nosuchtoken"} {
		body := e.get(target).Body.String()
		for _, want := range []string{
			`<img src="/join/logo" alt="">`, "--accent:#aa3300",
			`<a href="https://example.com/imprint" rel="noopener noreferrer">Imprint</a>`,
			`<a href="https://example.com/privacy" rel="noopener noreferrer">Privacy</a>`,
			`<a href="https://example.com/terms" rel="noopener noreferrer">Terms</a>`,
			`Maintenance on Sunday &lt;b&gt;night&lt;/b&gt;`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("%s lacks %s", target, want)
			}
		}
	}
	rec := e.get("/join/logo")
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "image/svg+xml" || rec.Body.String() != string(logo) ||
		!strings.Contains(rec.Header().Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("logo: %d %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("Content-Security-Policy"))
	}
	req := httptest.NewRequest("GET", "/join/logo", nil)
	req.Header.Set("If-None-Match", rec.Header().Get("ETag"))
	if rec := e.do(req); rec.Code != http.StatusNotModified {
		t.Errorf("logo revalidation: %d, want 304", rec.Code)
	}
	// Without a logo there is no logo route.
	if rec := newPageEnv(t, pagePublic).get("/logo"); rec.Code != 404 {
		t.Errorf("/logo without a logo: %d, want 404", rec.Code)
	}
}

func TestTemplateOverrides(t *testing.T) {
	override := func(files fstest.MapFS) (*pageEnv, error) {
		return newPageEnvWith(t, pagePublic, httpapi.Config{Branding: httpapi.Branding{Templates: files, TemplatesDir: "/etc/xmpp-invites/templates"}})
	}
	e, err := override(fstest.MapFS{"error.html": {Data: []byte(`{{define "content"}}<h1 id="mine">{{.Title}}</h1>{{end}}`)}})
	if err != nil {
		t.Fatal(err)
	}
	if body := e.get("/invite?nosuchtoken").Body.String(); !strings.Contains(body, `<h1 id="mine">Invite not found</h1>`) {
		t.Errorf("the override of error.html is not used:\n%s", body)
	}
	for _, tc := range []struct {
		name  string
		files fstest.MapFS
		want  string
	}{
		{"parse error", fstest.MapFS{"landing.html": {Data: []byte("{{define \"content\"}}\n<p>\n{{if}}</p>{{end}}")}}, "/etc/xmpp-invites/templates/landing.html:3"},
		{"unknown field", fstest.MapFS{"success.html": {Data: []byte("{{define \"content\"}}\n\n<p>{{.NoSuchField}}</p>{{end}}")}}, "/etc/xmpp-invites/templates/success.html:3"},
		{"unknown file", fstest.MapFS{"landnig.html": {Data: []byte("x")}}, "landnig.html is not a template name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := override(tc.files)
			var te *httpapi.TemplateError
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &te) {
				t.Errorf("got %v, want a TemplateError naming %s", err, tc.want)
			}
		})
	}
}

// TestPageSizeBudget keeps the English pages within 10 % of their size
// before the pages were translated (landing 17,824 bytes, registration
// form 11,162, error page 8,968, with a 24-character token), language
// menu included.
func TestPageSizeBudget(t *testing.T) {
	e := newPageEnv(t, pagePublic)
	c := e.invite(invites.Request{})
	for _, tc := range []struct {
		target string
		before int
	}{
		{"/invite?" + c.Token, 17824},
		{"/register?t=" + c.Token, 11162},
		{"/invite?nosuchtoken", 8968},
	} {
		if n := e.get(tc.target).Body.Len(); n > tc.before*110/100 {
			t.Errorf("%s: %d bytes, more than 110 %% of %d", strings.SplitN(tc.target, "?", 2)[0], n, tc.before)
		}
	}
}
