package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"xmpp-invites/internal/xmpptest"
)

// TestChainsAndWatchers runs the invite-chain limits and the registration
// watchers on each server with real clients: an account made through a
// chat invite is announced to the watcher, is refused invites that
// register while it is younger than min_account_age, and once the tree
// holds max_invite_tree accounts its root is refused too; each refusal
// names its limit.
func TestChainsAndWatchers(t *testing.T) {
	for _, kind := range []string{xmpptest.Prosody, xmpptest.Ejabberd} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			a := attachWith(t, kind, fmt.Sprintf(`registration_watchers = ["watcher@%s"]
[invites]
allow_user_invites = true
max_invite_tree = 2
min_account_age = "1h"
`, xmpptest.Domain))
			const pw = "correct horse battery"
			domain, comp := a.srv.Domain, a.srv.ComponentJID
			a.srv.Register(t, "watcher", pw)
			a.srv.Register(t, "alice", pw)
			watcher := a.client(t, "watcher", pw)
			alice := a.client(t, "alice", pw)

			// alice was not made through us: her chat invite lets bob register.
			alice.say(t, comp, "invite")
			answer := nextChat(t, alice, comp)
			m := regexp.MustCompile(`/invite\?([A-Za-z0-9_-]+)`).FindStringSubmatch(answer)
			if m == nil {
				t.Fatalf("alice's invite answer has no link: %q", answer)
			}
			if code, page := a.register(t, m[1], "bob", pw); code != http.StatusOK {
				t.Fatalf("bob registers with alice's invite: %d\n%s", code, pageTextOf(page))
			}
			notice := watcher.awaitChat(t, comp)
			id := a.inviteID(t, m[1])
			for _, want := range []string{"bob@" + domain, id, "alice@" + domain, "UTC"} {
				if !strings.Contains(notice, want) {
					t.Errorf("watcher's notice %q lacks %q", notice, want)
				}
			}
			t.Logf("%s: watcher got: %s", kind, notice)

			// bob is an hour too young to invite someone who registers.
			bob := a.client(t, "bob", pw)
			bob.say(t, comp, "invite")
			if got := nextChat(t, bob, comp); !strings.Contains(got, "1 hour old") || !strings.Contains(got, "UTC") {
				t.Errorf("bob's invite, new account: %q, want a refusal naming 1 hour and the time", got)
			} else {
				t.Logf("%s: bob got: %s", kind, got)
			}
			// alice's tree (alice, bob) is full at 2.
			alice.say(t, comp, "invite")
			if got := nextChat(t, alice, comp); !strings.Contains(got, "limit of 2 accounts") {
				t.Errorf("alice's invite, full tree: %q, want a refusal naming the limit of 2", got)
			} else {
				t.Logf("%s: alice got: %s", kind, got)
			}
			if code := a.stop(); code != 0 {
				t.Fatalf("serve exit status %d: %s", code, a.stderr)
			}
		})
	}
}

// nextChat is the next chat message from the component that is not a
// notice that someone joined with the user's invite.
func nextChat(t *testing.T, c *xmppClient, from string) string {
	t.Helper()
	for {
		if body := c.awaitChat(t, from); !strings.Contains(body, "joined with your invite") {
			return body
		}
	}
}

// inviteID asks the JSON API for the ID of the invite with token.
func (a *attached) inviteID(t *testing.T, token string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+a.addr+"/api/v1/invites/"+url.PathEscape(token), nil)
	req.Header.Set("Authorization", "Bearer "+a.cred)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.ID == "" {
		t.Fatalf("show invite: %d %v", resp.StatusCode, err)
	}
	return body.ID
}
