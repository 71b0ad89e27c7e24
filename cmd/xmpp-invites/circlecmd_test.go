package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCircleCommands(t *testing.T) {
	e := newCLIEnv(t)
	e.env["XMPP_INVITES_INVITES_MUC_DOMAINS"] = "conference.example.com"
	e.env["XMPP_INVITES_INVITES_MAX_CIRCLE_SIZE"] = "2"
	e.ok("circle", "create", "example.com", "family")
	if _, errs, code := e.run("circle", "create", "example.com", "family"); code != 1 || !strings.Contains(errs, "exists") {
		t.Fatalf("second create: exit %d %q, want 1 saying it exists", code, errs)
	}
	if _, _, code := e.run("circle", "create", "example.com", "bad name"); code != 2 {
		t.Fatalf("create with a bad name: exit %d, want 2", code)
	}
	if out := e.ok("circle", "add", "example.com", "family", "Alice@example.com", "bob@example.com"); !strings.Contains(out, "added alice@example.com") {
		t.Fatalf("add printed %q", out)
	}
	if _, errs, code := e.run("circle", "add", "example.com", "family", "carol@example.com"); code != 1 || !strings.Contains(errs, "full") {
		t.Fatalf("add beyond max_circle_size: exit %d %q, want 1 saying full", code, errs)
	}
	if _, _, code := e.run("circle", "add", "example.com", "family", "carol@elsewhere.org"); code != 2 {
		t.Fatalf("add of another domain's account: exit %d, want 2", code)
	}
	var members []struct{ JID string }
	if err := json.Unmarshal([]byte(e.ok("circle", "list", "--json", "example.com", "family")), &members); err != nil || len(members) != 2 || members[0].JID != "alice@example.com" {
		t.Fatalf("members: %+v, %v", members, err)
	}
	// A full circle refuses invites naming it; rooms must be on muc_domains.
	if _, errs, code := e.run("invite", "create", "--circle", "family", "example.com"); code != 2 || !strings.Contains(errs, "full") {
		t.Fatalf("invite into a full circle: exit %d %q, want 2 saying full", code, errs)
	}
	e.ok("circle", "remove", "example.com", "family", "bob@example.com")
	if _, errs, code := e.run("invite", "create", "--room", "team@conference.example.org", "example.com"); code != 2 || !strings.Contains(errs, "group chat service") {
		t.Fatalf("invite with a room elsewhere: exit %d %q, want 2", code, errs)
	}
	e.ok("invite", "create", "--circle", "family", "--room", "team@conference.example.com", "example.com")
	var list []struct {
		Rooms  []string
		Circle string
	}
	if err := json.Unmarshal([]byte(e.ok("invite", "list", "--json", "example.com")), &list); err != nil || len(list) != 1 ||
		list[0].Circle != "family" || len(list[0].Rooms) != 1 || list[0].Rooms[0] != "team@conference.example.com" {
		t.Fatalf("invite list: %+v, %v", list, err)
	}
	if out := e.ok("circle", "list", "example.com"); !strings.Contains(out, "family") {
		t.Fatalf("circle list %q", out)
	}
	e.ok("circle", "delete", "example.com", "family")
	if _, _, code := e.run("circle", "delete", "example.com", "family"); code != 1 {
		t.Fatalf("second delete: exit %d, want 1", code)
	}
}
