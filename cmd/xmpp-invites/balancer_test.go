package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"xmpp-invites/internal/xmpptest"
)

// startBalancer runs the nginx load balancer of docs/operations.md (the
// block between the "balancer example" markers, TLS left out and the
// instances' addresses swapped in) in front of ins, and returns an
// instance value that speaks to the balancer. Without nginx it returns nil
// (a failure under CI=true, through proxyTool).
func startBalancer(t *testing.T, ins []*instance) *instance {
	t.Helper()
	nginx := proxyTool(t, "nginx")
	if nginx == "" {
		t.Log("nginx not installed: the load balancer of docs/operations.md is not tried")
		return nil
	}
	addr := freePort(t)
	site := docExampleIn(t, "operations.md", "balancer", []docEdit{
		{`listen 443 ssl;`, "listen " + addr + ";"},
		{`\n\s*listen \[::\]:443 ssl;`, ""},
		{`\n\s*ssl_certificate\S*\s+\S+;`, ""},
		{`10\.0\.0\.11:5380`, ins[0].addr},
		{`10\.0\.0\.12:5380`, ins[1].addr},
	})
	startNginx(t, nginx, t.TempDir(), site, addr)
	return &instance{t: t, addr: addr}
}

// registerThroughBalancer registers user with a form fetched through lb and
// posted through it: round robin serves the form from one instance and the
// post from the other. The account must log in.
func registerThroughBalancer(t *testing.T, lb *instance, srv *xmpptest.Server, cred, user string) {
	t.Helper()
	resp, body := lb.createInvite(cred)
	token, _ := body["token"].(string)
	if resp.StatusCode != http.StatusCreated || token == "" {
		t.Fatalf("create an invite through the balancer: %d %v", resp.StatusCode, body)
	}
	if code, _ := httpGet(t, "http://"+lb.addr+"/invite?"+token); code != http.StatusOK {
		t.Fatalf("landing page through the balancer: %d", code)
	}
	const password = "correct horse battery"
	csrf := formToken(t, lb, token)
	code, won := postRegistration(lb, token, csrf, user, password)
	if !won {
		t.Fatalf("registration through the balancer: %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := srv.Dial(ctx, user, password)
	if err != nil {
		t.Fatalf("%s registered through the balancer does not log in: %v", user, err)
	}
	s.Close()
	s.Conn().Close()
}

// createThroughBalancer creates n invites through lb, and fails the test
// unless every one is acknowledged.
func createThroughBalancer(t *testing.T, lb *instance, cred string, n int) {
	t.Helper()
	var failed []string
	for i := range n {
		if _, ok := createInviteID(lb, cred); !ok {
			failed = append(failed, fmt.Sprint(i))
		}
	}
	if len(failed) > 0 {
		t.Errorf("with one instance down, %d of %d creations through the balancer failed (numbers %s)", len(failed), n, strings.Join(failed, ", "))
	}
}
