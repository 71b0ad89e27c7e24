package httpapi

import (
	"strings"
	"testing"
)

func TestCirclesAPI(t *testing.T) {
	e := newAPIEnv(t, nil)
	manage, plain := e.manageKey(t), e.plainKey(t)
	req := func(cred, method, target, body string) (int, string) {
		t.Helper()
		h := []string{"Authorization", "Bearer " + cred}
		if body != "" {
			h = append(h, "Content-Type", "application/json")
		}
		rec := e.do(t, apiReq{method: method, target: target, body: body, headers: h})
		return rec.Code, rec.Body.String()
	}
	for _, tc := range []struct {
		cred, method, target, body string
		want                       int
		in                         string // in the answer
	}{
		{plain, "GET", "/api/v1/circles", "", 403, "manage"},
		{plain, "POST", "/api/v1/circles", `{"name":"family"}`, 403, "manage"},
		{manage, "GET", "/api/v1/circles", "", 200, `"circles":[]`},
		{manage, "POST", "/api/v1/circles", `{"name":"family"}`, 201, `"name":"family"`},
		{manage, "POST", "/api/v1/circles", `{"name":"family"}`, 409, "exists"},
		{manage, "POST", "/api/v1/circles", `{"name":"no/slash"}`, 400, "circle name"},
		{manage, "POST", "/api/v1/circles", `{"name":"x","extra":1}`, 400, ""},
		{manage, "POST", "/api/v1/circles/family/members", `{"jid":"Alice@example.com"}`, 201, `"jid":"alice@example.com"`},
		{manage, "POST", "/api/v1/circles/family/members", `{"jid":"alice@example.com"}`, 409, ""},
		{manage, "POST", "/api/v1/circles/family/members", `{"jid":"eve@elsewhere.org"}`, 400, "not an account of example.com"},
		{manage, "POST", "/api/v1/circles/nobody/members", `{"jid":"bob@example.com"}`, 404, ""},
		{manage, "GET", "/api/v1/circles/family", "", 200, `"members":[{"jid":"alice@example.com"`},
		{manage, "GET", "/api/v1/circles/nobody", "", 404, ""},
		// Presets on invites: manage keys only, an existing circle, rooms only with muc_domains.
		{plain, "POST", "/api/v1/invites", `{"circle":"family"}`, 403, "manage key"},
		{manage, "POST", "/api/v1/invites", `{"circle":"nobody"}`, 400, "no circle"},
		{manage, "POST", "/api/v1/invites", `{"rooms":["team@conference.example.com"]}`, 400, "muc_domains"},
		{manage, "POST", "/api/v1/invites", `{"rooms":"team@conference.example.com"}`, 400, ""},
		{manage, "POST", "/api/v1/invites", `{"type":"reset","username":"alice","circle":"family"}`, 400, "reset"},
		{manage, "POST", "/api/v1/invites", `{"circle":"family"}`, 201, ""},
		{manage, "GET", "/api/v1/invites", "", 200, `"circle":"family"`},
		{manage, "DELETE", "/api/v1/circles/family/members/alice@example.com", "", 204, ""},
		{manage, "DELETE", "/api/v1/circles/family/members/alice@example.com", "", 404, ""},
		{manage, "DELETE", "/api/v1/circles/family", "", 204, ""},
		{manage, "DELETE", "/api/v1/circles/family", "", 404, ""},
	} {
		code, body := req(tc.cred, tc.method, tc.target, tc.body)
		if code != tc.want || !strings.Contains(body, tc.in) {
			t.Errorf("%s %s %s: %d %s, want %d with %q", tc.method, tc.target, tc.body, code, body, tc.want, tc.in)
		}
	}
}
