package httpapi_test

import (
	"strings"
	"testing"

	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

// TestRegisterContactURIEncoded: the success page's "add in your app"
// link to the inviter is percent-encoded too.
func TestRegisterContactURIEncoded(t *testing.T) {
	e := newPageEnv(t, pagePublic)
	e.link.friendErr = invites.ErrUnsupported // the page then offers the link
	c := e.invite(invites.Request{Type: keystore.TypeContact, Username: "evil?roster", AllowRegister: true})
	rec := e.register(c.Token, "bob", "a fine password", "a fine password")
	pageWantStatus(t, rec, 200, "contact registration")
	if body := rec.Body.String(); !strings.Contains(body, `href="xmpp:evil%3Froster@example.com?roster"`) {
		t.Errorf("success page lacks the encoded roster link:\n%s", pageText(body))
	}
}
