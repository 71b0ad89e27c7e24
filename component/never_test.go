package component

import (
	"strings"
	"testing"
	"time"

	"xmpp-invites/i18n"
	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

// TestNeverChatInvite: the chat answer with an invite that never expires
// says so, never "expires on 31 December 9999"; invites that expire keep
// their usual answer.
func TestNeverChatInvite(t *testing.T) {
	cat, err := i18n.New("en")
	if err != nil {
		t.Fatal(err)
	}
	loc := cat.Default()
	created := invites.Created{Invite: keystore.Invite{Expires: keystore.Never, MaxUses: 3},
		LandingURL: "https://example.com/invite?T", URI: "xmpp:alice@example.com?roster;preauth=T"}
	answer, ok := neverChatInvite(loc, created)
	if !ok || !strings.Contains(answer, "works 3 times and does not expire.\nhttps://example.com/invite?T\n") ||
		!strings.Contains(answer, "xmpp:alice@example.com?roster;preauth=T") || strings.Contains(answer, "9999") {
		t.Errorf("answer %q, %v", answer, ok)
	}
	created.Invite.MaxUses = 1
	if answer, _ := neverChatInvite(loc, created); !strings.Contains(answer, "works once and does not expire") {
		t.Errorf("answer for one use %q", answer)
	}
	created.Invite.Expires = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if answer, ok := neverChatInvite(loc, created); ok {
		t.Errorf("an invite that expires got %q", answer)
	}
}
