package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// TestUntrustedProxyWarning: a request from a loopback peer that carries
// X-Forwarded-For while trusted_proxies does not list the peer logs one
// warning naming the fix, and the admin /readyz lists it from then on.
func TestUntrustedProxyWarning(t *testing.T) {
	const warnLine = "level=WARN msg=\"requests come through a reverse proxy"
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		reqs    []apiReq
		fix     string // the fix the warning names; "" for none
	}{
		{name: "proxy on 127.0.0.1",
			reqs: []apiReq{{target: "/healthz", remote: "127.0.0.1:4000", headers: []string{"X-Forwarded-For", "198.51.100.7"}}},
			fix:  `[http] trusted_proxies = ["127.0.0.1"]`},
		{name: "proxy on ::1",
			reqs: []apiReq{{target: "/invites_api", remote: "[::1]:4000", headers: []string{"X-Forwarded-For", "198.51.100.7"}}},
			fix:  `[http] trusted_proxies = ["::1"]`},
		{name: "any route, any loopback address",
			reqs: []apiReq{{target: "/nothing", remote: "127.0.0.2:4000", headers: []string{"X-Forwarded-For", "198.51.100.7, 203.0.113.1"}}},
			fix:  `[http] trusted_proxies = ["127.0.0.2"]`},
		{name: "trusted proxy",
			trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
			reqs:    []apiReq{{target: "/invites_api", remote: "127.0.0.1:4000", headers: []string{"X-Forwarded-For", "198.51.100.7"}}}},
		{name: "loopback without X-Forwarded-For",
			reqs: []apiReq{{target: "/invites_api", remote: "127.0.0.1:4000"}}},
		{name: "X-Forwarded-For from elsewhere",
			reqs: []apiReq{{target: "/invites_api", remote: "192.0.2.10:4000", headers: []string{"X-Forwarded-For", "127.0.0.1"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newAPIEnv(t, func(c *Config) { c.TrustedProxies = tc.trusted })
			warnings := func() []string {
				rec := httptest.NewRecorder()
				e.srv.Admin().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
				var body struct{ Warnings []string }
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Warnings == nil {
					t.Fatalf("admin /readyz %q: warnings missing (%v)", rec.Body, err)
				}
				return body.Warnings
			}
			if w := warnings(); len(w) != 0 {
				t.Fatalf("warnings before any request: %q", w)
			}
			// Three rounds: the warning is logged once, not per request.
			for range 3 {
				for _, q := range tc.reqs {
					e.do(t, q)
				}
			}
			logged := strings.Count(e.logs.String(), warnLine)
			w := warnings()
			if tc.fix == "" {
				if logged != 0 || len(w) != 0 {
					t.Fatalf("%d warnings logged, /readyz warnings %q; want none\n%s", logged, w, e.logs)
				}
				return
			}
			if logged != 1 || !strings.Contains(e.logs.String(), strings.ReplaceAll(tc.fix, `"`, `\"`)) {
				t.Errorf("logged %d warnings, want 1 naming %s:\n%s", logged, tc.fix, e.logs)
			}
			if len(w) != 1 || !strings.Contains(w[0], tc.fix) || !strings.Contains(w[0], "failed-authentication limit") {
				t.Errorf("/readyz warnings %q, want one naming %s", w, tc.fix)
			}
		})
	}
}
