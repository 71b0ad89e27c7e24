package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

// prefixPublic is a public_url with a path: everything but the probes
// lives under /join.
const prefixPublic = "https://chat.example.com/join"

// prefixEnv is a page environment under prefixPublic with a manage key.
type prefixEnv struct {
	*pageEnv
	cred string
}

func newPrefixEnv(t *testing.T) *prefixEnv {
	t.Helper()
	e := newPageEnv(t, prefixPublic)
	_, cred, err := e.store.CreateKey(context.Background(), keystore.KeyParams{Name: "k", Scope: keystore.ScopeManage})
	if err != nil {
		t.Fatal(err)
	}
	return &prefixEnv{pageEnv: e, cred: cred}
}

// req sends method target with the key, a body of form values if form is
// not nil, and header name, value pairs.
func (e *prefixEnv) req(method, target string, form url.Values, header ...string) *httptest.ResponseRecorder {
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	r := httptest.NewRequest(method, target, body)
	r.Header.Set("Authorization", "Bearer "+e.cred)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	return e.do(r)
}

// createInvite mints an invite through /join/invites_api and returns it.
func (e *prefixEnv) createInvite(t *testing.T) (id, token string) {
	t.Helper()
	rec := e.req("POST", "/join/invites_api", nil)
	var body struct{ ID, Token, Landing_URL string }
	json.Unmarshal(rec.Body.Bytes(), &body)
	if rec.Code != http.StatusCreated || body.Token == "" {
		t.Fatalf("POST /join/invites_api: %d %s", rec.Code, rec.Body)
	}
	if loc, want := rec.Header().Get("Location"), prefixPublic+"/invite?"+body.Token; loc != want || body.Landing_URL != want {
		t.Fatalf("Location %q, landing_url %q, want %q", loc, body.Landing_URL, want)
	}
	return body.ID, body.Token
}

// TestPrefixRoutes: with public_url https://chat.example.com/join every
// route answers under /join and is 404 without it; the probes answer at the
// root only.
func TestPrefixRoutes(t *testing.T) {
	e := newPrefixEnv(t)
	id, tok := e.createInvite(t)
	csrf := func() string {
		m := pageCSRFRe.FindStringSubmatch(e.req("GET", "/join/register?t="+tok, nil).Body.String())
		if m == nil {
			t.Fatal("no csrf field on /join/register")
		}
		return m[1]
	}
	form := func() url.Values {
		return url.Values{"csrf": {csrf()}, "user": {"newbie"}, "password": {"correct horse"}, "password_confirm": {"correct horse"}}
	}

	for _, tc := range []struct {
		method, path string // path under the prefix, without it
		form         func() url.Values
		status       int // under the prefix
	}{
		{"GET", "/invite?" + tok, nil, 200},
		{"GET", "/invite/" + tok, nil, 200},
		{"POST", "/invite?" + tok, nil, 405},
		{"GET", "/register?t=" + tok, nil, 200},
		{"PUT", "/register?t=" + tok, nil, 405},
		{"OPTIONS", "/invites_api", nil, 204},
		{"HEAD", "/invites_api", nil, 405},
		{"GET", "/api/v1/invites", nil, 200},
		{"GET", "/api/v1/invites/" + id, nil, 200},
		{"GET", "/api/v1/nothing", nil, 404},
		{"POST", "/api/v1/invites", nil, 201},
		{"GET", "/invites_api", nil, 201},
		{"POST", "/register?t=" + tok, form, 200}, // uses the invite: keep it last
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			var f url.Values
			if tc.form != nil {
				f = tc.form()
			}
			// Outside the prefix first: it must not do anything, the
			// registration included.
			if rec := e.req(tc.method, tc.path, f, "Sec-Fetch-Site", "same-origin"); rec.Code != http.StatusNotFound {
				t.Errorf("%s %s without the prefix: %d, want 404", tc.method, tc.path, rec.Code)
			}
			if rec := e.req(tc.method, "/join"+tc.path, f, "Sec-Fetch-Site", "same-origin"); rec.Code != tc.status {
				t.Errorf("%s /join%s: %d, want %d\n%s", tc.method, tc.path, rec.Code, tc.status, pageText(rec.Body.String()))
			}
		})
	}
	if n := e.uses(id); n != 1 {
		t.Errorf("invite uses %d after one registration under the prefix, want 1", n)
	}

	for _, tc := range []struct {
		method, target string
		status         int
		location       string
	}{
		{"GET", "/healthz", 200, ""},
		{"GET", "/readyz", 200, ""},
		{"HEAD", "/healthz", 200, ""},
		{"GET", "/join/healthz", 404, ""},
		{"GET", "/join/readyz", 404, ""},
		{"GET", "/joinx/invite?" + tok, 404, ""},
		{"GET", "/", 404, ""},
		{"GET", "/join/", 404, ""},
		// The prefix itself is the directory, as nginx and the mux do it.
		{"GET", "/join", 307, "/join/"},
		{"GET", "/join?x=1", 307, "/join/?x=1"},
		// The mux's own redirects name the full path.
		{"GET", "/join/api/v1", 307, "/join/api/v1/"},
		{"GET", "/join/../join/invite?" + tok, 307, "/join/invite?" + tok},
		{"GET", "/join//invite?" + tok, 307, "/join/invite?" + tok},
	} {
		rec := e.req(tc.method, tc.target, nil)
		if rec.Code != tc.status || rec.Header().Get("Location") != tc.location {
			t.Errorf("%s %s: %d Location %q, want %d %q", tc.method, tc.target, rec.Code, rec.Header().Get("Location"), tc.status, tc.location)
		}
	}

	// redirect=true: 303 to the landing page under the prefix.
	rec := e.req("POST", "/join/invites_api?redirect=true", nil)
	if loc := rec.Header().Get("Location"); rec.Code != http.StatusSeeOther || !strings.HasPrefix(loc, prefixPublic+"/invite?") {
		t.Errorf("redirect=true: %d Location %q, want 303 to %s/invite?TOKEN", rec.Code, loc, prefixPublic)
	}
}

// TestPrefixPageLinks: every link, form and asset of every page points
// inside the prefix (or off the site: apps' download pages, xmpp: URIs,
// data: URLs).
func TestPrefixPageLinks(t *testing.T) {
	e := newPrefixEnv(t)
	_, account := e.createInvite(t)
	_, taken := e.createInvite(t)
	_, down := e.createInvite(t)
	contactOnly := e.invite(invites.Request{Type: keystore.TypeContact, Username: "alice", Creator: "xmpp:alice@example.com"})
	contact := e.invite(invites.Request{Type: keystore.TypeContact, Username: "alice", Creator: "xmpp:alice@example.com", AllowRegister: true})
	e.link.ChangePassword(context.Background(), "taken", "x")

	register := func(tok, user string) *httptest.ResponseRecorder {
		m := pageCSRFRe.FindStringSubmatch(e.req("GET", "/join/register?t="+tok, nil).Body.String())
		if m == nil {
			t.Fatalf("no form for %s", tok)
		}
		f := url.Values{"csrf": {m[1]}, "user": {user}, "password": {"correct horse"}, "password_confirm": {"correct horse"}, "c": {"conversations"}}
		return e.req("POST", "/join/register?t="+tok, f, "Sec-Fetch-Site", "same-origin")
	}
	get := func(target string) *httptest.ResponseRecorder { return e.req("GET", target, nil) }
	pages := []prefixPage{
		{"landing", "/join/invite?" + account, get("/join/invite?" + account), 200, 1},
		{"contact landing", "/join/invite?" + contact.Token, get("/join/invite?" + contact.Token), 200, 1},
		{"register form", "/join/register?t=" + account, get("/join/register?t=" + account), 200, 1},
		{"not found", "/join/invite?x", get("/join/invite?x"), 404, 0},
		{"contact only", "/join/register?t=" + contactOnly.Token, get("/join/register?t=" + contactOnly.Token), 403, 1},
		{"username taken", "/join/register?t=" + taken, register(taken, "taken"), 409, 1},
		{"success", "/join/register?t=" + account, register(account, "newbie"), 200, 0},
		{"contact success", "/join/register?t=" + contact.Token, register(contact.Token, "dave"), 200, 0},
	}
	e.link.setState("down")
	pages = append(pages, prefixPage{"link down", "/join/register?t=" + down, get("/join/register?t=" + down), 503, 1})

	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			if p.rec.Code != p.status {
				t.Fatalf("status %d, want %d\n%s", p.rec.Code, p.status, pageText(p.rec.Body.String()))
			}
			base, _ := url.Parse("https://chat.example.com" + p.target)
			inside := 0
			for _, ref := range pageRefs(t, p.rec.Body.String()) {
				u, err := base.Parse(ref.url)
				if err != nil {
					t.Errorf("<%s %s=%q>: %v", ref.tag, ref.attr, ref.url, err)
					continue
				}
				switch {
				case u.Scheme == "data" || u.Scheme == "xmpp":
				case u.Host != "chat.example.com":
					if ref.attr != "href" || ref.tag != "a" {
						t.Errorf("<%s %s=%q> loads from another site", ref.tag, ref.attr, ref.url)
					}
				case !strings.HasPrefix(u.Path, "/join/"):
					t.Errorf("<%s %s=%q> resolves to %s, outside /join/", ref.tag, ref.attr, ref.url, u.Path)
				case ref.url != "" && !strings.HasPrefix(ref.url, prefixPublic+"/"):
					t.Errorf("<%s %s=%q> is not an absolute URL under public_url", ref.tag, ref.attr, ref.url)
				default:
					inside++
				}
			}
			if inside < p.links {
				t.Errorf("%d links into the prefix, want at least %d", inside, p.links)
			}
			if csp := p.rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self'") || strings.Contains(csp, "http") {
				t.Errorf("CSP %q: want form-action 'self' and no URL sources", csp)
			}
		})
	}
}

// prefixPage is a page fetched under the prefix.
type prefixPage struct {
	name, target string
	rec          *httptest.ResponseRecorder
	status       int
	links        int // at least this many links into the prefix
}

// pageRef is one URL-valued attribute of a page.
type pageRef struct{ tag, attr, url string }

// pageRefs parses body and returns every URL it refers to: links, form
// actions (a form without one posts to the page itself: "" is returned),
// and whatever would be loaded.
func pageRefs(t *testing.T, body string) []pageRef {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse page: %v", err)
	}
	var refs []pageRef
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			hasAction := false
			for _, a := range n.Attr {
				switch a.Key {
				case "href", "src", "action", "formaction", "poster", "srcset", "data":
					refs = append(refs, pageRef{n.Data, a.Key, strings.TrimSpace(a.Val)})
					hasAction = hasAction || a.Key == "action"
				}
			}
			if n.Data == "form" && !hasAction {
				refs = append(refs, pageRef{"form", "action", ""})
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return refs
}
