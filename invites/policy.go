package invites

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"xmpp-invites/keystore"
)

// The rules for people who create invites as themselves, in a chat, with
// ad-hoc commands or in the portal, live here and nowhere else: each of
// those paths calls CreateFor. API keys and the CLI create through Create
// under their own rules (scopes, --allow-admin).

// Person is someone creating invites as themself.
type Person struct {
	JID   string // bare JID, normalised (jid.Parse(…).Bare().String())
	Admin bool   // in admins
}

// UserQuotaWindow is the window of user_invites_per_day.
const UserQuotaWindow = 24 * time.Hour

// NotAllowedError is a request a person's rights do not cover. Rule names
// the rule, for the pages and chats to say it in the person's language.
type NotAllowedError struct {
	Rule string
	// Limit is max_invite_tree for RuleTreeFull.
	Limit int
	// Age is min_account_age and Next the time the person's account
	// reaches it, for RuleTooNew.
	Age  time.Duration
	Next time.Time
}

// Rules a person's request can break.
const (
	RuleOtherDomain = "other_domain" // contact invites: only for accounts of the domain
	RuleUserInvites = "user_invites" // account invites: admins only unless allow_user_invites
	RuleAdminOnly   = "admin_only"   // resets and fixed usernames: admins only
	RuleTreeFull    = "tree_full"    // invites that register: the invite tree has max_invite_tree accounts
	RuleTooNew      = "too_new"      // invites that register: the account is younger than min_account_age
)

func (e *NotAllowedError) Error() string { return "not allowed: " + e.Rule }

// ErrNotAllowed matches every *NotAllowedError.
var ErrNotAllowed = errors.New("not allowed")

func (e *NotAllowedError) Is(target error) bool { return target == ErrNotAllowed }

// CreateFor creates an invite for p under a person's rules:
//
//   - contact invites are theirs (the contact is their own account, which
//     must be of the served domain); they let the invitee register where
//     allow_user_invites is on, and always for admins;
//   - account invites need allow_user_invites unless p is an admin;
//     only admins fix a username or make reset invites (never for an
//     admin's or a reserved account: that stays with the CLI);
//   - only admins give an invite rooms or a circle (presets);
//   - people who are not admins create at most user_invites_per_day in
//     any 24 hours (ErrQuota, with the store's *keystore.LimitError);
//   - people who are not admins create invites that let someone register
//     only while their invite tree has room and their account is old
//     enough (checkChain, docs/chains.md).
//
// r.Creator, r.Limit and r.AllowAdmin are set here. Refusals are
// *NotAllowedError, or Create's errors.
func (s *Service) CreateFor(ctx context.Context, p Person, r Request) (Created, error) {
	local, domain, _ := strings.Cut(p.JID, "@")
	if r.Type == "" {
		r.Type = keystore.TypeAccount
	}
	r.Creator = "xmpp:" + p.JID
	r.AllowAdmin = false
	r.Limit = keystore.Limit{}
	switch r.Type {
	case keystore.TypeContact:
		if r.Username == "" || !p.Admin {
			if domain != s.cfg.Domain {
				return Created{}, &NotAllowedError{Rule: RuleOtherDomain}
			}
			r.Username = local
		}
		r.AllowRegister = p.Admin || s.cfg.AllowUserInvites
	case keystore.TypeAccount:
		if !p.Admin && !s.cfg.AllowUserInvites {
			return Created{}, &NotAllowedError{Rule: RuleUserInvites}
		}
		if !p.Admin && r.Username != "" {
			return Created{}, &NotAllowedError{Rule: RuleAdminOnly}
		}
	default:
		if !p.Admin {
			return Created{}, &NotAllowedError{Rule: RuleAdminOnly}
		}
	}
	if r.Never && !p.Admin {
		return Created{}, &NotAllowedError{Rule: RuleAdminOnly} // never-expiring invites: admins only
	}
	if !p.Admin && (len(r.Rooms) > 0 || r.Circle != "") {
		return Created{}, &NotAllowedError{Rule: RuleAdminOnly} // presets: admins only
	}
	if !p.Admin && s.cfg.UserInvitesPerDay > 0 {
		r.Limit = keystore.Limit{Max: s.cfg.UserInvitesPerDay, Since: s.now().Add(-UserQuotaWindow)}
	}
	if err := s.checkChain(ctx, p, r); err != nil {
		return Created{}, err
	}
	c, err := s.Create(ctx, r)
	if err == nil && p.Admin {
		expires := c.Invite.Expires.UTC().Format(time.RFC3339)
		if c.Invite.NeverExpires() {
			expires = "never"
		}
		s.audit(ctx, p, "invite.create", c.Invite.ID, fmt.Sprintf("%s uses=%d expires=%s", c.Invite.Type, c.Invite.MaxUses, expires))
	}
	return c, err
}

// audit records an admin's action, wherever it was taken (chat, ad-hoc
// command, portal). The action is done: a failure to record it is logged
// by the store's caller only as far as the store reports it.
func (s *Service) audit(ctx context.Context, p Person, action, target, detail string) {
	_ = s.store.Audit(ctx, p.JID, action, target, detail)
}

// QuotaNext is when a person who reached user_invites_per_day may create
// the next invite, rounded up to the minute so that it is never too early;
// zero when err does not say.
func QuotaNext(err error) time.Time {
	var limit *keystore.LimitError
	if !errors.As(err, &limit) {
		return time.Time{}
	}
	return limit.Oldest.Add(UserQuotaWindow + time.Minute - time.Second).Truncate(time.Minute)
}
