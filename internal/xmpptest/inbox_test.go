package xmpptest

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// TestInbox proves Receive on both servers: a message one user sends
// reaches another's Inbox, in order and with its sender, and so does a
// component's message to the bare JID, as the sign-in link would be;
// headline messages are dropped, and a wait that finds nothing says what
// did arrive.
func TestInbox(t *testing.T) {
	t.Parallel()
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			s := Start(t, kind, Options{})
			s.Register(t, "alice", "alice-pw")
			s.Register(t, "bob", "bob-pw")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			bob := s.Receive(t, ctx, "bob", "bob-pw")
			alice := s.Receive(t, ctx, "alice", "alice-pw")
			if got, want := bob.JID().Bare().String(), "bob@"+s.Domain; got != want {
				t.Fatalf("Inbox JID %s, want %s", got, want)
			}
			for _, body := range []string{"hello <bob> & co", "second"} {
				if err := alice.Send(ctx, "bob@"+s.Domain, body); err != nil {
					t.Fatal(err)
				}
			}
			for _, want := range []string{"hello <bob> & co", "second"} {
				got, err := bob.Next(ctx, "alice@"+s.Domain)
				if err != nil {
					t.Fatalf("bob waiting for %q from alice: %v", want, err)
				}
				if got != want {
					t.Errorf("bob got %q from alice, want %q", got, want)
				}
			}
			// An answer to the full JID, found among others by WaitFor.
			if err := bob.Send(ctx, alice.JID().String(), "hi alice"); err != nil {
				t.Fatal(err)
			}
			m, err := alice.WaitFor(ctx, func(from, body string) bool { return strings.HasPrefix(body, "hi") })
			if err != nil {
				t.Fatalf("alice waiting for bob's answer: %v", err)
			}
			if !strings.HasPrefix(m.From, "bob@"+s.Domain+"/") || m.Type != "chat" || m.Body != "hi alice" {
				t.Errorf("alice got %+v, want a chat from bob's full JID saying hi alice", m)
			}

			// The component writes to the bare JID: a headline (dropped),
			// a normal message and a chat.
			c, err := dialComponent(s, s.Secret)
			if err != nil {
				t.Fatalf("component handshake: %v", err)
			}
			defer c.conn.Close()
			for _, st := range []string{
				`<message type='headline' from='%s' to='bob@%s'><body>ignored</body></message>`,
				`<message from='%s' to='bob@%s'><body>sign in: https://example.test/login/confirm?x</body></message>`,
				`<message type='chat' from='%s' to='bob@%s' xml:lang='en'><body>and a chat</body></message>`,
			} {
				if _, err := io.WriteString(c.conn, fmt.Sprintf(st, s.ComponentJID, s.Domain)); err != nil {
					t.Fatal(err)
				}
			}
			for _, want := range []string{"sign in: https://example.test/login/confirm?x", "and a chat"} {
				got, err := bob.Next(ctx, s.ComponentJID)
				if err != nil {
					t.Fatalf("bob waiting for %q from the component: %v", want, err)
				}
				if got != want {
					t.Errorf("bob got %q from the component, want %q", got, want)
				}
			}

			// Everything is taken: a wait ends with ctx and names what came.
			done, stop := context.WithCancel(ctx)
			stop()
			_, err = bob.Next(done, "")
			if err == nil || !strings.Contains(err.Error(), "context canceled") || !strings.Contains(err.Error(), `"and a chat"`) || strings.Contains(err.Error(), "ignored") {
				t.Errorf("Next with nothing left: %v, want the context's error listing the messages received, without the headline", err)
			}
		})
	}
}
