package httpapi_test

import (
	"strings"
	"testing"

	"xmpp-invites/invites"
)

func TestRegisterReservedUsername(t *testing.T) {
	e := newPageEnv(t, pagePublic)
	c := e.invite(invites.Request{})
	for _, user := range []string{"admin", "ADMIN", "Ａｄｍｉｎ", "webmaster"} {
		t.Run(user, func(t *testing.T) {
			rec := e.register(c.Token, user, "a fine password", "a fine password")
			pageWantStatus(t, rec, 422, "reserved username")
			body := rec.Body.String()
			if text := pageText(body); !strings.Contains(text, "is reserved. Please choose another one") {
				t.Errorf("page does not say the username is reserved:\n%s", text)
			}
			input := body[strings.Index(body, `<input id="user"`):]
			if input = input[:strings.Index(input, ">")]; !strings.Contains(input, `aria-invalid="true"`) {
				t.Errorf("the user field is not marked invalid: %s>", input)
			}
		})
	}
	if got := e.link.createdAccounts(); len(got) != 0 {
		t.Errorf("accounts created: %v", got)
	}
	if n := e.uses(c.Invite.ID); n != 0 {
		t.Errorf("uses %d, want 0", n)
	}
	pageWantStatus(t, e.register(c.Token, "alice", "a fine password", "a fine password"), 200, "a normal name")
}
