package invites

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"xmpp-invites/keystore"
)

// roomAccounts is fakeAccounts that can also invite to rooms and, unless
// noRoster, make contacts.
type roomAccounts struct {
	fakeAccounts
	noRoster bool
	mu       sync.Mutex
	invited  []string // room account
	friends  []string // a b
}

func (f *roomAccounts) InviteToRoom(ctx context.Context, room, account string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.invited = append(f.invited, room+" "+account)
	return nil
}

func (f *roomAccounts) AddMutualContacts(ctx context.Context, a, b string) error {
	if f.noRoster {
		return ErrUnsupported
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.friends = append(f.friends, a+" "+b)
	return nil
}

func TestPresetsAfterRedemption(t *testing.T) {
	ctx := context.Background()
	for _, noRoster := range []bool{false, true} {
		s := newService(t)
		s.cfg.MUCDomains = []string{"conference.example.com"}
		s.cfg.MaxCircleSize = 3
		st := s.Store()
		if _, err := st.CreateCircle(ctx, "family"); err != nil {
			t.Fatal(err)
		}
		for _, m := range []string{"alice@example.com", "bob@example.com"} {
			if err := st.AddCircleMember(ctx, "family", m, 0); err != nil {
				t.Fatal(err)
			}
		}
		c, err := s.Create(ctx, Request{Creator: "cli", Circle: "family", Uses: 2,
			Rooms: []string{"Team@Conference.example.com", "team@conference.example.com", "news@conference.example.com"}})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(c.Invite.Rooms, " ") != "team@conference.example.com news@conference.example.com" {
			t.Fatalf("rooms %q: want them normalised, without duplicates", c.Invite.Rooms)
		}
		acc := &roomAccounts{fakeAccounts: fakeAccounts{accounts: map[string]string{}}, noRoster: noRoster}
		red, err := s.Redeem(ctx, c.Token, Registration{Username: "carol", Password: "correct horse", Confirm: "correct horse"}, acc)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(acc.invited, ", "); got != "team@conference.example.com carol@example.com, news@conference.example.com carol@example.com" {
			t.Errorf("invitations: %s", got)
		}
		if red.Circle != "family" || strings.Join(red.CircleMembers, " ") != "alice@example.com bob@example.com" || red.CircleBefriended == noRoster {
			t.Errorf("noRoster=%v: circle %q, members %q, befriended %v", noRoster, red.Circle, red.CircleMembers, red.CircleBefriended)
		}
		if want := "alice@example.com carol@example.com, bob@example.com carol@example.com"; !noRoster && strings.Join(acc.friends, ", ") != want {
			t.Errorf("contacts %q, want %q", acc.friends, want)
		}
		if noRoster != errors.Is(red.PresetErr, ErrUnsupported) {
			t.Errorf("noRoster=%v: PresetErr %v", noRoster, red.PresetErr)
		}
		// The circle is full now: the invite's second use makes the
		// account without it, and new invites naming it are refused.
		red, err = s.Redeem(ctx, c.Token, Registration{Username: "dave", Password: "correct horse", Confirm: "correct horse"}, acc)
		if err != nil || red.Circle != "" || !errors.Is(red.PresetErr, keystore.ErrLimit) {
			t.Errorf("redemption into a full circle: %+v, %v", red, err)
		}
		var ve *ValidationError
		if _, err := s.Create(ctx, Request{Creator: "cli", Circle: "family"}); !errors.As(err, &ve) || ve.Field != "circle" {
			t.Errorf("invite into a full circle: %v", err)
		}
	}
}
