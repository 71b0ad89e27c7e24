package invites

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"xmpp-invites/keystore"
)

// TestCreateNever: a never-expiring invite needs allow_never_expiring, is
// never a reset invite, and is stored with keystore.Never.
func TestCreateNever(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	_, err := s.Create(ctx, Request{Never: true, Creator: "cli"})
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Field != "ttl" || !strings.Contains(ve.Msg, "allow_never_expiring") {
		t.Fatalf("never while allow_never_expiring is off: %v, want a ValidationError on ttl naming the option", err)
	}
	if list, _ := s.Store().ListInvites(ctx, keystore.ListOptions{All: true}); len(list) != 0 {
		t.Fatalf("the refused request stored %d invites", len(list))
	}

	s.cfg.AllowNeverExpiring = true
	for _, r := range []Request{
		{Type: keystore.TypeReset, Username: "bob"},
		{TTL: time.Hour},
	} {
		r.Never, r.Creator = true, "cli"
		if _, err := s.Create(ctx, r); !errors.As(err, &ve) || ve.Field != "ttl" {
			t.Errorf("%+v: %v, want a ValidationError on ttl", r, err)
		}
	}
	for _, r := range []Request{
		{},
		{Type: keystore.TypeContact, Username: "carol", Uses: 5},
	} {
		r.Never, r.Creator = true, "cli"
		c, err := s.Create(ctx, r)
		if err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		inv, err := s.Store().GetInvite(ctx, c.Token)
		if err != nil {
			t.Fatal(err)
		}
		if !inv.Expires.Equal(keystore.Never) || !inv.NeverExpires() || !c.Invite.NeverExpires() {
			t.Errorf("stored expiry %s, want %s", inv.Expires, keystore.Never)
		}
		if st := inv.State(time.Now().AddDate(500, 0, 0)); st != keystore.StatePending {
			t.Errorf("state in 500 years: %s, want pending", st)
		}
		b, err := json.Marshal(ToJSON(inv, time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"expires":null`) || strings.Contains(string(b), "9999") {
			t.Errorf("JSON %s, want \"expires\":null", b)
		}
	}
}

// TestCreateForNever: among people, only admins create never-expiring
// invites.
func TestCreateForNever(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	s.cfg.AllowNeverExpiring, s.cfg.AllowUserInvites = true, true
	for _, typ := range []keystore.Type{keystore.TypeAccount, keystore.TypeContact} {
		_, err := s.CreateFor(ctx, Person{JID: "alice@example.com"}, Request{Type: typ, Never: true})
		var na *NotAllowedError
		if !errors.As(err, &na) || na.Rule != RuleAdminOnly {
			t.Errorf("%s invite that never expires by a user: %v, want the rule %s", typ, err, RuleAdminOnly)
		}
		c, err := s.CreateFor(ctx, Person{JID: "boss@example.com", Admin: true}, Request{Type: typ, Never: true})
		if err != nil || !c.Invite.NeverExpires() {
			t.Errorf("%s invite that never expires by an admin: %v, expires %s", typ, err, c.Invite.Expires)
		}
	}
}

func TestParseValidity(t *testing.T) {
	for _, in := range []string{"never", "Never", "NEVER"} {
		if d, never, err := ParseValidity(in); err != nil || !never || d != 0 {
			t.Errorf("ParseValidity(%q) = %s, %v, %v; want never", in, d, never, err)
		}
	}
	if d, never, err := ParseValidity("36h"); err != nil || never || d != 36*time.Hour {
		t.Errorf("ParseValidity(36h) = %s, %v, %v", d, never, err)
	}
	for _, in := range []string{"", "nevermore", "forever", "-1"} {
		if _, never, err := ParseValidity(in); err == nil || never {
			t.Errorf("ParseValidity(%q) accepted", in)
		}
	}
}

// TestJSONExpires: an invite that expires shows its time, never null.
func TestJSONExpires(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if e := JSONExpires(keystore.Invite{Expires: at}); e == nil || *e != "2030-01-02T03:04:05Z" {
		t.Errorf("JSONExpires = %v", e)
	}
	if e := JSONExpires(keystore.Invite{Expires: keystore.Never}); e != nil {
		t.Errorf("JSONExpires(Never) = %q, want nil", *e)
	}
}
