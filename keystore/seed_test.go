package keystore

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestSeed stores invites with a history and reads them back through the
// store's own methods: each is in the state its history gives, its token
// finds it, and the purge removes exactly the finished ones.
func TestSeed(t *testing.T) {
	ctx := context.Background()
	s, c, _ := openTest(t)
	now := c.Now()
	week := now.Add(7 * 24 * time.Hour)
	old := now.Add(-72 * time.Hour)
	seeds := []SeedInvite{
		{InviteParams: InviteParams{Type: TypeAccount, Creator: "cli", MaxUses: 1, Expires: week}, Created: old},
		{InviteParams: InviteParams{Type: TypeAccount, Creator: "cli", MaxUses: 1, Expires: week}, Created: old,
			Uses: []Use{{JID: "a@example.test", Time: old.Add(time.Hour)}}},
		{InviteParams: InviteParams{Type: TypeContact, Creator: "cli", MaxUses: 2, Expires: week}, Created: old,
			Revoked: old.Add(time.Minute)},
		{InviteParams: InviteParams{Type: TypeAccount, Creator: "cli", MaxUses: 1, Expires: old.Add(time.Hour)}, Created: old},
		{InviteParams: InviteParams{Type: TypeAccount, Creator: "cli", MaxUses: 3, Expires: week}, Created: old,
			Uses: []Use{{JID: "b@example.test", Time: old.Add(time.Hour)}}},
	}
	invs, tokens, err := s.Seed(ctx, seeds)
	if err != nil {
		t.Fatalf("Seed: %v", err)
	}
	want := []State{StatePending, StateUsed, StateRevoked, StateExpired, StatePending}
	for i, tok := range tokens {
		got, err := s.InviteByToken(ctx, tok)
		if err != nil {
			t.Fatalf("invite %d by token: %v", i, err)
		}
		if got.ID != invs[i].ID || got.State(now) != want[i] || !got.Created.Equal(old.Truncate(time.Second)) {
			t.Errorf("invite %d: %s %s created %v, want %s %s created %v", i, got.ID, got.State(now), got.Created,
				invs[i].ID, want[i], old)
		}
	}
	if uses, err := s.Uses(ctx, invs[1].ID); err != nil || len(uses) != 1 || uses[0].JID != "a@example.test" {
		t.Errorf("uses of the used invite: %v, %v", uses, err)
	}
	pending, err := s.ListInvites(ctx, ListOptions{})
	if err != nil || len(pending) != 2 {
		t.Errorf("pending invites: %d (%v), want 2", len(pending), err)
	}
	if n, err := s.Purge(ctx, now); err != nil || n != 3 {
		t.Errorf("Purge: %d (%v), want the 3 finished invites", n, err)
	}

	for name, bad := range map[string]SeedInvite{
		"unknown type": {InviteParams: InviteParams{Type: "x", Creator: "cli", MaxUses: 1, Expires: week}},
		"no creator":   {InviteParams: InviteParams{Type: TypeAccount, MaxUses: 1, Expires: week}},
		"too many uses": {InviteParams: InviteParams{Type: TypeAccount, Creator: "cli", MaxUses: 1, Expires: week},
			Uses: []Use{{JID: "c@example.test"}, {JID: "d@example.test"}}},
	} {
		if _, _, err := s.Seed(ctx, []SeedInvite{seeds[0], bad}); err == nil {
			t.Errorf("Seed with %s: no error", name)
		}
	}
	if all, _ := s.ListInvites(ctx, ListOptions{All: true}); len(all) != 2 {
		t.Errorf("%d invites after the refused seeds, want 2: a refused seed stores nothing", len(all))
	}
}

// TestQueryPlansIndexed checks that every statement QueryPlans explains
// finds its rows through an index, but for the lists' intended walk of the
// primary key.
func TestQueryPlansIndexed(t *testing.T) {
	s, _, _ := openTest(t)
	plans, err := s.QueryPlans(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) < 8 {
		t.Fatalf("%d plans, want 8", len(plans))
	}
	for _, p := range plans {
		for _, line := range p.Plan {
			if strings.HasPrefix(line, "SCAN ") && !strings.Contains(line, " USING ") &&
				!(p.KeyWalk && strings.HasPrefix(line, "SCAN invites")) {
				t.Errorf("%s scans a table: %s\n%s", p.Name, line, p.SQL)
			}
		}
		t.Logf("%s: %s", p.Name, strings.Join(p.Plan, "; "))
	}
}
