package invites

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"xmpp-invites/keystore"
)

// Errors an Accounts implementation returns, and Redeem passes on.
var (
	// ErrUsernameTaken: the server already has an account with that name.
	ErrUsernameTaken = errors.New("username is taken")
	// ErrLinkDown: the XMPP server cannot be reached right now.
	ErrLinkDown = errors.New("the XMPP server cannot be reached right now")
	// ErrUnsupported: the server did not grant what the operation needs.
	ErrUnsupported = errors.New("not supported by the server")
	// ErrRefused: the server answered the request with a refusal that is
	// neither ErrUsernameTaken nor ErrUnsupported (a permission problem,
	// an error note). Nothing was created.
	ErrRefused = errors.New("the XMPP server refused the request")
	// ErrNoRegistration: a contact invite that does not allow registering.
	ErrNoRegistration = errors.New("this invite does not allow creating an account")
)

// Accounts creates and changes accounts on the XMPP server. The component
// implements it over XEP-0133.
type Accounts interface {
	// CreateAccount creates username@domain. ErrUsernameTaken when it exists.
	CreateAccount(ctx context.Context, username, password string) error
	// ChangePassword sets a new password for username@domain.
	ChangePassword(ctx context.Context, username, password string) error
	// AccountExists asks the server whether username@domain exists.
	AccountExists(ctx context.Context, username string) (bool, error)
}

// Followups is what an Accounts may also do after a redemption. Both are
// best effort: their failure does not undo the account.
type Followups interface {
	// AddMutualContacts puts a and b (bare JIDs) in each other's roster with
	// subscription both. ErrUnsupported when the server gave no roster
	// permission.
	AddMutualContacts(ctx context.Context, a, b string) error
	// NotifyJoined tells inviter (a bare JID) that account (the new
	// user's bare JID) joined with their invite, in the inviter's
	// language.
	NotifyJoined(ctx context.Context, inviter, account string) error
}

// RoomInviter is what an Accounts may also do for invites with rooms.
type RoomInviter interface {
	// InviteToRoom gives account (a bare JID) the member affiliation of
	// room where it may, then sends it a XEP-0249 direct invitation to
	// room. The error is the invitation's.
	InviteToRoom(ctx context.Context, room, account string) error
}

// Redemption is the outcome of a successful redemption.
type Redemption struct {
	Invite   keystore.Invite
	Username string // prepared
	JID      string // username@domain
	// Contact is the inviter's JID for contact invites.
	Contact string
	// Befriended reports that the new user and Contact are now mutual contacts.
	Befriended bool
	// Rooms are the group chats the new account was sent an invitation to.
	Rooms []string
	// Circle is the circle the new account joined; CircleMembers are its
	// other members, and CircleBefriended reports that the new account and
	// every one of them are now mutual contacts (else the success page
	// asks to add them).
	Circle           string
	CircleMembers    []string
	CircleBefriended bool
	// PresetErr is what went wrong with the rooms and the circle (best
	// effort: the account stays), for the log.
	PresetErr error
	// Unrecorded is the store's error when the account was created but the
	// use could not be recorded yet; the resolver records it later, and the
	// reservation keeps the use taken meanwhile.
	Unrecorded error
}

// Registration is what a person submits to redeem an invite.
type Registration struct {
	Username string // ignored for reset and fixed-username invites
	Password string
	Confirm  string
}

// MaxPasswordLen is the longest password accepted, in bytes: Prosody's
// limit, the lowest of the servers'.
const MaxPasswordLen = 1023

// Check validates a registration against an invite without touching the
// store, and returns the prepared username.
func (s *Service) Check(inv keystore.Invite, reg Registration) (string, error) {
	username := inv.Username
	if username == "" || (inv.Type == keystore.TypeContact) {
		u, err := PrepareUsername(strings.TrimSpace(reg.Username))
		if err != nil {
			return "", coded(invalid("user", "%s", err), usernameCode(err), "", 0)
		}
		username = u
	}
	if inv.Type == keystore.TypeContact && !inv.AllowRegister {
		return "", ErrNoRegistration
	}
	if err := s.checkReserved(inv, username); err != nil {
		return "", err
	}
	pw := reg.Password
	switch {
	case !utf8.ValidString(pw):
		return username, coded(invalid("password", "must be valid text"), CodePasswordText, "", 0)
	case hasControl(pw):
		return username, coded(invalid("password", "must not contain control characters (such as tabs or line breaks)"), CodePasswordControl, "", 0)
	case len(pw) < s.cfg.PasswordMinLength:
		return username, coded(invalid("password", "must be at least %d characters", s.cfg.PasswordMinLength), CodePasswordShort, "", s.cfg.PasswordMinLength)
	case len(pw) > MaxPasswordLen:
		return username, coded(invalid("password", "must be at most %d bytes", MaxPasswordLen), CodePasswordLong, "", MaxPasswordLen)
	case strings.Contains(strings.ToLower(pw), strings.ToLower(username)):
		return username, coded(invalid("password", "must not contain the username"), CodePasswordUser, "", 0)
	case pw != reg.Confirm:
		return username, coded(invalid("password_confirm", "the two passwords differ"), CodePasswordMismatch, "", 0)
	}
	return username, nil
}

// followUp tells the registration watchers, makes contact invites'
// parties contacts and tells an XMPP inviter that their invite was used.
// Failures are reported in red only.
func (s *Service) followUp(ctx context.Context, red *Redemption, acc Accounts) {
	s.notifyWatchers(ctx, red, acc)
	f, ok := acc.(Followups)
	if !ok {
		return
	}
	inviter, isXMPP := strings.CutPrefix(red.Invite.Creator, "xmpp:")
	if red.Invite.Type == keystore.TypeContact {
		red.Contact = red.Invite.Username + "@" + s.cfg.Domain
		cctx, cancel := context.WithTimeout(ctx, s.cfg.Timing.AccountTimeout)
		red.Befriended = f.AddMutualContacts(cctx, red.Contact, red.JID) == nil
		cancel()
	}
	if red.Invite.Type != keystore.TypeReset {
		s.presets(ctx, red, acc, f)
	}
	if isXMPP && red.Invite.Type != keystore.TypeReset {
		nctx, cancel := context.WithTimeout(ctx, s.cfg.Timing.AccountTimeout)
		_ = f.NotifyJoined(nctx, inviter, red.JID)
		cancel()
	}
}

// presets invites the new account to the invite's rooms and puts it into
// the invite's circle, making it and every other member mutual contacts.
// All best effort: what fails is in red.PresetErr.
func (s *Service) presets(ctx context.Context, red *Redemption, acc Accounts, f Followups) {
	var errs []error
	if ri, ok := acc.(RoomInviter); ok {
		for _, room := range red.Invite.Rooms {
			rctx, cancel := context.WithTimeout(ctx, s.cfg.Timing.AccountTimeout)
			err := ri.InviteToRoom(rctx, room, red.JID)
			cancel()
			if err != nil {
				errs = append(errs, err)
				continue
			}
			red.Rooms = append(red.Rooms, room)
		}
	} else if len(red.Invite.Rooms) > 0 {
		errs = append(errs, fmt.Errorf("group chat invitations: %w", ErrUnsupported))
	}
	if name := red.Invite.Circle; name != "" {
		if err := s.joinCircle(ctx, red, name, f); err != nil {
			errs = append(errs, err)
		}
	}
	red.PresetErr = errors.Join(errs...)
}

// joinCircle adds the new account to circle name and makes it a contact of
// every other member.
func (s *Service) joinCircle(ctx context.Context, red *Redemption, name string, f Followups) error {
	members, err := s.store.CircleMembers(ctx, name)
	if err != nil {
		return err
	}
	if err := s.store.AddCircleMember(ctx, name, red.JID, s.cfg.MaxCircleSize); err != nil {
		return err
	}
	red.Circle = name
	for _, m := range members {
		if m.JID != red.JID {
			red.CircleMembers = append(red.CircleMembers, m.JID)
		}
	}
	red.CircleBefriended = true
	var errs []error
	for _, m := range red.CircleMembers {
		cctx, cancel := context.WithTimeout(ctx, s.cfg.Timing.AccountTimeout)
		err := f.AddMutualContacts(cctx, m, red.JID)
		cancel()
		if err != nil {
			red.CircleBefriended = false
			errs = append(errs, err)
			if errors.Is(err, ErrUnsupported) || errors.Is(err, ErrLinkDown) {
				break // the same for every member
			}
		}
	}
	return errors.Join(errs...)
}

// hasControl reports whether s holds a C0 or C1 control character or DEL,
// which XMPP servers refuse in passwords (Prosody's SASLprep does).
func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
			return true
		}
	}
	return false
}
