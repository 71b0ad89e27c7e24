package component

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"xmpp-invites/invites"
)

// TestChainRefusals checks that the invite-chain refusals of CreateFor
// reach people in chats and ad-hoc commands naming the limit, not as a
// failure.
func TestChainRefusals(t *testing.T) {
	fs := newFakeServer(t)
	m := &fakeMinter{}
	_, fc := connect(t, fs, m, nil)
	next := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		err  error
		want []string
	}{
		{&invites.NotAllowedError{Rule: invites.RuleTreeFull, Limit: 2}, []string{"limit of 2 accounts"}},
		{&invites.NotAllowedError{Rule: invites.RuleTreeFull, Limit: 1}, []string{"limit of 1 account,"}},
		{&invites.NotAllowedError{Rule: invites.RuleTooNew, Age: 24 * time.Hour, Next: next}, []string{"24 hours old", "from 2 January 2030, 03:04 UTC"}},
		{&invites.NotAllowedError{Rule: invites.RuleTooNew, Age: 90 * time.Minute, Next: next}, []string{"90 minutes old", "from 2 January 2030, 03:04 UTC"}},
		{fmt.Errorf("create: %w", &invites.NotAllowedError{Rule: invites.RuleUserInvites}), []string{"Only admins of example.test"}},
	} {
		m.setErr(tc.err)
		got := chat(t, fc, alice, "chat", "invite")
		e := execute(t, fc, alice, "c1", nodeInvite, "execute")
		wantCondition(t, e, "forbidden")
		text, _ := errorText(t, e)
		for _, want := range tc.want {
			if !strings.Contains(got, want) {
				t.Errorf("chat answer to %v: %q lacks %q", tc.err, got, want)
			}
			if !strings.Contains(text, want) {
				t.Errorf("command answer to %v: %q lacks %q", tc.err, text, want)
			}
		}
	}
}

// TestNotifyWatchers checks the registration watchers' message: each
// watcher gets the address, the invite, its creator and the time, in the
// language they last wrote in; an address that is not a JID is skipped.
func TestNotifyWatchers(t *testing.T) {
	fs := newFakeServer(t)
	c, fc := connect(t, fs, nil, nil)
	chatIn(t, fc, alice, "de", "help")
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c.NotifyWatchers(ctxT(t, time.Second), []string{"alice@example.test", "not a jid@@", "eve@elsewhere.test"},
		invites.Registered{JID: "new@example.test", InviteID: "inv12345", Creator: "key:ABCDEFGHIJKL", At: at})
	got := map[string]*element{}
	for range 2 {
		e := fc.await(t, "watcher message", func(e *element) bool { return e.XMLName.Local == "message" })
		got[e.attr("to")] = e
	}
	for to, want := range map[string][]string{
		"alice@example.test": {"new@example.test", "inv12345", "ABCDEFGHIJKL", "2. Januar 2030, 03:04 UTC"},
		"eve@elsewhere.test": {"new@example.test", "inv12345", "the API key ABCDEFGHIJKL", "2 January 2030, 03:04 UTC"},
	} {
		e := got[to]
		if e == nil {
			t.Errorf("no message to %s", to)
			continue
		}
		if e.attr("type") != "chat" {
			t.Errorf("message to %s: %s, want type chat", to, dumpElement(e))
		}
		for _, w := range want {
			if body := e.child("", "body").Text; !strings.Contains(body, w) {
				t.Errorf("message to %s: %q lacks %q", to, body, w)
			}
		}
	}
	wantLang(t, got["alice@example.test"], "de")
	fc.quiet(t, 200*time.Millisecond)

	for creator, want := range map[string]string{"xmpp:bob@example.test": "created by bob@example.test", "cli": "created by the command line"} {
		c.NotifyWatchers(ctxT(t, time.Second), []string{"eve@elsewhere.test"}, invites.Registered{JID: "x@example.test", InviteID: "i", Creator: creator, At: at})
		e := fc.await(t, "watcher message", func(e *element) bool { return e.XMLName.Local == "message" })
		if body := e.child("", "body").Text; !strings.Contains(body, want) {
			t.Errorf("creator %s: %q lacks %q", creator, body, want)
		}
	}
}
