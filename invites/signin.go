package invites

import (
	"context"
	"fmt"
	"time"

	"xmpp-invites/keystore"
)

// The portal's sign-in rules (docs/portal.md), shared by the pages and the
// component's chat word login.
const (
	// SignInsPerHour caps the sign-in links sent to one address in any
	// hour, however they were asked for, so that the component cannot be
	// made to flood anyone.
	SignInsPerHour = 5
	// SignInTTL is how long a sign-in link is valid.
	SignInTTL = 10 * time.Minute
	// SessionIdle ends a session not used for this long.
	SessionIdle = 12 * time.Hour
	// SessionMaxAge ends a session this long after sign-in, used or not.
	SessionMaxAge = 7 * 24 * time.Hour
)

// signInWindow is the window of SignInsPerHour.
const signInWindow = time.Hour

// SignInURL is the address of the sign-in link with token: its
// confirmation page, {public_url}/login/confirm?TOKEN. Opening it shows
// whom it signs in; only that page's POST uses the link.
func (s *Service) SignInURL(token string) string {
	return s.cfg.PublicURL + "/login/confirm?" + token
}

// SignInLimit is the per-address limit of sign-in links at now, for
// keystore.SignInParams.Limit.
func SignInLimit(now time.Time) keystore.Limit {
	return keystore.Limit{Max: SignInsPerHour, Since: now.Add(-signInWindow)}
}

// NextSignIn is when the address refused with le may be sent a sign-in
// link again: when the oldest link in the window leaves it, rounded up to
// the minute so the time given is never too early.
func NextSignIn(le *keystore.LimitError) time.Time {
	return le.Oldest.Add(signInWindow + time.Minute - time.Second).Truncate(time.Minute)
}

// SignInLink stores a sign-in link for jid (a bare, normalised JID) that
// lasts SignInTTL, under the per-address limit, and returns its URL. from
// says where it was asked for ("chat", a client address); binding is the
// SHA-256 of the asking browser's pre-sign-in cookie, nil for an unbound
// link. Over the limit the error is a *keystore.LimitError (which is
// keystore.ErrLimit). Whether jid may sign in at all is the caller's
// check.
func (s *Service) SignInLink(ctx context.Context, jid, from string, binding []byte) (string, error) {
	token, err := s.store.CreateSignIn(ctx, keystore.SignInParams{
		JID: jid, Binding: binding, From: from, TTL: SignInTTL, Limit: SignInLimit(s.now()),
	})
	if err != nil {
		return "", fmt.Errorf("sign-in link for %s: %w", jid, err)
	}
	return s.SignInURL(token), nil
}
