package invites

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"mellium.im/xmpp/jid"

	"xmpp-invites/keystore"
)

// Presets: the group chats an invite's new account is invited to and the
// circle it joins (docs/presets.md).

// checkPresets validates r's rooms and circle, normalising the rooms (bare,
// prepared, without duplicates).
func (s *Service) checkPresets(ctx context.Context, r *Request) error {
	if len(r.Rooms) == 0 && r.Circle == "" {
		r.Rooms = nil
		return nil
	}
	if r.Type == keystore.TypeReset {
		return invalid("rooms", "a reset invite takes neither rooms nor a circle")
	}
	if len(r.Rooms) > 0 && len(s.cfg.MUCDomains) == 0 {
		return invalid("rooms", "group chats are not enabled on this service (invites.muc_domains is empty)")
	}
	if len(r.Rooms) > keystore.MaxRooms {
		return invalid("rooms", "at most %d rooms", keystore.MaxRooms)
	}
	rooms := make([]string, 0, len(r.Rooms))
	seen := map[string]bool{}
	for _, room := range r.Rooms {
		norm, err := s.checkRoom(room)
		if err != nil {
			return err
		}
		if !seen[norm] {
			seen[norm] = true
			rooms = append(rooms, norm)
		}
	}
	r.Rooms = rooms
	if r.Circle != "" {
		if err := keystore.CheckCircleName(r.Circle); err != nil {
			return invalid("circle", "%s", err)
		}
		c, err := s.store.GetCircle(ctx, r.Circle)
		if errors.Is(err, keystore.ErrNotFound) {
			return invalid("circle", "there is no circle %q", r.Circle)
		}
		if err != nil {
			return err
		}
		if c.Members >= s.cfg.MaxCircleSize {
			return invalid("circle", "circle %q is full (%d members, invites.max_circle_size)", r.Circle, c.Members)
		}
	}
	return nil
}

// checkRoom validates one room: a bare JID with a localpart on one of
// MUCDomains. It returns the room's normalised JID.
func (s *Service) checkRoom(room string) (string, error) {
	if err := CheckText("rooms", room); err != nil {
		return "", err
	}
	if len(room) > keystore.MaxJIDLen {
		return "", invalid("rooms", "must be at most %d bytes", keystore.MaxJIDLen)
	}
	j, err := jid.Parse(strings.TrimSpace(room))
	if err != nil || j.Localpart() == "" || j.Resourcepart() != "" {
		return "", invalid("rooms", "%q is not a group chat address such as room@%s", clipText(room), s.cfg.MUCDomains[0])
	}
	for _, d := range s.cfg.MUCDomains {
		if j.Domainpart() == d {
			return j.String(), nil
		}
	}
	return "", invalid("rooms", "%s is not on a group chat service of this site (%s)", j, strings.Join(s.cfg.MUCDomains, ", "))
}

// clipText shortens text quoted in an error.
func clipText(s string) string {
	if len(s) > 80 {
		return fmt.Sprintf("%.80s…", s)
	}
	return s
}

// CircleMember validates j as a circle member: a bare JID of an account
// of the served domain (circles make contacts through the domain's
// rosters). It returns the normalised JID.
func (s *Service) CircleMember(j string) (string, error) {
	if err := CheckText("jid", j); err != nil {
		return "", err
	}
	p, err := jid.Parse(strings.TrimSpace(j))
	if err != nil || p.Localpart() == "" || p.Resourcepart() != "" || len(j) > keystore.MaxJIDLen {
		return "", invalid("jid", "%q is not an address such as alice@%s", clipText(j), s.cfg.Domain)
	}
	if p.Domainpart() != s.cfg.Domain {
		return "", invalid("jid", "%s is not an account of %s", p, s.cfg.Domain)
	}
	return p.String(), nil
}

// CheckCircleName validates a circle's name as a *ValidationError.
func CheckCircleName(name string) error {
	if err := keystore.CheckCircleName(name); err != nil {
		return invalid("name", "%s", err)
	}
	return nil
}

// AddCircleMember adds j (see CircleMember) to circle name, capped by
// max_circle_size, and, where acc can (XEP-0356), makes j and every other
// member mutual contacts. befriended reports that it did for all of them;
// the membership stands either way.
func (s *Service) AddCircleMember(ctx context.Context, acc Accounts, name, j string) (member string, befriended bool, err error) {
	if err := CheckCircleName(name); err != nil {
		return "", false, err
	}
	member, err = s.CircleMember(j)
	if err != nil {
		return "", false, err
	}
	red := Redemption{JID: member}
	f, _ := acc.(Followups)
	if f == nil {
		f = noFollowups{}
	}
	err = s.joinCircle(ctx, &red, name, f)
	if red.Circle == "" {
		return "", false, err // not added
	}
	return member, red.CircleBefriended, nil
}

// noFollowups stands for an Accounts that cannot change rosters.
type noFollowups struct{}

func (noFollowups) AddMutualContacts(context.Context, string, string) error { return ErrUnsupported }
func (noFollowups) NotifyJoined(context.Context, string, string) error      { return ErrUnsupported }
