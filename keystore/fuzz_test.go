package keystore

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzAuthenticate feeds arbitrary credentials to the parser and the
// authenticator: nothing but the real key may pass, and nothing may panic.
func FuzzAuthenticate(f *testing.F) {
	for _, seed := range []string{
		"", "/", "a/", "/b", "HTwALnKL/73UUylA-2ZJbu9x1XMATuIbjWpip8ow1",
		"AAAAAAAAAAAA/" + strings.Repeat("A", 43), "a/b/c", "\x00/\x00", "é/é", strings.Repeat("x", 400),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, cred string) {
		id, secret, err := ParseCredential(cred)
		if err == nil {
			if id+"/"+secret != cred || id == "" || secret == "" || strings.ContainsAny(id+secret, "/+= \x00") {
				t.Fatalf("ParseCredential(%q) = %q, %q", cred, id, secret)
			}
		} else if !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("ParseCredential(%q) err = %v, want ErrUnauthorized", cred, err)
		}
	})
}

// FuzzLookup feeds arbitrary references to the invite, sign-in link and
// session lookups.
func FuzzLookup(f *testing.F) {
	for _, seed := range []string{"", "abcdefgh", strings.Repeat("A", TokenLen), strings.Repeat("A", PortalTokenLen), "'; DROP TABLE invites; --", "\xff\xfe"} {
		f.Add(seed)
	}
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(f.TempDir(), "fuzz.db"), Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, ref string) {
		if _, err := s.GetInvite(ctx, ref); !errors.Is(err, ErrNotFound) {
			t.Fatalf("GetInvite(%q) on an empty store: %v, want ErrNotFound", ref, err)
		}
		if _, err := s.ReserveUse(ctx, ref, testHold("x@example.com")); !errors.Is(err, ErrNotFound) {
			t.Fatalf("ReserveUse(%q) on an empty store: %v, want ErrNotFound", ref, err)
		}
		if _, err := s.Authenticate(ctx, ref); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("Authenticate(%q) on an empty store: %v, want ErrUnauthorized", ref, err)
		}
		if _, err := s.SignIn(ctx, ref); !errors.Is(err, ErrNotFound) {
			t.Fatalf("SignIn(%q) on an empty store: %v, want ErrNotFound", ref, err)
		}
		if _, err := s.UseSignIn(ctx, ref, []byte(ref)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("UseSignIn(%q) on an empty store: %v, want ErrNotFound", ref, err)
		}
		if _, err := s.Session(ctx, ref, time.Hour); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Session(%q) on an empty store: %v, want ErrNotFound", ref, err)
		}
	})
}
