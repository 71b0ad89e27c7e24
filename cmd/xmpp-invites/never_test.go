package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// TestInviteNeverExpiring: invite create --ttl never is refused with the
// option named until allow_never_expiring is on; list and show then say
// "never" (null in --json), never the stored year 9999.
func TestInviteNeverExpiring(t *testing.T) {
	e := newCLIEnv(t)
	_, errs, code := e.run("invite", "create", "--ttl", "never", "example.com")
	if code != exitUsage || !strings.Contains(errs, "allow_never_expiring") {
		t.Fatalf("--ttl never while off: exit %d, stderr %q; want %d naming allow_never_expiring", code, errs, exitUsage)
	}
	if out := e.ok("invite", "list", "example.com"); out != "" {
		t.Fatalf("the refused create stored an invite: %q", out)
	}

	e.env["XMPP_INVITES_INVITES_ALLOW_NEVER_EXPIRING"] = "true"
	if _, errs, code := e.run("invite", "create", "--ttl", "never", "--type", "reset", "--username", "bob", "example.com"); code != exitUsage || !strings.Contains(errs, "reset") {
		t.Fatalf("--ttl never for a reset: exit %d, stderr %q", code, errs)
	}
	e.ok("invite", "create", "--ttl", "never", "--uses", "3", "example.com")
	e.ok("invite", "create", "--ttl", "2h", "example.com")

	list := e.ok("invite", "list", "example.com")
	lines := strings.Split(strings.TrimSuffix(list, "\n"), "\n")
	if len(lines) != 2 || strings.Split(lines[0], "\t")[4] != "never" || !strings.HasSuffix(strings.Split(lines[1], "\t")[4], "Z") {
		t.Fatalf("invite list = %q, want EXPIRES never, then a time", list)
	}
	id := strings.Split(lines[0], "\t")[0]
	var js []map[string]any
	out := e.ok("invite", "list", "--json", "example.com")
	if err := json.Unmarshal([]byte(out), &js); err != nil || len(js) != 2 {
		t.Fatalf("invite list --json = %q (%v)", out, err)
	}
	if v, ok := js[0]["expires"]; !ok || v != nil {
		t.Errorf("invite list --json: expires %v, want null", v)
	}
	if _, ok := js[1]["expires"].(string); !ok {
		t.Errorf("invite list --json: expires %v, want a time", js[1]["expires"])
	}
	show := e.ok("invite", "show", "example.com", id)
	if !regexp.MustCompile(`(?m)^Expires:\s+never$`).MatchString(show) || !regexp.MustCompile(`(?m)^State:\s+pending$`).MatchString(show) {
		t.Errorf("invite show = %q, want Expires: never", show)
	}
	if strings.Contains(list+out+show, "9999") {
		t.Errorf("output shows the year 9999:\n%s%s%s", list, out, show)
	}
}
