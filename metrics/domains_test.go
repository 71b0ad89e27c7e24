package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// TestDomainLabels: each domain's view counts under its own domain label,
// both ways, into one registry.
func TestDomainLabels(t *testing.T) {
	m := New()
	a, b := m.ForDomain("a.example"), m.ForDomain("b.example")
	a.InviteCreated("http", "account")
	a.AuthFailure()
	a.LinkUp(true)
	b.InviteCreated("http", "account")
	b.InviteCreated("http", "account")
	b.InviteUsed("account")
	b.RateLimited()
	b.Request("/b/invites_api", 201, time.Millisecond)
	out := scrape(t, m)
	for _, want := range []string{
		`xmpp_invites_invites_created_total{domain="a.example",source="http",type="account"} 1`,
		`xmpp_invites_invites_created_total{domain="b.example",source="http",type="account"} 2`,
		`xmpp_invites_invites_used_total{domain="b.example",type="account"} 1`,
		`xmpp_invites_auth_failures_total{domain="a.example"} 1`,
		`xmpp_invites_auth_failures_total{domain="b.example"} 0`,
		`xmpp_invites_rate_limited_total{domain="a.example"} 0`,
		`xmpp_invites_rate_limited_total{domain="b.example"} 1`,
		`xmpp_invites_component_up{domain="a.example"} 1`,
		`xmpp_invites_component_up{domain="b.example"} 0`,
		`xmpp_invites_http_request_duration_seconds_count{code="201",domain="b.example",route="/b/invites_api"} 1`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(out, `xmpp_invites_invites_used_total{domain="a.example"`) {
		t.Error("a.example counts b.example's use")
	}
	var none *Metrics
	if none.ForDomain("x") != nil {
		t.Error("ForDomain of a nil Metrics is not nil")
	}
}
