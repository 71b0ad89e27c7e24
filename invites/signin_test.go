package invites

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"xmpp-invites/keystore"
)

func TestSignInURL(t *testing.T) {
	s := newService(t)
	if got := s.SignInURL("TOKEN"); got != "https://example.com/join/login/confirm?TOKEN" {
		t.Fatalf("SignInURL = %q, want it under the public URL's prefix", got)
	}
}

func TestSignInLink(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	const prefix = "https://example.com/join/login/confirm?"
	before := time.Now().Truncate(time.Second)
	link, err := s.SignInLink(ctx, "alice@example.com", "chat", nil)
	if err != nil || !strings.HasPrefix(link, prefix) {
		t.Fatalf("SignInLink = %q, %v; want a link under %s", link, err, prefix)
	}
	in, err := s.Store().SignIn(ctx, strings.TrimPrefix(link, prefix))
	if err != nil || in.JID != "alice@example.com" || in.From != "chat" || in.Bound {
		t.Fatalf("the link's record: %+v, %v", in, err)
	}
	if ttl := in.Expires.Sub(in.Created); ttl != SignInTTL || in.Created.Before(before) {
		t.Fatalf("valid for %v from %v, want %v from now", ttl, in.Created, SignInTTL)
	}
	binding := make([]byte, 32)
	for range SignInsPerHour - 1 {
		if _, err := s.SignInLink(ctx, "alice@example.com", "203.0.113.7", binding); err != nil {
			t.Fatal(err)
		}
	}
	_, err = s.SignInLink(ctx, "alice@example.com", "chat", nil)
	var le *keystore.LimitError
	if !errors.Is(err, keystore.ErrLimit) || !errors.As(err, &le) {
		t.Fatalf("link %d in an hour: %v, want a *keystore.LimitError", SignInsPerHour+1, err)
	}
	if next := NextSignIn(le); next.Before(in.Created.Add(time.Hour)) || next.After(in.Created.Add(time.Hour+time.Minute)) || next.Second() != 0 {
		t.Fatalf("NextSignIn = %v, want the minute after %v", next, in.Created.Add(time.Hour))
	}
	if _, err := s.SignInLink(ctx, "bob@example.com", "chat", nil); err != nil {
		t.Fatalf("another address: %v", err)
	}
	if _, err := s.SignInLink(ctx, "not a jid", "chat", nil); err == nil {
		t.Fatal("a malformed JID was accepted")
	}
}
