package keystore

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestInviteKeepsRoomsAndCircle(t *testing.T) {
	ctx := context.Background()
	s, c, _ := openTest(t)
	rooms := []string{"team@conference.example.com", "news@conference.example.com"}
	inv, tok := newInvite(t, s, c, InviteParams{Rooms: rooms, Circle: "family"})
	if strings.Join(inv.Rooms, " ") != strings.Join(rooms, " ") || inv.Circle != "family" {
		t.Fatalf("created invite has rooms %q, circle %q", inv.Rooms, inv.Circle)
	}
	for _, ref := range []string{inv.ID, tok} {
		got, err := s.GetInvite(ctx, ref)
		if err != nil || strings.Join(got.Rooms, " ") != strings.Join(rooms, " ") || got.Circle != "family" {
			t.Fatalf("GetInvite: rooms %q, circle %q, %v; want %q, family", got.Rooms, got.Circle, err, rooms)
		}
	}
	plain, _ := newInvite(t, s, c, InviteParams{})
	if got, _ := s.GetInvite(ctx, plain.ID); got.Rooms != nil || got.Circle != "" {
		t.Fatalf("invite without presets reads rooms %q, circle %q", got.Rooms, got.Circle)
	}
	list, err := s.ListInvites(ctx, ListOptions{})
	if err != nil || len(list) != 2 || len(list[0].Rooms) != 2 {
		t.Fatalf("ListInvites: %+v, %v", list, err)
	}
	for _, bad := range []InviteParams{
		{Rooms: []string{"not a jid"}},
		{Rooms: []string{"room@conference.example.com/nick"}},
		{Rooms: make([]string, MaxRooms+1)},
		{Circle: "bad name"},
	} {
		bad.Type, bad.Creator, bad.MaxUses, bad.Expires = TypeAccount, "cli", 1, c.Now().Add(1e12)
		if _, _, err := s.CreateInvite(ctx, bad); err == nil {
			t.Errorf("CreateInvite accepted rooms %q, circle %q", bad.Rooms, bad.Circle)
		}
	}
}

func TestCircles(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	if _, err := s.CreateCircle(ctx, "family"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateCircle(ctx, "family"); !errors.Is(err, ErrExists) {
		t.Fatalf("second CreateCircle: %v, want ErrExists", err)
	}
	for _, bad := range []string{"", "-x", "a b", "a/b", strings.Repeat("a", MaxCircleName+1), "a\x00"} {
		if _, err := s.CreateCircle(ctx, bad); err == nil || errors.Is(err, ErrExists) {
			t.Errorf("CreateCircle(%q): %v, want a validation error", bad, err)
		}
	}
	if _, err := s.CreateCircle(ctx, "Café.team_2"); err != nil {
		t.Fatalf("CreateCircle of a valid name: %v", err)
	}
	for _, j := range []string{"alice@example.com", "bob@example.com"} {
		if err := s.AddCircleMember(ctx, "family", j, 2); err != nil {
			t.Fatalf("AddCircleMember(%s): %v", j, err)
		}
	}
	if err := s.AddCircleMember(ctx, "family", "carol@example.com", 2); !errors.Is(err, ErrLimit) {
		t.Fatalf("AddCircleMember beyond the cap: %v, want ErrLimit", err)
	}
	if err := s.AddCircleMember(ctx, "family", "bob@example.com", 2); !errors.Is(err, ErrExists) {
		t.Fatalf("AddCircleMember of a member of a full circle: %v, want ErrExists", err)
	}
	if err := s.AddCircleMember(ctx, "family", "bob@example.com", 0); !errors.Is(err, ErrExists) {
		t.Fatalf("AddCircleMember of a member: %v, want ErrExists", err)
	}
	if err := s.AddCircleMember(ctx, "nobody", "bob@example.com", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("AddCircleMember to a missing circle: %v, want ErrNotFound", err)
	}
	if err := s.AddCircleMember(ctx, "family", "not-a-jid", 0); err == nil {
		t.Fatal("AddCircleMember accepted a bad JID")
	}
	ms, err := s.CircleMembers(ctx, "family")
	if err != nil || len(ms) != 2 || ms[0].JID != "alice@example.com" || ms[1].JID != "bob@example.com" {
		t.Fatalf("CircleMembers: %+v, %v", ms, err)
	}
	if _, err := s.CircleMembers(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("CircleMembers of a missing circle: %v, want ErrNotFound", err)
	}
	cs, err := s.Circles(ctx)
	if err != nil || len(cs) != 2 || cs[0].Name != "Café.team_2" || cs[1].Name != "family" || cs[1].Members != 2 {
		t.Fatalf("Circles: %+v, %v", cs, err)
	}
	if c, err := s.GetCircle(ctx, "family"); err != nil || c.Members != 2 {
		t.Fatalf("GetCircle: %+v, %v", c, err)
	}
	if _, err := s.GetCircle(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetCircle of a missing circle: %v", err)
	}
	if err := s.RemoveCircleMember(ctx, "family", "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveCircleMember(ctx, "family", "alice@example.com"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second RemoveCircleMember: %v, want ErrNotFound", err)
	}
	if err := s.DeleteCircle(ctx, "family"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteCircle(ctx, "family"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second DeleteCircle: %v, want ErrNotFound", err)
	}
	if n := countRows(t, s, "circle_members"); n != 0 {
		t.Fatalf("%d members left after the circle was deleted", n)
	}
}
