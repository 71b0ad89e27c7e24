package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

// TestPortalChainLimits checks that /my names the invite-chain limit that
// refused an invite: min_account_age for an account made through an
// invite a moment ago, max_invite_tree for a full tree.
func TestPortalChainLimits(t *testing.T) {
	ctx := context.Background()
	e := newPortalEnv(t, pagePublic, func(c *invites.Config) {
		c.AllowUserInvites, c.MaxInviteTree, c.MinAccountAge = true, 2, time.Hour
	})
	// bob joins through alice's invite.
	c := e.invite(invites.Request{Type: keystore.TypeAccount, Creator: "xmpp:alice@example.com"})
	res, err := e.store.ReserveUse(ctx, c.Token, keystore.Hold{JID: "bob@example.com", Owner: "test", Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.ConfirmUse(ctx, res); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		who, want string
	}{
		{"bob@example.com", "when they are 1 hour old"},
		{"alice@example.com", "limit of 2 accounts"},
	} {
		b := e.browser()
		b.signIn(t, tc.who)
		csrf := csrfOf(t, b.get("/my"))
		rec := b.post("/my/invites", url.Values{"csrf": {csrf}, "type": {"account"}, "ttl": {"7d"}, "uses": {"1"}})
		if text := pageText(rec.Body.String()); rec.Code != http.StatusBadRequest || !strings.Contains(text, tc.want) {
			t.Errorf("%s's account invite: status %d, want 400 saying %q:\n%s", tc.who, rec.Code, tc.want, text)
		}
	}
	if list, _ := e.store.ListInvites(ctx, keystore.ListOptions{}); len(list) != 0 {
		t.Errorf("refused requests stored %d invites", len(list))
	}
}
