package keystore

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestNeverExpires: an invite stored with Never lives through the
// comparisons every other invite goes through: it stays pending and listed
// however late it is, the purge keeps it until it is used or revoked, and
// it can be redeemed and revoked.
func TestNeverExpires(t *testing.T) {
	ctx := context.Background()
	s, c, _ := openTest(t)
	never, _ := newInvite(t, s, c, InviteParams{Expires: Never})
	redeem, tok := newInvite(t, s, c, InviteParams{Expires: Never})
	revoke, _ := newInvite(t, s, c, InviteParams{Expires: Never})
	dated, _ := newInvite(t, s, c, InviteParams{Expires: c.Now().Add(time.Hour)})
	if !never.NeverExpires() || dated.NeverExpires() {
		t.Fatalf("NeverExpires: %v for Never, %v for an hour", never.NeverExpires(), dated.NeverExpires())
	}
	got, err := s.GetInvite(ctx, never.ID)
	if err != nil || !got.Expires.Equal(Never) || !got.NeverExpires() {
		t.Fatalf("stored expiry %s (%v), want %s", got.Expires, err, Never)
	}

	c.Add(200 * 365 * 24 * time.Hour) // two centuries on
	if st := got.State(c.Now()); st != StatePending {
		t.Errorf("state %s, want pending", st)
	}
	pending, err := s.ListInvites(ctx, ListOptions{State: StatePending})
	if err != nil {
		t.Fatal(err)
	}
	if ids := neverTestIDs(pending); len(ids) != 3 || ids[0] != never.ID || ids[1] != redeem.ID || ids[2] != revoke.ID {
		t.Errorf("pending %v, want the three that never expire", ids)
	}
	if expired, _ := s.ListInvites(ctx, ListOptions{State: StateExpired}); len(expired) != 1 || expired[0].ID != dated.ID {
		t.Errorf("expired %v, want only %s", neverTestIDs(expired), dated.ID)
	}

	r, err := s.ReserveUse(ctx, tok, testHold("a@example.com"))
	if err != nil {
		t.Fatalf("reserve a use of an invite that never expires: %v", err)
	}
	if err := s.ConfirmUse(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeInvite(ctx, revoke.ID); err != nil {
		t.Fatalf("revoke an invite that never expires: %v", err)
	}
	c.Add(time.Hour)
	n, err := s.Purge(ctx, c.Now())
	if err != nil || n != 3 {
		t.Fatalf("purge removed %d, %v; want 3 (used, revoked, expired)", n, err)
	}
	if _, err := s.GetInvite(ctx, never.ID); err != nil {
		t.Errorf("the pending invite that never expires was purged: %v", err)
	}
	for _, id := range []string{redeem.ID, revoke.ID, dated.ID} {
		if _, err := s.GetInvite(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s still there after the purge: %v", id, err)
		}
	}
}

func neverTestIDs(list []Invite) []string {
	ids := make([]string, 0, len(list))
	for _, inv := range list {
		ids = append(ids, inv.ID)
	}
	return ids
}
