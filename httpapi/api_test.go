package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

const (
	formType = "application/x-www-form-urlencoded"
	jsonType = "application/json"
)

// checkCreated verifies a create answer against the store and returns the
// stored invite.
func checkCreated(t *testing.T, e *apiEnv, rec *httptest.ResponseRecorder, creator string) (createdJSON, keystore.Invite) {
	t.Helper()
	c := apiDecode[createdJSON](t, rec)
	if len(c.Token) != keystore.TokenLen || len(c.ID) != keystore.InviteIDLen {
		t.Fatalf("token %q / id %q have the wrong length", c.Token, c.ID)
	}
	landing := "https://example.com/invite?" + c.Token
	if c.LandingURL != landing {
		t.Errorf("landing_url %q, want %q", c.LandingURL, landing)
	}
	if loc := rec.Header().Get("Location"); loc != landing {
		t.Errorf("Location %q, want %q", loc, landing)
	}
	inv, err := e.store.GetInvite(context.Background(), c.Token)
	if err != nil {
		t.Fatalf("the created invite is not in the store: %v", err)
	}
	if inv.ID != c.ID || string(inv.Type) != c.Type || (c.Expires == nil) != inv.NeverExpires() ||
		c.Expires != nil && apiTime(inv.Expires) != *c.Expires {
		t.Errorf("answer %+v does not match the stored invite %+v", c, inv)
	}
	if inv.Creator != creator {
		t.Errorf("creator %q, want %q", inv.Creator, creator)
	}
	if want := e.svc.URI(inv, c.Token); c.URI != want {
		t.Errorf("uri %q, want %q", c.URI, want)
	}
	if c.Expires != nil {
		if _, err := time.Parse(time.RFC3339, *c.Expires); err != nil || !strings.HasSuffix(*c.Expires, "Z") {
			t.Errorf("expires %q is not RFC 3339 UTC", *c.Expires)
		}
	}
	return c, inv
}

func TestInvitesAPICreate(t *testing.T) {
	e := newAPIEnv(t, func(c *Config) { c.MaxAuthFailures = 0 })
	plainKey, plain := e.key(t, keystore.KeyParams{Name: "plain"})
	manageKey, manage := e.key(t, keystore.KeyParams{Name: "manage", Scope: keystore.ScopeManage})
	now := e.clock.Now()
	q := url.QueryEscape

	tests := []struct {
		name   string
		req    apiReq
		status int
		// for 201 and 303
		creator string
		check   func(t *testing.T, c createdJSON, inv keystore.Invite)
		// for errors
		msg string
	}{
		{name: "bearer, no query string", req: apiReq{target: "/invites_api", headers: apiBearer(plain)}, status: 201,
			check: func(t *testing.T, c createdJSON, inv keystore.Invite) {
				if inv.Type != keystore.TypeAccount || inv.MaxUses != 1 || !inv.Expires.Equal(now.Add(168*time.Hour)) {
					t.Errorf("defaults: got %+v", inv)
				}
				if c.URI != "xmpp:example.com?register;preauth="+c.Token {
					t.Errorf("uri %q", c.URI)
				}
			}},
		{name: "bearer, empty query string", req: apiReq{target: "/invites_api?", headers: apiBearer(plain)}, status: 201},
		{name: "lower-case bearer", req: apiReq{target: "/invites_api", headers: []string{"Authorization", "bearer " + plain}}, status: 201},
		{name: "upper-case BEARER, extra spaces", req: apiReq{target: "/invites_api", headers: []string{"Authorization", "BEARER   " + plain + " "}}, status: 201},
		{name: "key in query", req: apiReq{target: "/invites_api?key=" + plain}, status: 201},
		{name: "key in query, escaped slash", req: apiReq{target: "/invites_api?key=" + q(plain)}, status: 201},
		{name: "POST with bearer", req: apiReq{method: "POST", target: "/invites_api", headers: apiBearer(plain)}, status: 201},
		{name: "POST form key", req: apiReq{method: "POST", target: "/invites_api", body: "key=" + q(plain),
			headers: []string{"Content-Type", formType}}, status: 201},
		{name: "POST form params", req: apiReq{method: "POST", target: "/invites_api",
			body: "key=" + q(plain) + "&ttl=3600&uses=3&note=for+bob", headers: []string{"Content-Type", formType + "; charset=utf-8"}}, status: 201,
			check: func(t *testing.T, c createdJSON, inv keystore.Invite) {
				if inv.MaxUses != 3 || inv.Note != "for bob" || !inv.Expires.Equal(now.Add(time.Hour)) {
					t.Errorf("got %+v", inv)
				}
			}},
		{name: "POST JSON", req: apiReq{method: "POST", target: "/invites_api", body: `{"ttl":"2h","uses":2,"note":"hi","username":null}`,
			headers: append(apiBearer(plain), "Content-Type", jsonType)}, status: 201,
			check: func(t *testing.T, c createdJSON, inv keystore.Invite) {
				if inv.MaxUses != 2 || inv.Note != "hi" || !inv.Expires.Equal(now.Add(2*time.Hour)) {
					t.Errorf("got %+v", inv)
				}
			}},
		{name: "POST JSON numeric ttl and redirect false", req: apiReq{method: "POST", target: "/invites_api",
			body: `{"ttl":60,"redirect":false}`, headers: append(apiBearer(plain), "Content-Type", jsonType)}, status: 201},
		{name: "POST JSON redirect true", req: apiReq{method: "POST", target: "/invites_api",
			body: `{"redirect":true}`, headers: append(apiBearer(plain), "Content-Type", jsonType)}, status: 303},
		{name: "GET ignores its body", req: apiReq{target: "/invites_api", body: "garbage", headers: apiBearer(plain)}, status: 201},
		{name: "empty POST body with any content type", req: apiReq{method: "POST", target: "/invites_api", body: " ",
			headers: append(apiBearer(plain), "Content-Type", "text/plain")}, status: 201},
		{name: "redirect=false", req: apiReq{target: "/invites_api?redirect=false", headers: apiBearer(plain)}, status: 201},
		{name: "redirect=0", req: apiReq{target: "/invites_api?redirect=0", headers: apiBearer(plain)}, status: 201},
		{name: "redirect=no", req: apiReq{target: "/invites_api?redirect=no", headers: apiBearer(plain)}, status: 201},
		{name: "redirect=true", req: apiReq{target: "/invites_api?key=" + plain + "&redirect=true"}, status: 303},
		{name: "redirect=1", req: apiReq{target: "/invites_api?redirect=1", headers: apiBearer(plain)}, status: 303},
		{name: "redirect=yes", req: apiReq{target: "/invites_api?redirect=yes", headers: apiBearer(plain)}, status: 303},
		{name: "redirect in form", req: apiReq{method: "POST", target: "/invites_api", body: "redirect=true&key=" + q(plain),
			headers: []string{"Content-Type", formType}}, status: 303},
		{name: "unknown params ignored", req: apiReq{target: "/invites_api?foo=bar&lang=de&key=" + plain}, status: 201},
		{name: "Basic plus key=", req: apiReq{target: "/invites_api?key=" + plain,
			headers: []string{"Authorization", "Basic dXNlcjpwYXNz"}}, status: 201},
		{name: "ttl seconds", req: apiReq{target: "/invites_api?ttl=90", headers: apiBearer(plain)}, status: 201,
			check: func(t *testing.T, c createdJSON, inv keystore.Invite) {
				if !inv.Expires.Equal(now.Add(90 * time.Second)) {
					t.Errorf("expires %v", inv.Expires)
				}
			}},
		{name: "ttl duration", req: apiReq{target: "/invites_api?ttl=1h30m", headers: apiBearer(plain)}, status: 201},
		{name: "ttl = max_ttl", req: apiReq{target: "/invites_api?ttl=720h", headers: apiBearer(plain)}, status: 201},
		{name: "uses 1000", req: apiReq{target: "/invites_api?uses=1000", headers: apiBearer(plain)}, status: 201},
		{name: "type account", req: apiReq{target: "/invites_api?type=account", headers: apiBearer(plain)}, status: 201},
		{name: "plain key, account with username", req: apiReq{target: "/invites_api?username=Alice", headers: apiBearer(plain)}, status: 201,
			check: func(t *testing.T, c createdJSON, inv keystore.Invite) {
				if inv.Username != "alice" || c.URI != "xmpp:alice@example.com?register;preauth="+c.Token {
					t.Errorf("username %q uri %q", inv.Username, c.URI)
				}
			}},
		{name: "manage key, reset", req: apiReq{target: "/invites_api?type=reset&username=alice", headers: apiBearer(manage)},
			status: 201, creator: manageKey.Creator(),
			check: func(t *testing.T, c createdJSON, inv keystore.Invite) {
				if inv.Type != keystore.TypeReset || !inv.Expires.Equal(now.Add(24*time.Hour)) {
					t.Errorf("got %+v", inv)
				}
			}},
		{name: "manage key, contact", req: apiReq{target: "/invites_api?type=contact&username=alice", headers: apiBearer(manage)},
			status: 201, creator: manageKey.Creator(),
			check: func(t *testing.T, c createdJSON, inv keystore.Invite) {
				if c.URI != "xmpp:alice@example.com?roster;preauth="+c.Token+";ibr=y" {
					t.Errorf("uri %q", c.URI)
				}
			}},

		{name: "no query, no auth", req: apiReq{target: "/invites_api"}, status: 401},
		{name: "Basic alone", req: apiReq{target: "/invites_api", headers: []string{"Authorization", "Basic dXNlcjpwYXNz"}}, status: 401},
		{name: "bad bearer wins over good key=", req: apiReq{target: "/invites_api?key=" + plain, headers: apiBearer("AAAA/BBBB")}, status: 401},
		{name: "empty bearer wins over good key=", req: apiReq{target: "/invites_api?key=" + plain, headers: []string{"Authorization", "Bearer "}}, status: 401},
		{name: "auth before params: no key, bad ttl", req: apiReq{target: "/invites_api?ttl=bogus"}, status: 401},
		{name: "auth before params: bad key, bad type", req: apiReq{target: "/invites_api?type=bogus&key=AAAA/BBBB"}, status: 401},
		{name: "auth before params: no key, malformed query", req: apiReq{target: "/invites_api?ttl=%zz"}, status: 401},
		{name: "auth before content type", req: apiReq{method: "POST", target: "/invites_api", body: "key=" + q(plain),
			headers: []string{"Content-Type", "text/plain"}}, status: 401},
		{name: "JSON body key is not a credential", req: apiReq{method: "POST", target: "/invites_api", body: `{"key":"` + plain + `"}`,
			headers: []string{"Content-Type", jsonType}}, status: 401},

		{name: "redirect=maybe", req: apiReq{target: "/invites_api?redirect=maybe", headers: apiBearer(plain)}, status: 400, msg: "redirect: must be true or false"},
		{name: "redirect empty", req: apiReq{target: "/invites_api?redirect=", headers: apiBearer(plain)}, status: 400, msg: "redirect: must be true or false"},
		{name: "ttl 0", req: apiReq{target: "/invites_api?ttl=0", headers: apiBearer(plain)}, status: 400, msg: "ttl: must be positive"},
		{name: "ttl negative", req: apiReq{target: "/invites_api?ttl=-1h", headers: apiBearer(plain)}, status: 400, msg: "ttl: must be positive"},
		{name: "ttl garbage", req: apiReq{target: "/invites_api?ttl=soon", headers: apiBearer(plain)}, status: 400, msg: "ttl: must be seconds or a duration such as 24h"},
		{name: "ttl empty", req: apiReq{target: "/invites_api?ttl=", headers: apiBearer(plain)}, status: 400, msg: "ttl: must not be empty"},
		{name: "ttl above max_ttl", req: apiReq{target: "/invites_api?ttl=721h", headers: apiBearer(plain)}, status: 400, msg: "ttl: must not exceed 720h"},
		{name: "ttl seconds above max_ttl", req: apiReq{target: "/invites_api?ttl=2592001", headers: apiBearer(plain)}, status: 400, msg: "ttl: must not exceed 720h"},
		{name: "uses 0", req: apiReq{target: "/invites_api?uses=0", headers: apiBearer(plain)}, status: 400, msg: "uses: must be a whole number from 1 to 1000"},
		{name: "uses 1001", req: apiReq{target: "/invites_api?uses=1001", headers: apiBearer(plain)}, status: 400, msg: "uses: must be a whole number from 1 to 1000"},
		{name: "uses fraction", req: apiReq{target: "/invites_api?uses=1.5", headers: apiBearer(plain)}, status: 400, msg: "uses: must be a whole number from 1 to 1000"},
		{name: "uses sign", req: apiReq{target: "/invites_api?uses=%2B5", headers: apiBearer(plain)}, status: 400, msg: "uses: must be a whole number from 1 to 1000"},
		{name: "uses word", req: apiReq{target: "/invites_api?uses=many", headers: apiBearer(plain)}, status: 400, msg: "uses: must be a whole number from 1 to 1000"},
		{name: "uses JSON fraction", req: apiReq{method: "POST", target: "/invites_api", body: `{"uses":2.5}`,
			headers: append(apiBearer(plain), "Content-Type", jsonType)}, status: 400, msg: "uses: must be a whole number from 1 to 1000"},
		{name: "type unknown", req: apiReq{target: "/invites_api?type=admin", headers: apiBearer(manage)}, status: 400, msg: "type: must be account, reset or contact"},
		{name: "type empty", req: apiReq{target: "/invites_api?type=", headers: apiBearer(manage)}, status: 400, msg: "type: must be account, reset or contact"},
		{name: "fixed username with several uses", req: apiReq{target: "/invites_api?username=bob&uses=2", headers: apiBearer(plain)}, status: 400,
			msg: "uses: an invite for a fixed username has exactly one use"},
		{name: "bad username", req: apiReq{target: "/invites_api?username=a@b", headers: apiBearer(plain)}, status: 400,
			msg: "username: contains characters that are not allowed in a username"},
		{name: "contact without username", req: apiReq{target: "/invites_api?type=contact", headers: apiBearer(manage)}, status: 400,
			msg: "username: a contact invite needs the inviter's username"},
		{name: "note too long", req: apiReq{target: "/invites_api?note=" + strings.Repeat("x", 600), headers: apiBearer(plain)}, status: 400,
			msg: "note: must be at most 500 bytes"},
		{name: "param too long", req: apiReq{target: "/invites_api?username=" + strings.Repeat("x", 2000), headers: apiBearer(plain)}, status: 400,
			msg: "username: too long"},
		{name: "param twice", req: apiReq{target: "/invites_api?type=account&type=reset", headers: apiBearer(plain)}, status: 400,
			msg: "type: given more than once"},
		{name: "param in query and form", req: apiReq{method: "POST", target: "/invites_api?ttl=1h", body: "ttl=2h",
			headers: append(apiBearer(plain), "Content-Type", formType)}, status: 400, msg: "ttl: given more than once"},
		{name: "malformed query", req: apiReq{target: "/invites_api?ttl=%zz", headers: apiBearer(plain)}, status: 400, msg: "malformed query string"},
		{name: "malformed form", req: apiReq{method: "POST", target: "/invites_api", body: "ttl=%zz",
			headers: append(apiBearer(plain), "Content-Type", formType)}, status: 400, msg: "malformed form body"},
		{name: "unknown JSON field", req: apiReq{method: "POST", target: "/invites_api", body: `{"ttl":"1h","color":"red"}`,
			headers: append(apiBearer(plain), "Content-Type", jsonType)}, status: 400, msg: `unknown field "color"`},
		{name: "malformed JSON", req: apiReq{method: "POST", target: "/invites_api", body: `{"ttl":`,
			headers: append(apiBearer(plain), "Content-Type", jsonType)}, status: 400, msg: "malformed JSON body"},
		{name: "JSON array", req: apiReq{method: "POST", target: "/invites_api", body: `[1]`,
			headers: append(apiBearer(plain), "Content-Type", jsonType)}, status: 400, msg: "JSON body must be an object"},
		{name: "JSON object value", req: apiReq{method: "POST", target: "/invites_api", body: `{"ttl":{"h":1}}`,
			headers: append(apiBearer(plain), "Content-Type", jsonType)}, status: 400, msg: "parameters must be strings, numbers or booleans"},
		{name: "JSON trailing data", req: apiReq{method: "POST", target: "/invites_api", body: `{} {}`,
			headers: append(apiBearer(plain), "Content-Type", jsonType)}, status: 400, msg: "malformed JSON body: data after the object"},
		{name: "wrong content type", req: apiReq{method: "POST", target: "/invites_api", body: "ttl=1h",
			headers: append(apiBearer(plain), "Content-Type", "text/plain")}, status: 415,
			msg: "Content-Type must be application/x-www-form-urlencoded or application/json"},
		{name: "body too large", req: apiReq{method: "POST", target: "/invites_api", body: "note=" + strings.Repeat("x", 70000),
			headers: append(apiBearer(plain), "Content-Type", formType)}, status: 413, msg: "request body is larger than 64 KiB"},

		{name: "plain key, reset", req: apiReq{target: "/invites_api?type=reset&username=alice", headers: apiBearer(plain)}, status: 403,
			msg: "this key may only create account invites"},
		{name: "plain key, contact", req: apiReq{target: "/invites_api?type=contact&username=alice", headers: apiBearer(plain)}, status: 403,
			msg: "this key may only create account invites"},
		{name: "plain key, reset in JSON", req: apiReq{method: "POST", target: "/invites_api", body: `{"type":"reset","username":"alice"}`,
			headers: append(apiBearer(plain), "Content-Type", jsonType)}, status: 403, msg: "this key may only create account invites"},
		{name: "plain key, reset in form", req: apiReq{method: "POST", target: "/invites_api", body: "type=reset&username=alice&key=" + q(plain),
			headers: []string{"Content-Type", formType}}, status: 403, msg: "this key may only create account invites"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.count(t)
			rec := e.do(t, tt.req)
			apiWantStatus(t, rec, tt.status)
			created := tt.status == http.StatusCreated || tt.status == http.StatusSeeOther
			if got, want := e.count(t)-before, map[bool]int{true: 1, false: 0}[created]; got != want {
				t.Fatalf("%d invites stored, want %d", got, want)
			}
			switch {
			case created:
				creator := tt.creator
				if creator == "" {
					creator = plainKey.Creator()
				}
				c, inv := checkCreated(t, e, rec, creator)
				if tt.check != nil {
					tt.check(t, c, inv)
				}
			case tt.status == http.StatusUnauthorized:
				apiWant401(t, rec)
			default:
				apiWantError(t, rec, tt.status, tt.msg)
			}
		})
	}
}

func TestInvitesAPIMethods(t *testing.T) {
	e := newAPIEnv(t, nil)
	cred := e.plainKey(t)
	// A real server, so HEAD goes through net/http as it would in production.
	ts := httptest.NewServer(e.srv)
	defer ts.Close()
	for _, method := range []string{"HEAD", "PUT", "DELETE", "PATCH", "TRACE", "FOO"} {
		t.Run(method, func(t *testing.T) {
			req, _ := http.NewRequest(method, ts.URL+"/invites_api?key="+cred, nil)
			req.Header.Set("Authorization", "Bearer "+cred)
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Fatalf("status %d, want 405", resp.StatusCode)
			}
			if got := resp.Header.Get("Allow"); got != "GET, POST, OPTIONS" {
				t.Errorf("Allow %q", got)
			}
			if n := e.count(t); n != 0 {
				t.Fatalf("%s created %d invites", method, n)
			}
		})
	}
	rec := e.do(t, apiReq{method: "PUT", target: "/invites_api", headers: apiBearer(cred)})
	apiWantError(t, rec, 405, "method not allowed")
}

func TestBadKeysAllLookAlike(t *testing.T) {
	e := newAPIEnv(t, func(c *Config) { c.MaxAuthFailures = 0 })
	ctx := context.Background()
	good, goodCred := e.key(t, keystore.KeyParams{Name: "good", Scope: keystore.ScopeManage})
	_, expiringCred := e.key(t, keystore.KeyParams{Name: "soon", Expires: e.clock.Now().Add(time.Hour)})
	deleted, deletedCred := e.key(t, keystore.KeyParams{Name: "gone"})
	// Both work first.
	for _, cred := range []string{expiringCred, deletedCred} {
		apiWantStatus(t, e.do(t, apiReq{target: "/invites_api", headers: apiBearer(cred)}), 201)
	}
	if _, err := e.store.DeleteKey(ctx, deleted.ID, false); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	_, goodSecret, _ := strings.Cut(goodCred, "/")
	_, expSecret, _ := strings.Cut(expiringCred, "/")

	creds := map[string]string{
		"malformed":        "not-a-key",
		"two slashes":      good.ID + "/" + goodSecret + "/x",
		"unknown ID":       "AAAAAAAAAAAA/" + goodSecret,
		"wrong secret":     good.ID + "/" + expSecret,
		"empty secret":     good.ID + "/",
		"expired":          expiringCred,
		"deleted":          deletedCred,
		"seed-shaped fake": "HTwALnKL/73UUylA-2ZJbu9x1XMATuIbjWpip8ow1",
	}
	before := e.count(t)
	check := func(t *testing.T, rec *httptest.ResponseRecorder) {
		t.Helper()
		apiWant401(t, rec)
		if e.count(t) != before {
			t.Fatal("a refused request created an invite")
		}
	}
	t.Run("missing", func(t *testing.T) {
		check(t, e.do(t, apiReq{target: "/invites_api"}))
		check(t, e.do(t, apiReq{target: "/invites_api", headers: []string{"Authorization", "Bearer"}}))
		check(t, e.do(t, apiReq{target: "/invites_api", headers: []string{"Authorization", "Bearer "}}))
		check(t, e.do(t, apiReq{target: "/invites_api?key="}))
		check(t, e.do(t, apiReq{target: "/api/v1/invites"}))
		check(t, e.do(t, apiReq{method: "POST", target: "/api/v1/invites"}))
	})
	for name, cred := range creds {
		t.Run(name, func(t *testing.T) {
			check(t, e.do(t, apiReq{target: "/invites_api", headers: apiBearer(cred)}))
			check(t, e.do(t, apiReq{target: "/invites_api?key=" + url.QueryEscape(cred)}))
			check(t, e.do(t, apiReq{method: "POST", target: "/invites_api", body: "key=" + url.QueryEscape(cred),
				headers: []string{"Content-Type", formType}}))
			check(t, e.do(t, apiReq{target: "/api/v1/invites", headers: apiBearer(cred)}))
			check(t, e.do(t, apiReq{method: "POST", target: "/api/v1/invites", headers: apiBearer(cred)}))
			check(t, e.do(t, apiReq{target: "/api/v1/invites/abcdefgh", headers: apiBearer(cred)}))
			check(t, e.do(t, apiReq{method: "DELETE", target: "/api/v1/invites/abcdefgh", headers: apiBearer(cred)}))
		})
	}
	t.Run("v1 takes no key= and no Basic", func(t *testing.T) {
		check(t, e.do(t, apiReq{target: "/api/v1/invites?key=" + goodCred}))
		check(t, e.do(t, apiReq{target: "/api/v1/invites", headers: []string{"Authorization", "Basic " + goodCred}}))
	})
	// The good key still works, and a 401 never mentions why.
	apiWantStatus(t, e.do(t, apiReq{target: "/invites_api", headers: apiBearer(goodCred)}), 201)
}

func TestDeletedKeyRefusedAtOnce(t *testing.T) {
	e := newAPIEnv(t, nil)
	k, cred := e.key(t, keystore.KeyParams{})
	apiWantStatus(t, e.do(t, apiReq{target: "/invites_api", headers: apiBearer(cred)}), 201)
	if _, err := e.store.DeleteKey(context.Background(), k.ID, false); err != nil {
		t.Fatal(err)
	}
	apiWant401(t, e.do(t, apiReq{target: "/invites_api", headers: apiBearer(cred)}))
	if n := e.count(t); n != 1 {
		t.Fatalf("%d invites, want 1", n)
	}
}

func TestFailedAuthRateLimit(t *testing.T) {
	e := newAPIEnv(t, func(c *Config) { c.MaxAuthFailures = 3 })
	plain := e.plainKey(t)
	manage := e.manageKey(t)
	const attacker = "203.0.113.5:1000"
	t0 := e.clock.Now()
	for i := range 4 {
		// The fourth failure is still answered 401; it is what goes over.
		apiWant401(t, e.do(t, apiReq{target: "/invites_api?key=AAAA/BBBB", remote: attacker}))
		if i < 3 {
			e.clock.Advance(time.Second)
		}
	}
	limited := func(t *testing.T, q apiReq, retry string) {
		t.Helper()
		q.remote = attacker
		rec := e.do(t, q)
		apiWantError(t, rec, 429, "too many failed authentication attempts")
		if got := rec.Header().Get("Retry-After"); got != retry {
			t.Fatalf("Retry-After %q, want %q", got, retry)
		}
		if rec.Header().Get("Access-Control-Allow-Origin") != "*" {
			t.Fatal("a 429 must carry CORS headers so a page can read it")
		}
	}
	before := e.count(t)
	// Now at t0+3s: blocked until the failure at t0 ages out at t0+60s.
	limited(t, apiReq{target: "/invites_api", headers: apiBearer(plain)}, "57")
	limited(t, apiReq{target: "/invites_api?key=" + plain}, "57")
	limited(t, apiReq{method: "POST", target: "/api/v1/invites", headers: apiBearer(manage)}, "57")
	limited(t, apiReq{target: "/api/v1/invites", headers: apiBearer(manage)}, "57")
	limited(t, apiReq{method: "HEAD", target: "/invites_api"}, "57")
	limited(t, apiReq{method: "OPTIONS", target: "/invites_api"}, "57")
	if e.count(t) != before {
		t.Fatal("a blocked client created an invite")
	}
	// Another client is not affected.
	apiWantStatus(t, e.do(t, apiReq{target: "/invites_api", headers: apiBearer(plain), remote: "203.0.113.6:1000"}), 201)

	e.clock.Advance(56 * time.Second) // t0+59s
	limited(t, apiReq{target: "/invites_api", headers: apiBearer(plain)}, "1")
	e.clock.Advance(time.Second) // t0+60s: the first failure has aged out
	if got := e.clock.Now().Sub(t0); got != AuthWindow {
		t.Fatalf("test clock at %v, want %v", got, AuthWindow)
	}
	apiWantStatus(t, e.do(t, apiReq{target: "/invites_api", headers: apiBearer(plain), remote: attacker}), 201)

	// The window slides: the failures at t0+1..3s still count, so one more
	// blocks again until t0+61s.
	apiWant401(t, e.do(t, apiReq{target: "/invites_api", headers: apiBearer("AAAA/BBBB"), remote: attacker}))
	limited(t, apiReq{target: "/invites_api", headers: apiBearer(plain)}, "1")
	e.clock.Advance(AuthWindow)
	apiWantStatus(t, e.do(t, apiReq{target: "/invites_api", headers: apiBearer(plain), remote: attacker}), 201)

	m := e.scrape(t)
	for _, want := range []string{
		`xmpp_invites_auth_failures_total{domain="example.com"} 5`,
		`xmpp_invites_rate_limited_total{domain="example.com"} 8`,
		`xmpp_invites_invites_created_total{domain="example.com",source="http",type="account"} 3`,
	} {
		if !strings.Contains(m, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	if logs := e.logs.String(); !strings.Contains(logs, "client=203.0.113.5 ") {
		t.Errorf("blocking was not logged with the client address:\n%s", logs)
	}
}

func TestRateLimitGroupsIPv6By64(t *testing.T) {
	e := newAPIEnv(t, func(c *Config) { c.MaxAuthFailures = 3 })
	cred := e.plainKey(t)
	for i := range 4 {
		remote := fmt.Sprintf("[2001:db8:1:2::%x]:5000", i+1)
		apiWant401(t, e.do(t, apiReq{target: "/invites_api", remote: remote}))
	}
	apiWantStatus(t, e.do(t, apiReq{target: "/invites_api", headers: apiBearer(cred), remote: "[2001:db8:1:2:ffff:ffff:ffff:ffff]:1"}), 429)
	apiWantStatus(t, e.do(t, apiReq{target: "/invites_api", headers: apiBearer(cred), remote: "[2001:db8:1:3::1]:1"}), 201)
	// IPv4 addresses count one by one.
	for range 4 {
		apiWant401(t, e.do(t, apiReq{target: "/invites_api", remote: "198.51.100.1:1"}))
	}
	apiWantStatus(t, e.do(t, apiReq{target: "/invites_api", headers: apiBearer(cred), remote: "198.51.100.1:2"}), 429)
	apiWantStatus(t, e.do(t, apiReq{target: "/invites_api", headers: apiBearer(cred), remote: "198.51.100.2:1"}), 201)
	// An IPv4-mapped IPv6 peer is the IPv4 address.
	apiWantStatus(t, e.do(t, apiReq{target: "/invites_api", headers: apiBearer(cred), remote: "[::ffff:198.51.100.1]:3"}), 429)
}

func TestRateLimitForwardedFor(t *testing.T) {
	e := newAPIEnv(t, func(c *Config) {
		c.MaxAuthFailures = 3
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	cred := e.plainKey(t)
	xff := func(v string) []string { return append(apiBearer(cred), "X-Forwarded-For", v) }

	t.Run("untrusted peer: X-Forwarded-For ignored", func(t *testing.T) {
		for i := range 4 {
			apiWant401(t, e.do(t, apiReq{target: "/invites_api", remote: "198.51.100.9:1",
				headers: []string{"X-Forwarded-For", fmt.Sprintf("192.0.2.%d", 100+i)}}))
		}
		apiWantStatus(t, e.do(t, apiReq{target: "/invites_api", remote: "198.51.100.9:2", headers: xff("192.0.2.200")}), 429)
	})
	t.Run("trusted proxy: rightmost untrusted entry", func(t *testing.T) {
		for range 4 {
			apiWant401(t, e.do(t, apiReq{target: "/invites_api", remote: "10.0.0.1:1",
				headers: []string{"X-Forwarded-For", "203.0.113.7"}}))
		}
		tests := []struct {
			xff  string
			want int
		}{
			{"203.0.113.7", 429},
			{"203.0.113.8", 201},
			{"203.0.113.7, 10.0.0.2", 429},    // a second trusted hop is skipped
			{"203.0.113.8, 203.0.113.7", 429}, // what the client claims on the left is not believed
			{"203.0.113.7, 203.0.113.8", 201}, // ... either way
			{"garbage, 203.0.113.7", 429},     // junk on the left does not matter
			{"[2001:db8::1]:443", 201},        // ports and brackets
			{"", 201},                         // no header: the proxy itself, which has no failures
		}
		for _, tt := range tests {
			rec := e.do(t, apiReq{target: "/invites_api", remote: "10.0.0.1:2", headers: xff(tt.xff)})
			if rec.Code != tt.want {
				t.Errorf("X-Forwarded-For %q: status %d, want %d", tt.xff, rec.Code, tt.want)
			}
		}
		// The proxy itself is not blocked by its clients' failures.
		apiWantStatus(t, e.do(t, apiReq{target: "/invites_api", remote: "10.0.0.1:3", headers: apiBearer(cred)}), 201)
	})
}

func TestCORS(t *testing.T) {
	t.Run("any origin", func(t *testing.T) {
		e := newAPIEnv(t, nil)
		cred := e.plainKey(t)
		for _, target := range []string{"/invites_api", "/api/v1/invites", "/api/v1/invites/abcdefgh"} {
			rec := e.do(t, apiReq{method: "OPTIONS", target: target, headers: []string{
				"Origin", "https://app.example.net", "Access-Control-Request-Method", "POST",
				"Access-Control-Request-Headers", "authorization"}})
			apiWantStatus(t, rec, http.StatusNoContent)
			methods := "GET, POST, OPTIONS"
			if target != "/invites_api" {
				methods = "GET, POST, DELETE, OPTIONS"
			}
			want := map[string]string{
				"Access-Control-Allow-Origin":   "*",
				"Access-Control-Allow-Headers":  "Authorization, Content-Type",
				"Access-Control-Allow-Methods":  methods,
				"Access-Control-Expose-Headers": "Location",
				"Access-Control-Max-Age":        "7200",
				"Vary":                          "",
			}
			for k, v := range want {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("%s: %s = %q, want %q", target, k, got, v)
				}
			}
			if rec.Body.Len() != 0 {
				t.Errorf("%s: preflight has a body", target)
			}
		}
		if e.count(t) != 0 {
			t.Fatal("a preflight created an invite")
		}
		// Actual responses carry the headers too, errors included.
		rec := e.do(t, apiReq{target: "/invites_api", headers: append(apiBearer(cred), "Origin", "https://x.example")})
		apiWantStatus(t, rec, 201)
		if rec.Header().Get("Access-Control-Allow-Origin") != "*" || rec.Header().Get("Access-Control-Expose-Headers") != "Location" {
			t.Errorf("201 lacks CORS headers: %v", rec.Header())
		}
		rec = e.do(t, apiReq{target: "/invites_api"})
		if rec.Header().Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("401 lacks CORS headers: %v", rec.Header())
		}
	})
	t.Run("listed origins", func(t *testing.T) {
		e := newAPIEnv(t, func(c *Config) { c.CORSOrigins = []string{"https://app.example.com", "http://localhost:8080/"} })
		tests := []struct{ origin, want string }{
			{"https://app.example.com", "https://app.example.com"},
			{"https://APP.example.com", "https://APP.example.com"},
			{"http://localhost:8080", "http://localhost:8080"},
			{"https://evil.example", ""},
			{"http://app.example.com", ""},
			{"", ""},
		}
		for _, tt := range tests {
			rec := e.do(t, apiReq{method: "OPTIONS", target: "/invites_api", headers: []string{"Origin", tt.origin}})
			apiWantStatus(t, rec, 204)
			if got := rec.Header().Get("Access-Control-Allow-Origin"); got != tt.want {
				t.Errorf("Origin %q: Allow-Origin %q, want %q", tt.origin, got, tt.want)
			}
			if got := rec.Header().Get("Vary"); got != "Origin" {
				t.Errorf("Origin %q: Vary %q, want Origin", tt.origin, got)
			}
		}
	})
	t.Run("no origins", func(t *testing.T) {
		e := newAPIEnv(t, func(c *Config) { c.CORSOrigins = nil })
		rec := e.do(t, apiReq{method: "OPTIONS", target: "/invites_api", headers: []string{"Origin", "https://a.example"}})
		if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("Allow-Origin %q with no origins configured", got)
		}
	})
	t.Run("bad origin in config", func(t *testing.T) {
		svc := newAPIEnv(t, nil).svc
		for _, o := range []string{"app.example.com", "https://app.example.com/path", "ftp://x", ""} {
			_, err := New(Config{CORSOrigins: []string{o}}, svc, nil, nil)
			if err == nil || !strings.Contains(err.Error(), "cors_origins") {
				t.Errorf("origin %q: err %v, want a cors_origins error", o, err)
			}
		}
	})
}

func TestKeyQuota(t *testing.T) {
	e := newAPIEnv(t, nil)
	_, cred := e.key(t, keystore.KeyParams{Quota: 2})
	_, other := e.key(t, keystore.KeyParams{})
	for range 2 {
		apiWantStatus(t, e.do(t, apiReq{target: "/invites_api", headers: apiBearer(cred)}), 201)
		e.clock.Advance(time.Minute)
	}
	rec := e.do(t, apiReq{target: "/invites_api", headers: apiBearer(cred)})
	apiWantError(t, rec, 429, "this key has reached its invite quota")
	// The first invite, 2 minutes old, leaves the hour's window in 58.
	if got := rec.Header().Get("Retry-After"); got != "3480" {
		t.Errorf("Retry-After %q, want 3480 (58 minutes)", got)
	}
	e.clock.Advance(30 * time.Second)
	rec = e.do(t, apiReq{method: "POST", target: "/api/v1/invites", headers: apiBearer(cred)})
	apiWantStatus(t, rec, 429)
	if got := rec.Header().Get("Retry-After"); got != "3450" {
		t.Errorf("JSON API Retry-After %q, want 3450", got)
	}
	if n := e.count(t); n != 2 {
		t.Fatalf("%d invites, want 2", n)
	}
	// Other keys have their own count; a quota 429 is not an auth failure.
	apiWantStatus(t, e.do(t, apiReq{target: "/invites_api", headers: apiBearer(other)}), 201)
	e.clock.Advance(time.Hour - 2*time.Minute) // the first invite leaves the window
	apiWantStatus(t, e.do(t, apiReq{target: "/invites_api", headers: apiBearer(cred)}), 201)
	apiWantStatus(t, e.do(t, apiReq{target: "/invites_api", headers: apiBearer(cred)}), 429)
}

func TestAPIv1Create(t *testing.T) {
	e := newAPIEnv(t, nil)
	plainKey, plain := e.key(t, keystore.KeyParams{})
	manage := e.manageKey(t)
	tests := []struct {
		name   string
		cred   string
		body   string
		ctype  string
		status int
		msg    string
	}{
		{name: "empty body", cred: plain, status: 201},
		{name: "empty JSON", cred: plain, body: "{}", ctype: jsonType, status: 201},
		{name: "fields", cred: plain, body: `{"ttl":3600,"uses":"4","note":"team"}`, ctype: jsonType + "; charset=utf-8", status: 201},
		{name: "manage key, reset", cred: manage, body: `{"type":"reset","username":"bob"}`, ctype: jsonType, status: 201},
		{name: "plain key, reset", cred: plain, body: `{"type":"reset","username":"bob"}`, ctype: jsonType, status: 403,
			msg: "this key may only create account invites"},
		{name: "plain key, contact", cred: plain, body: `{"type":"contact","username":"bob"}`, ctype: jsonType, status: 403,
			msg: "this key may only create account invites"},
		{name: "redirect is not a v1 field", cred: plain, body: `{"redirect":true}`, ctype: jsonType, status: 400, msg: `unknown field "redirect"`},
		{name: "unknown field", cred: plain, body: `{"ttl":"1h","extra":1}`, ctype: jsonType, status: 400, msg: `unknown field "extra"`},
		{name: "ttl too long", cred: plain, body: `{"ttl":"1000h"}`, ctype: jsonType, status: 400, msg: "ttl: must not exceed 720h"},
		{name: "uses 0", cred: plain, body: `{"uses":0}`, ctype: jsonType, status: 400, msg: "uses: must be a whole number from 1 to 1000"},
		{name: "form body", cred: plain, body: "ttl=1h", ctype: formType, status: 415, msg: "Content-Type must be application/json"},
		{name: "no content type", cred: plain, body: `{"ttl":"1h"}`, status: 415, msg: "Content-Type must be application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.count(t)
			h := apiBearer(tt.cred)
			if tt.ctype != "" {
				h = append(h, "Content-Type", tt.ctype)
			}
			rec := e.do(t, apiReq{method: "POST", target: "/api/v1/invites?ttl=9999h&key=ignored", body: tt.body, headers: h})
			if tt.status != 201 {
				apiWantError(t, rec, tt.status, tt.msg)
				if e.count(t) != before {
					t.Fatal("a refused request created an invite")
				}
				return
			}
			apiWantStatus(t, rec, 201)
			creator := plainKey.Creator()
			if tt.cred == manage {
				creator = "key:" + strings.SplitN(manage, "/", 2)[0]
			}
			checkCreated(t, e, rec, creator)
		})
	}
}

// listPage is GET /api/v1/invites's answer, decoded strictly.
type listPage struct {
	Invites []inviteJSON `json:"invites"`
	Next    *string      `json:"next"`
}

func TestAPIv1ListPagination(t *testing.T) {
	e := newAPIEnv(t, nil)
	manage := e.manageKey(t)
	var ids, tokens []string
	for i := range 7 {
		rec := e.do(t, apiReq{method: "POST", target: "/api/v1/invites", body: fmt.Sprintf(`{"note":"n%d"}`, i),
			headers: append(apiBearer(manage), "Content-Type", jsonType)})
		apiWantStatus(t, rec, 201)
		c := apiDecode[createdJSON](t, rec)
		ids = append(ids, c.ID)
		tokens = append(tokens, c.Token)
		e.clock.Advance(time.Second)
	}
	get := func(t *testing.T, target string) listPage {
		t.Helper()
		rec := e.do(t, apiReq{target: target, headers: apiBearer(manage)})
		apiWantStatus(t, rec, 200)
		for _, tok := range tokens {
			if strings.Contains(rec.Body.String(), tok) {
				t.Fatalf("a list shows a token: %s", rec.Body.String())
			}
		}
		return apiDecode[listPage](t, rec)
	}
	idsOf := func(p listPage) []string {
		var out []string
		for _, inv := range p.Invites {
			out = append(out, inv.ID)
		}
		return out
	}
	p1 := get(t, "/api/v1/invites?limit=3")
	if !slices.Equal(idsOf(p1), ids[:3]) || p1.Next == nil || *p1.Next != ids[2] {
		t.Fatalf("page 1: %v next %v, want %v next %s", idsOf(p1), p1.Next, ids[:3], ids[2])
	}
	p2 := get(t, "/api/v1/invites?limit=3&after="+*p1.Next)
	if !slices.Equal(idsOf(p2), ids[3:6]) || p2.Next == nil || *p2.Next != ids[5] {
		t.Fatalf("page 2: %v next %v, want %v next %s", idsOf(p2), p2.Next, ids[3:6], ids[5])
	}
	p3 := get(t, "/api/v1/invites?limit=3&after="+*p2.Next)
	if !slices.Equal(idsOf(p3), ids[6:]) || p3.Next != nil {
		t.Fatalf("page 3: %v next %v, want %v next null", idsOf(p3), p3.Next, ids[6:])
	}
	// A full last page still says null only when nothing follows.
	p := get(t, "/api/v1/invites?limit=7")
	if len(p.Invites) != 7 || p.Next != nil {
		t.Fatalf("limit=7: %d invites, next %v", len(p.Invites), p.Next)
	}
	all := get(t, "/api/v1/invites")
	if !slices.Equal(idsOf(all), ids) || all.Next != nil {
		t.Fatalf("default limit: %v next %v", idsOf(all), all.Next)
	}
	// Raw shape: exactly the documented fields, next null.
	rec := e.do(t, apiReq{target: "/api/v1/invites?limit=1&after=" + ids[5], headers: apiBearer(manage)})
	var raw struct {
		Invites []map[string]any `json:"invites"`
		Next    any              `json:"next"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range raw.Invites[0] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	wantKeys := []string{"created", "creator", "expires", "id", "max_uses", "note", "revoked", "state", "type", "username", "uses"}
	if !slices.Equal(keys, wantKeys) || raw.Next != nil || raw.Invites[0]["revoked"] != nil {
		t.Fatalf("invite fields %v next %v, want %v next null", keys, raw.Next, wantKeys)
	}
	first := all.Invites[0]
	if first.Note != "n0" || first.State != "pending" || first.Uses != 0 || first.MaxUses != 1 || first.Type != "account" ||
		!strings.HasPrefix(first.Creator, "key:") {
		t.Errorf("first invite %+v", first)
	}

	// Revoked invites leave the default list; all=true shows them.
	apiWantStatus(t, e.do(t, apiReq{method: "DELETE", target: "/api/v1/invites/" + ids[0], headers: apiBearer(manage)}), 204)
	if got := idsOf(get(t, "/api/v1/invites")); !slices.Equal(got, ids[1:]) {
		t.Errorf("after revoke: %v", got)
	}
	withAll := get(t, "/api/v1/invites?all=true&limit=1")
	if len(withAll.Invites) != 1 || withAll.Invites[0].ID != ids[0] || withAll.Invites[0].State != "revoked" || withAll.Invites[0].Revoked == nil {
		t.Errorf("all=true: %+v", withAll.Invites)
	}

	for _, target := range []string{"limit=0", "limit=501", "limit=abc", "limit=-1", "limit=", "limit=%2B3", "limit=1.5",
		"limit=99999999999999999999"} {
		rec := e.do(t, apiReq{target: "/api/v1/invites?" + target, headers: apiBearer(manage)})
		apiWantError(t, rec, 400, "limit: must be a whole number from 1 to 500")
	}
	apiWantError(t, e.do(t, apiReq{target: "/api/v1/invites?after=zzzzzzzz", headers: apiBearer(manage)}), 400, "after: no such invite")
	apiWantError(t, e.do(t, apiReq{target: "/api/v1/invites?after=" + tokens[1], headers: apiBearer(manage)}), 400, "after: not an invite ID")
	apiWantError(t, e.do(t, apiReq{target: "/api/v1/invites?all=maybe", headers: apiBearer(manage)}), 400, "all: must be true or false")
	apiWantError(t, e.do(t, apiReq{target: "/api/v1/invites?limit=1&limit=2", headers: apiBearer(manage)}), 400, "limit: given more than once")
	apiWantError(t, e.do(t, apiReq{target: "/api/v1/invites?limit=%zz", headers: apiBearer(manage)}), 400, "malformed query string")
}

// detail is GET /api/v1/invites/{id}'s answer.
type detail struct {
	inviteJSON
	UsedBy []useJSON `json:"used_by"`
}

func TestAPIv1ShowAndRevoke(t *testing.T) {
	e := newAPIEnv(t, nil)
	ctx := context.Background()
	manageKey, manage := e.key(t, keystore.KeyParams{Scope: keystore.ScopeManage})
	create := func(t *testing.T, body string) createdJSON {
		t.Helper()
		rec := e.do(t, apiReq{method: "POST", target: "/api/v1/invites", body: body, headers: append(apiBearer(manage), "Content-Type", jsonType)})
		apiWantStatus(t, rec, 201)
		return apiDecode[createdJSON](t, rec)
	}
	show := func(t *testing.T, ref string) detail {
		t.Helper()
		rec := e.do(t, apiReq{target: "/api/v1/invites/" + ref, headers: apiBearer(manage)})
		apiWantStatus(t, rec, 200)
		if strings.Contains(rec.Body.String(), `"token"`) {
			t.Fatalf("show has a token field: %s", rec.Body.String())
		}
		return apiDecode[detail](t, rec)
	}
	c := create(t, `{"uses":2,"note":"two","ttl":"48h"}`)

	byID, byToken := show(t, c.ID), show(t, c.Token)
	if !jsonEqual(t, byID, byToken) {
		t.Fatalf("by ID %+v, by token %+v", byID, byToken)
	}
	expires := apiTime(e.clock.Now().Add(48 * time.Hour))
	want := inviteJSON{ID: c.ID, Type: "account", Creator: manageKey.Creator(), Note: "two",
		Created: apiTime(e.clock.Now()), Expires: &expires, MaxUses: 2, State: "pending"}
	if !jsonEqual(t, byID.inviteJSON, want) || byID.UsedBy == nil || len(byID.UsedBy) != 0 {
		t.Fatalf("show %+v used_by %v, want %+v and []", byID.inviteJSON, byID.UsedBy, want)
	}

	// A use shows up with its JID and time.
	res, err := e.store.ReserveUse(ctx, c.Token, keystore.Hold{JID: "bob@example.com", Owner: "test", Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	if err := e.store.ConfirmUse(ctx, res); err != nil {
		t.Fatal(err)
	}
	d := show(t, c.ID)
	if d.Uses != 1 || d.State != "pending" || len(d.UsedBy) != 1 || d.UsedBy[0].JID != "bob@example.com" ||
		d.UsedBy[0].Time != apiTime(e.clock.Now()) {
		t.Fatalf("after a use: %+v", d)
	}

	// Revoke by token: 204 and nothing in the body; a second time 409.
	rec := e.do(t, apiReq{method: "DELETE", target: "/api/v1/invites/" + c.Token, headers: apiBearer(manage)})
	apiWantStatus(t, rec, 204)
	if rec.Body.Len() != 0 {
		t.Errorf("204 with body %q", rec.Body.String())
	}
	d = show(t, c.ID)
	if d.State != "revoked" || d.Revoked == nil || *d.Revoked != apiTime(e.clock.Now()) {
		t.Fatalf("after revoke: %+v", d)
	}
	apiWantError(t, e.do(t, apiReq{method: "DELETE", target: "/api/v1/invites/" + c.ID, headers: apiBearer(manage)}),
		409, "invite is already revoked")

	used := create(t, `{}`)
	res, err = e.store.ReserveUse(ctx, used.Token, keystore.Hold{JID: "carol@example.com", Owner: "test", Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.ConfirmUse(ctx, res); err != nil {
		t.Fatal(err)
	}
	apiWantError(t, e.do(t, apiReq{method: "DELETE", target: "/api/v1/invites/" + used.ID, headers: apiBearer(manage)}),
		409, "invite is already used up")

	expired := create(t, `{"ttl":1}`)
	e.clock.Advance(2 * time.Second)
	apiWantError(t, e.do(t, apiReq{method: "DELETE", target: "/api/v1/invites/" + expired.ID, headers: apiBearer(manage)}),
		409, "invite has already expired")
	if d := show(t, expired.ID); d.State != "expired" {
		t.Errorf("expired invite state %q", d.State)
	}

	for _, ref := range []string{"zzzzzzzz", "nope", strings.Repeat("x", 300), "%00", url.PathEscape("a b")} {
		apiWantError(t, e.do(t, apiReq{target: "/api/v1/invites/" + ref, headers: apiBearer(manage)}), 404, "not found")
		apiWantError(t, e.do(t, apiReq{method: "DELETE", target: "/api/v1/invites/" + ref, headers: apiBearer(manage)}), 404, "not found")
	}
}

func jsonEqual(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return string(ja) == string(jb)
}

func TestAPIv1Scopes(t *testing.T) {
	e := newAPIEnv(t, nil)
	plain, manage := e.plainKey(t), e.manageKey(t)
	rec := e.do(t, apiReq{method: "POST", target: "/api/v1/invites", headers: apiBearer(manage)})
	apiWantStatus(t, rec, 201)
	c := apiDecode[createdJSON](t, rec)
	for _, q := range []apiReq{
		{target: "/api/v1/invites"},
		{target: "/api/v1/invites?limit=abc"}, // scope before parameters
		{target: "/api/v1/invites/" + c.ID},
		{target: "/api/v1/invites/" + c.Token},
		{target: "/api/v1/invites/zzzzzzzz"}, // no existence oracle
		{method: "DELETE", target: "/api/v1/invites/" + c.ID},
		{method: "DELETE", target: "/api/v1/invites/" + c.Token},
	} {
		q.headers = apiBearer(plain)
		rec := e.do(t, q)
		apiWantError(t, rec, 403, "this key lacks the manage scope")
	}
	inv, err := e.store.GetInvite(context.Background(), c.ID)
	if err != nil || inv.State(e.clock.Now()) != keystore.StatePending {
		t.Fatalf("a plain key's DELETE changed the invite: %+v %v", inv, err)
	}
	// A 403 is not an authentication failure.
	if m := e.scrape(t); !strings.Contains(m, "xmpp_invites_auth_failures_total{domain=\"example.com\"} 0\n") {
		t.Errorf("403s were counted as auth failures")
	}
}

func TestAPIv1Routing(t *testing.T) {
	e := newAPIEnv(t, nil)
	manage := e.manageKey(t)
	tests := []struct {
		method, target string
		status         int
		allow          string
	}{
		{"PUT", "/api/v1/invites", 405, "GET, POST, OPTIONS"},
		{"HEAD", "/api/v1/invites", 405, "GET, POST, OPTIONS"},
		{"DELETE", "/api/v1/invites", 405, "GET, POST, OPTIONS"},
		{"POST", "/api/v1/invites/abcdefgh", 405, "GET, DELETE, OPTIONS"},
		{"HEAD", "/api/v1/invites/abcdefgh", 405, "GET, DELETE, OPTIONS"},
		{"PATCH", "/api/v1/invites/abcdefgh", 405, "GET, DELETE, OPTIONS"},
		{"GET", "/api/v1/nothing", 404, ""},
		{"GET", "/api/v1/invites/a/b", 404, ""},
		{"GET", "/api/v1/", 404, ""},
	}
	for _, tt := range tests {
		rec := e.do(t, apiReq{method: tt.method, target: tt.target, headers: apiBearer(manage)})
		msg := "not found"
		if tt.status == 405 {
			msg = "method not allowed"
		}
		apiWantError(t, rec, tt.status, msg)
		if got := rec.Header().Get("Allow"); got != tt.allow {
			t.Errorf("%s %s: Allow %q, want %q", tt.method, tt.target, got, tt.allow)
		}
	}
	if e.count(t) != 0 {
		t.Fatal("routing errors created invites")
	}
}

func TestConcurrentCreates(t *testing.T) {
	e := newAPIEnv(t, nil)
	cred := e.plainKey(t)
	ts := httptest.NewServer(e.srv)
	defer ts.Close()
	const n = 50
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		ids   = map[string]bool{}
		fails []string
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			method := "GET"
			if i%2 == 1 {
				method = "POST"
			}
			req, _ := http.NewRequest(method, ts.URL+"/invites_api", nil)
			req.Header.Set("Authorization", "Bearer "+cred)
			resp, err := ts.Client().Do(req)
			if err != nil {
				mu.Lock()
				fails = append(fails, err.Error())
				mu.Unlock()
				return
			}
			defer resp.Body.Close()
			var c createdJSON
			err = json.NewDecoder(resp.Body).Decode(&c)
			mu.Lock()
			defer mu.Unlock()
			if resp.StatusCode != 201 || err != nil {
				fails = append(fails, fmt.Sprintf("status %d, %v", resp.StatusCode, err))
				return
			}
			ids[c.ID] = true
		}()
	}
	wg.Wait()
	if len(fails) > 0 {
		t.Fatalf("%d of %d failed: %v", len(fails), n, fails)
	}
	if len(ids) != n {
		t.Fatalf("%d distinct IDs, want %d", len(ids), n)
	}
	if got := e.count(t); got != n {
		t.Fatalf("%d invites stored, want %d", got, n)
	}
}

// malformedRequests are inputs that must never give a 5xx.
func malformedRequests(cred string) []apiReq {
	long := strings.Repeat("9", 100_000)
	form := func(body string) apiReq {
		return apiReq{method: "POST", target: "/invites_api", body: body, headers: append(apiBearer(cred), "Content-Type", formType)}
	}
	js := func(body string) apiReq {
		return apiReq{method: "POST", target: "/invites_api", body: body, headers: append(apiBearer(cred), "Content-Type", jsonType)}
	}
	v1 := func(body string) apiReq {
		return apiReq{method: "POST", target: "/api/v1/invites", body: body, headers: append(apiBearer(cred), "Content-Type", jsonType)}
	}
	get := func(target string, headers ...string) apiReq {
		return apiReq{target: target, headers: append(apiBearer(cred), headers...)}
	}
	return []apiReq{
		get("/invites_api?%"), get("/invites_api?key=%zz"), get("/invites_api?;;;"), get("/invites_api?&&&=&="),
		get("/invites_api?ttl=" + long), get("/invites_api?ttl=9223372036854775807"), get("/invites_api?ttl=-9223372036854775808"),
		get("/invites_api?ttl=1e400"), get("/invites_api?ttl=2562047h47m16.854775807s"), get("/invites_api?ttl=99999999999h"),
		get("/invites_api?uses=99999999999999999999999"), get("/invites_api?uses=%00"), get("/invites_api?uses=%D9%A1"),
		get("/invites_api?note=%00%01%02"), get("/invites_api?note=%ff%fe"), get("/invites_api?username=%ff%fe"),
		get("/invites_api?username=%20"), get("/invites_api?username=a/b"), get("/invites_api?username=" + url.QueryEscape(strings.Repeat("é", 40))),
		get("/invites_api?type=RESET"), get("/invites_api?type=%00"), get("/invites_api?redirect=%0d%0aX:1"),
		get("/invites_api?" + strings.Repeat("a=b&", 5000)),
		{target: "/invites_api", headers: []string{"Authorization", "Bearer " + strings.Repeat("A", 10_000)}},
		{target: "/invites_api", headers: []string{"Authorization", "Bearer a/b/c"}},
		{target: "/invites_api", headers: []string{"Authorization", "Bearer /"}},
		{target: "/invites_api", headers: []string{"Authorization", "Bearer ünï/cödé"}},
		{target: "/invites_api", headers: []string{"Authorization", ""}},
		{target: "/invites_api", headers: []string{"Authorization", "Bearer\t\t" + cred}},
		{target: "/invites_api", headers: []string{"Authorization", "Negotiate x", "Authorization", "Bearer " + cred}},
		{target: "/invites_api", headers: []string{"Authorization", strings.Repeat(" ", 100)}},
		{target: "/invites_api?key=" + strings.Repeat("A", 10_000) + "/" + strings.Repeat("B", 10_000)},
		{target: "/invites_api", headers: []string{"X-Forwarded-For", strings.Repeat("1.2.3.4, ", 1000)}},
		{target: "/invites_api", headers: []string{"X-Forwarded-For", "%%%, [::1, ]]]"}},
		{target: "/invites_api", remote: "pipe"},
		{target: "/invites_api", remote: ""},
		{target: "/invites_api", remote: "[fe80::1%eth0]:1"},
		form("%"), form("key=%zz"), form(strings.Repeat("x", 1<<20)), form("ttl=" + long), form("uses=1&uses=2"),
		{method: "POST", target: "/invites_api", body: strings.Repeat("x", 1<<20)},
		{method: "POST", target: "/invites_api", body: "key=" + cred, headers: []string{"Content-Type", "multipart/form-data; boundary=x"}},
		{method: "POST", target: "/invites_api", body: "{}", headers: append(apiBearer(cred), "Content-Type", "application/json; charset=")},
		{method: "POST", target: "/invites_api", body: "{}", headers: append(apiBearer(cred), "Content-Type", ";;;")},
		js(`null`), js(`"string"`), js(`1`), js(`[]`), js(`{"ttl":null}`), js(`{"uses":1e400}`), js(`{"uses":[1]}`),
		js(`{"ttl":true}`), js(`{"note":"\u0000"}`), js("{\"note\":\"\xff\xfe\"}"), js(`{"TTL":"1h"}`),
		js(strings.Repeat("[", 20_000)), js(strings.Repeat(`{"a":`, 20_000)), js(`{"ttl":"1h"`), js("\xef\xbb\xbf{}"),
		v1(`{"uses":-1}`), v1(`{"type":"contact"}`), v1(strings.Repeat(" ", 70_000) + "{}"),
		get("/api/v1/invites?limit=" + long), get("/api/v1/invites?after=%00%00%00%00%00%00%00%00"),
		get("/api/v1/invites?after=" + strings.Repeat("a", 5000)), get("/api/v1/invites/" + strings.Repeat("a", 5000)),
		get("/api/v1/invites/%ff"), {method: "DELETE", target: "/api/v1/invites/%00", headers: apiBearer(cred)},
	}
}

func TestMalformedInputsNever5xx(t *testing.T) {
	e := newAPIEnv(t, func(c *Config) { c.MaxAuthFailures = 0 })
	for _, cred := range []string{e.plainKey(t), e.manageKey(t), ""} {
		for i, q := range malformedRequests(cred) {
			rec := e.do(t, q)
			if rec.Code >= 500 {
				t.Errorf("request %d (%s %.80s): status %d, body %q", i, q.method, q.target, rec.Code, rec.Body.String())
				continue
			}
			if rec.Code >= 400 {
				var body errorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Code != rec.Code || body.Error == "" {
					t.Errorf("request %d (%s %.80s): error body %q is not {error, code}", i, q.method, q.target, rec.Body.String())
				}
			}
		}
	}
	if logs := e.logs.String(); strings.Contains(logs, "level=ERROR") {
		t.Errorf("malformed input logged errors:\n%s", logs)
	}
}

// FuzzInvitesAPI feeds arbitrary queries, credentials and bodies to
// /invites_api; nothing may give a 5xx. `go test` runs the seeds.
func FuzzInvitesAPI(f *testing.F) {
	e := newAPIEnv(f, func(c *Config) { c.MaxAuthFailures = 0 })
	cred := e.manageKey(f)
	f.Add("ttl=1h&uses=3", "Bearer "+cred, "", "")
	f.Add("key="+cred+"&redirect=yes", "", "", "")
	f.Add("", "bearer "+cred, `{"type":"contact","username":"x"}`, jsonType)
	f.Add("type=reset", "Bearer "+cred, "username=bob", formType)
	f.Add("%", "Basic x", "%", formType)
	f.Fuzz(func(t *testing.T, query, auth, body, ctype string) {
		r := httptest.NewRequest("POST", "/invites_api", strings.NewReader(body))
		r.URL.RawQuery = query
		r.Header.Set("Authorization", auth)
		r.Header.Set("Content-Type", ctype)
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, r)
		if rec.Code >= 500 {
			t.Fatalf("status %d for query %q auth %q body %q type %q: %s", rec.Code, query, auth, body, ctype, rec.Body.String())
		}
	})
}

func TestLogsHoldNoSecrets(t *testing.T) {
	e := newAPIEnv(t, func(c *Config) { c.MaxAuthFailures = 1 })
	k, cred := e.key(t, keystore.KeyParams{Scope: keystore.ScopeManage})
	_, secret, _ := strings.Cut(cred, "/")
	var tokens []string
	for range 3 {
		rec := e.do(t, apiReq{target: "/invites_api", headers: apiBearer(cred)})
		apiWantStatus(t, rec, 201)
		tokens = append(tokens, apiDecode[createdJSON](t, rec).Token)
	}
	e.do(t, apiReq{method: "DELETE", target: "/api/v1/invites/" + tokens[0], headers: apiBearer(cred)})
	e.do(t, apiReq{target: "/api/v1/invites/" + tokens[1], headers: apiBearer(cred)})
	e.do(t, apiReq{target: "/invites_api?key=" + k.ID + "/wrong" + secret, remote: "198.51.100.3:1"})
	e.do(t, apiReq{target: "/invites_api", headers: apiBearer(k.ID + "/x" + secret), remote: "198.51.100.3:1"})
	// An unexpected error is logged, once, with the key ID and nothing secret.
	r := apiReq{target: "/invites_api", headers: apiBearer(cred)}.build(t)
	r = withAPIInfo(r, &apiRequest{keyID: k.ID})
	rec := httptest.NewRecorder()
	e.srv.writeAPIError(rec, r, fmt.Errorf("boom with %w", errors.New("disk on fire")))
	apiWantError(t, rec, 500, "internal error")

	logs := e.logs.String()
	for _, s := range append([]string{secret, cred}, tokens...) {
		if strings.Contains(logs, s) {
			t.Fatalf("logs contain a secret or token %q:\n%s", s, logs)
		}
	}
	if strings.Contains(logs, "Bearer") || strings.Contains(logs, "Authorization") {
		t.Fatalf("logs mention credentials:\n%s", logs)
	}
	if n := strings.Count(logs, "api request failed"); n != 1 {
		t.Errorf("the unexpected error was logged %d times, want 1:\n%s", n, logs)
	}
	if !strings.Contains(logs, "key="+k.ID) || !strings.Contains(logs, "disk on fire") {
		t.Errorf("logs lack the key ID or the error:\n%s", logs)
	}
}

func TestAPIErrorMapping(t *testing.T) {
	tests := []struct {
		err        error
		status     int
		msg        string
		unexpected bool
	}{
		{&invites.ValidationError{Field: "ttl", Msg: "too long"}, 400, "ttl: too long", false},
		{fmt.Errorf("create: %w", &invites.ValidationError{Msg: "plain"}), 400, "plain", false},
		{invites.ErrQuota, 429, "this key has reached its invite quota", false},
		{fmt.Errorf("x: %w", keystore.ErrNotFound), 404, "not found", false},
		{fmt.Errorf("x: %w", keystore.ErrRevoked), 409, "invite is already revoked", false},
		{fmt.Errorf("x: %w", keystore.ErrUsedUp), 409, "invite is already used up", false},
		{fmt.Errorf("x: %w", keystore.ErrExpired), 409, "invite has already expired", false},
		{keystore.ErrUnauthorized, 401, "unauthorized", false},
		{keystore.ErrClosed, 503, "the service is shutting down", false},
		{&http.MaxBytesError{Limit: maxBodyBytes}, 413, "request body is larger than 64 KiB", false},
		{context.Canceled, 503, "request canceled", false},
		{newAPIError(418, "teapot"), 418, "teapot", false},
		{errors.New("sql: database is locked"), 500, "internal error", true},
	}
	for _, tt := range tests {
		e, unexpected := apiErrorOf(tt.err, time.Now())
		if e.Status != tt.status || e.Message != tt.msg || unexpected != tt.unexpected {
			t.Errorf("%v: got %d %q %v, want %d %q %v", tt.err, e.Status, e.Message, unexpected, tt.status, tt.msg, tt.unexpected)
		}
	}
}

func TestHealthRoutesUntouched(t *testing.T) {
	e := newAPIEnv(t, nil)
	apiWantStatus(t, e.do(t, apiReq{target: "/healthz"}), 200)
	if got := e.do(t, apiReq{target: "/healthz"}).Header().Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("CORS leaked onto /healthz: %q", got)
	}
}

// TestKeyDeletedByCLIProcess: the server remembers keys it verified; a key
// deleted by the CLI (another process: another Store on the same file) still
// gets 401 at once, before any parameter error, and creates nothing.
func TestKeyDeletedByCLIProcess(t *testing.T) {
	e := newAPIEnv(t, nil)
	ctx := context.Background()
	k, cred := e.key(t, keystore.KeyParams{Name: "web", Scope: keystore.ScopeCreate})
	for i := 0; i < 2; i++ { // the second one is answered from memory
		apiWantStatus(t, e.do(t, apiReq{target: "/invites_api", headers: apiBearer(cred)}), 201)
	}
	// A plain key asking for a reset invite: 403 while the key exists.
	apiWantStatus(t, e.do(t, apiReq{target: "/invites_api?type=reset&username=bob", headers: apiBearer(cred)}), 403)

	cli, err := keystore.Open(ctx, e.path, keystore.Options{Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.DeleteKey(ctx, k.ID, false); err != nil {
		t.Fatal(err)
	}
	before := e.count(t)
	for _, q := range []apiReq{
		{target: "/invites_api?ttl=-5", headers: apiBearer(cred)},
		{target: "/invites_api?type=reset&username=bob", headers: apiBearer(cred)},
		{target: "/invites_api?key=" + cred},
		{method: "POST", target: "/api/v1/invites", headers: apiBearer(cred)},
		{method: "POST", target: "/api/v1/invites", headers: append(apiBearer(cred), "Content-Type", "application/json"), body: `{"uses": 0}`},
	} {
		apiWant401(t, e.do(t, q))
	}
	if n := e.count(t); n != before {
		t.Fatalf("%d invites after the key was deleted, want %d", n, before)
	}
}

func TestResetOfAdminRefused(t *testing.T) {
	e := newAPIEnv(t, nil)
	manage := e.manageKey(t)
	for _, user := range []string{"boss", "Boss"} {
		rec := e.do(t, apiReq{method: "POST", target: "/api/v1/invites", headers: append(apiBearer(manage), "Content-Type", "application/json"),
			body: `{"type":"reset","username":"` + user + `"}`})
		apiWantError(t, rec, 403, invites.ErrProtected.Error())
	}
	rec := e.do(t, apiReq{method: "POST", target: "/invites_api?type=reset&username=boss", headers: apiBearer(manage)})
	apiWantStatus(t, rec, 403)
	if invs, err := e.store.ListInvites(context.Background(), keystore.ListOptions{All: true}); err != nil || len(invs) != 0 {
		t.Fatalf("invites after refusals: %d, %v; want none", len(invs), err)
	}
	// Another account's reset is fine.
	rec = e.do(t, apiReq{method: "POST", target: "/invites_api?type=reset&username=carol", headers: apiBearer(manage)})
	apiWantStatus(t, rec, 201)
}
