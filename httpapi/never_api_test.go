package httpapi

import (
	"log/slog"
	"strings"
	"testing"

	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

// newNeverAPIEnv is newAPIEnv with allow_never_expiring on.
func newNeverAPIEnv(t *testing.T) *apiEnv {
	t.Helper()
	e := newAPIEnv(t, nil)
	cfg := e.svc.Config()
	cfg.AllowNeverExpiring = true
	e.svc = invites.New(e.store, cfg, e.clock.Now)
	srv, err := New(Config{CORSOrigins: []string{"*"}, MaxAuthFailures: 5, Version: "test"}, e.svc, nil,
		slog.New(slog.NewTextHandler(e.logs, nil)), WithClock(e.clock.Now), WithMetrics(e.metrics))
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	return e
}

// TestAPINeverExpiring: ttl=never makes an invite that never expires, for
// manage keys only, on both create endpoints; every answer about it says
// "expires": null, never the stored year 9999.
func TestAPINeverExpiring(t *testing.T) {
	e := newNeverAPIEnv(t)
	manage, plain := e.manageKey(t), e.plainKey(t)
	for _, q := range []apiReq{
		{method: "POST", target: "/api/v1/invites", body: `{"ttl":"never","uses":3}`, headers: append(apiBearer(manage), "Content-Type", jsonType)},
		{target: "/invites_api?ttl=never", headers: apiBearer(manage)},
		{method: "POST", target: "/invites_api", body: "ttl=never&type=contact&username=alice", headers: append(apiBearer(manage), "Content-Type", formType)},
		{method: "POST", target: "/invites_api", body: `{"ttl":"Never"}`, headers: append(apiBearer(manage), "Content-Type", jsonType)},
	} {
		rec := e.do(t, q)
		apiWantStatus(t, rec, 201)
		body := rec.Body.String()
		if !strings.Contains(body, `"expires":null`) || strings.Contains(body, "9999") {
			t.Errorf("%s %s: answer %s, want \"expires\":null", q.method, q.target, body)
		}
		c, inv := checkCreated(t, e, rec, "key:"+strings.SplitN(manage, "/", 2)[0])
		if !inv.Expires.Equal(keystore.Never) {
			t.Errorf("%s %s: stored expiry %s, want %s", q.method, q.target, inv.Expires, keystore.Never)
		}
		show := e.do(t, apiReq{target: "/api/v1/invites/" + c.ID, headers: apiBearer(manage)})
		apiWantStatus(t, show, 200)
		if d := apiDecode[inviteDetailJSON](t, show); d.Expires != nil || d.State != "pending" {
			t.Errorf("show: %s, want expires null, state pending", show.Body.String())
		}
	}
	list := e.do(t, apiReq{target: "/api/v1/invites", headers: apiBearer(manage)})
	apiWantStatus(t, list, 200)
	if l := apiDecode[inviteListJSON](t, list); len(l.Invites) != 4 || strings.Contains(list.Body.String(), "9999") {
		t.Errorf("list: %s, want 4 invites with \"expires\":null", list.Body.String())
	}

	// A create key may not ask for it: 403, nothing stored.
	const forbidden = "ttl: only a manage key may create invites that never expire"
	apiWantError(t, e.do(t, apiReq{method: "POST", target: "/api/v1/invites", body: `{"ttl":"never"}`,
		headers: append(apiBearer(plain), "Content-Type", jsonType)}), 403, forbidden)
	apiWantError(t, e.do(t, apiReq{target: "/invites_api?ttl=never&key=" + plain}), 403, forbidden)
	// Never for a reset invite, or a misspelt never: 400.
	apiWantError(t, e.do(t, apiReq{method: "POST", target: "/api/v1/invites", body: `{"ttl":"never","type":"reset","username":"bob"}`,
		headers: append(apiBearer(manage), "Content-Type", jsonType)}), 400, "ttl: a reset invite always expires")
	apiWantStatus(t, e.do(t, apiReq{target: "/invites_api?ttl=nevermore", headers: apiBearer(manage)}), 400)
	if n := e.count(t); n != 4 {
		t.Errorf("%d invites stored, want 4", n)
	}

	// Invites that expire still show their time.
	rec := e.do(t, apiReq{target: "/invites_api?ttl=1h", headers: apiBearer(plain)})
	apiWantStatus(t, rec, 201)
	if c, _ := checkCreated(t, e, rec, "key:"+strings.SplitN(plain, "/", 2)[0]); c.Expires == nil {
		t.Errorf("an invite of one hour answers expires null")
	}
}

// TestAPINeverExpiringOff: without allow_never_expiring, even a manage key
// is refused, with the option named.
func TestAPINeverExpiringOff(t *testing.T) {
	e := newAPIEnv(t, nil)
	manage := e.manageKey(t)
	apiWantError(t, e.do(t, apiReq{target: "/invites_api?ttl=never", headers: apiBearer(manage)}), 400,
		"ttl: never-expiring invites are off: [invites] allow_never_expiring = false")
	if n := e.count(t); n != 0 {
		t.Errorf("%d invites stored, want 0", n)
	}
}
