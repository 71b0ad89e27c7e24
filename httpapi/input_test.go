package httpapi

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"xmpp-invites/keystore"
)

// TestAPIRefusesControlText: a note or username with a control or
// bidirectional formatting character is a 400 naming the field, from the
// query, a form and a JSON body of either API; nothing is created.
func TestAPIRefusesControlText(t *testing.T) {
	e := newAPIEnv(t, func(c *Config) { c.MaxAuthFailures = 0 })
	manage := e.manageKey(t)
	bads := []string{
		"red\x1b[31malert", "two\nlines", "col\tumn", "cr\rlf", "nul\x00", "del\x7f", "c1\u0085next", "csi\u009b2J",
		"txt\u202eexe.bat", "lre\u202a", "lri\u2066x\u2069", "fsi\u2068", "lrm\u200e", "rlm\u200f", "alm\u061c",
		"ls\u2028", "ps\u2029",
	}
	for _, bad := range bads {
		for _, field := range []string{"note", "username"} {
			params := url.Values{field: {bad}}
			if field == "username" {
				params.Set("type", "contact")
			}
			js := map[string]string{}
			for k := range params {
				js[k] = params.Get(k)
			}
			body, _ := json.Marshal(js)
			for _, q := range []apiReq{
				{target: "/invites_api?" + params.Encode(), headers: apiBearer(manage)},
				{method: "POST", target: "/invites_api", body: params.Encode(), headers: append(apiBearer(manage), "Content-Type", formType)},
				{method: "POST", target: "/invites_api", body: string(body), headers: append(apiBearer(manage), "Content-Type", jsonType)},
				{method: "POST", target: "/api/v1/invites", body: string(body), headers: append(apiBearer(manage), "Content-Type", jsonType)},
			} {
				rec := e.do(t, q)
				var got errorBody
				_ = json.Unmarshal(rec.Body.Bytes(), &got)
				if rec.Code != 400 || !strings.HasPrefix(got.Error, field+": must not contain control or bidirectional formatting characters") {
					t.Errorf("%s %s %q: status %d, body %q; want 400 naming %s", q.method, q.target, q.body, rec.Code, rec.Body, field)
				}
			}
		}
	}
	// Invalid UTF-8 from a query or form (JSON has its own check).
	rec := e.do(t, apiReq{target: "/invites_api?note=%ff%fe", headers: apiBearer(manage)})
	apiWantError(t, rec, 400, "note: must be valid UTF-8")
	if n := e.count(t); n != 0 {
		t.Fatalf("%d invites created, want none", n)
	}
	// What stays allowed: spaces, punctuation, any script, emoji.
	for _, ok := range []string{"for bob & alice", "für Jürgen – 2 Plätze", "עברית", "日本語", "🎉 party"} {
		rec := e.do(t, apiReq{target: "/invites_api?" + url.Values{"note": {ok}}.Encode(), headers: apiBearer(manage)})
		apiWantStatus(t, rec, 201)
	}
}

// TestAPIJSONStrict: a JSON body whose meaning depends on the decoder's
// leniency is refused, on both APIs, before anything is created: a member
// given twice (also through an escape), a name in another case than the
// field's, invalid UTF-8 and unpaired surrogate escapes.
func TestAPIJSONStrict(t *testing.T) {
	e := newAPIEnv(t, func(c *Config) { c.MaxAuthFailures = 0 })
	manage := e.manageKey(t)
	for _, tc := range []struct{ body, msg string }{
		{`{"type":"contact","Type":"reset","username":"bob"}`, `unknown field "Type"`},
		{`{"username":"bob","TYPE":"reset"}`, `unknown field "TYPE"`},
		{`{"Note":"x"}`, `unknown field "Note"`},
		{`{"type":"account","type":"reset","username":"bob"}`, `duplicate field "type"`},
		{`{"type":"account","typ\u0065":"reset","username":"bob"}`, `duplicate field "type"`},
		{`{"note":"a","note":"b"}`, `duplicate field "note"`},
		{`{"note":null,"note":"b"}`, `duplicate field "note"`},
		{"{\"note\":\"caf\xe9\"}", "JSON body must be valid UTF-8"},
		{"{\"note\":\"\xed\xa0\x80\"}", "JSON body must be valid UTF-8"},
		{`{"note":"\ud800"}`, "JSON body must be valid UTF-8 (no unpaired surrogate escapes)"},
		{`{"note":"\udc00\ud800"}`, "JSON body must be valid UTF-8 (no unpaired surrogate escapes)"},
		{`{"color":"red"}`, `unknown field "color"`},
	} {
		for _, target := range []string{"/invites_api", "/api/v1/invites"} {
			rec := e.do(t, apiReq{method: "POST", target: target, body: tc.body,
				headers: append(apiBearer(manage), "Content-Type", jsonType)})
			apiWantError(t, rec, 400, tc.msg)
		}
	}
	rec := e.do(t, apiReq{method: "POST", target: "/invites_api", body: `{"redirect":true,"Redirect":false}`,
		headers: append(apiBearer(manage), "Content-Type", jsonType)})
	apiWantError(t, rec, 400, `unknown field "Redirect"`)
	if n := e.count(t); n != 0 {
		t.Fatalf("%d invites created, want none", n)
	}
	// A valid body, escapes and a surrogate pair included, still works.
	rec = e.do(t, apiReq{method: "POST", target: "/api/v1/invites", body: `{"type":"contact","username":"bob","note":"f\u00fcr \ud83c\udf89"}`,
		headers: append(apiBearer(manage), "Content-Type", jsonType)})
	apiWantStatus(t, rec, 201)
	if c := apiDecode[createdJSON](t, rec); c.Type != "contact" {
		t.Fatalf("type %q, want contact", c.Type)
	}
	invs, err := e.store.ListInvites(t.Context(), keystore.ListOptions{All: true})
	if err != nil || len(invs) != 1 || invs[0].Note != "für 🎉" {
		t.Fatalf("stored %+v, %v; want one invite with note %q", invs, err, "für 🎉")
	}
}

// TestContactURIEncoded: the roster URI of a contact invite for a username
// with URI delimiters is percent-encoded wherever it appears: the JSON
// uri, the landing page's Link header and its "add in your app" button.
func TestContactURIEncoded(t *testing.T) {
	e := newAPIEnv(t, func(c *Config) { c.MaxAuthFailures = 0 })
	manage := e.manageKey(t)
	rec := e.do(t, apiReq{method: "POST", target: "/api/v1/invites", body: `{"type":"contact","username":"evil?roster#x;ibr=y"}`,
		headers: append(apiBearer(manage), "Content-Type", jsonType)})
	apiWantStatus(t, rec, 201)
	c := apiDecode[createdJSON](t, rec)
	want := "xmpp:evil%3Froster%23x%3Bibr%3Dy@example.com?roster;preauth=" + c.Token + ";ibr=y"
	if c.URI != want {
		t.Fatalf("uri %q, want %q", c.URI, want)
	}
	rec = e.do(t, apiReq{target: "/invite?" + c.Token})
	apiWantStatus(t, rec, 200)
	if got, wantLink := rec.Header().Get("Link"), "<"+want+`>; rel="alternate"`; got != wantLink {
		t.Errorf("Link %q, want %q", got, wantLink)
	}
	if body := rec.Body.String(); !strings.Contains(body, `id="add-contact" href="`+want+`"`) {
		t.Errorf("no add-in-your-app button with href %s", want)
	}
}
