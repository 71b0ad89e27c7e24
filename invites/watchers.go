package invites

import (
	"context"
	"time"

	"xmpp-invites/keystore"
)

// RegistrationNotifier is what an Accounts may also do after an account is
// made through an invite: tell the registration watchers, as Prosody's
// mod_watchregistrations and ejabberd's registration_watchers do. The
// component implements it; it is best effort, and failures are the
// implementation's to log.
type RegistrationNotifier interface {
	// NotifyWatchers tells each of watchers (bare JIDs) about n, each in
	// their language.
	NotifyWatchers(ctx context.Context, watchers []string, n Registered)
}

// Registered describes a new account for the registration watchers.
type Registered struct {
	JID      string    // the new account's bare JID
	InviteID string    // the invite's public ID
	Creator  string    // the invite's creator: xmpp:JID, key:ID or cli
	At       time.Time // when the account was made, UTC
}

// notifyWatchers tells the registration watchers about the account red
// made, if it made one (resets do not) and acc can tell them. It waits
// only for the messages to be handed to the link, at most AccountTimeout.
func (s *Service) notifyWatchers(ctx context.Context, red *Redemption, acc Accounts) {
	n, ok := acc.(RegistrationNotifier)
	if !ok || len(s.cfg.RegistrationWatchers) == 0 || red.Invite.Type == keystore.TypeReset {
		return
	}
	nctx, cancel := context.WithTimeout(ctx, s.cfg.Timing.AccountTimeout)
	defer cancel()
	n.NotifyWatchers(nctx, s.cfg.RegistrationWatchers, Registered{
		JID: red.JID, InviteID: red.Invite.ID, Creator: red.Invite.Creator, At: s.now().UTC(),
	})
}
