package keystore

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestKeyCacheDeletedByAnotherProcess: the server remembers a verified key,
// the CLI (another Store on the same file, as another process) deletes it,
// and the server creates nothing more with it.
func TestKeyCacheDeletedByAnotherProcess(t *testing.T) {
	ctx := context.Background()
	server, c, path := openTest(t)
	cli, err := Open(ctx, path, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	k, cred, err := cli.CreateKey(ctx, KeyParams{Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if _, cached, err := server.AuthenticateToCreate(ctx, cred); err != nil || cached {
		t.Fatalf("first AuthenticateToCreate: cached %v, %v; want a database answer", cached, err)
	}
	got, cached, err := server.AuthenticateToCreate(ctx, cred)
	if err != nil || !cached || got.ID != k.ID {
		t.Fatalf("second AuthenticateToCreate: %+v cached %v, %v; want the remembered key", got, cached, err)
	}
	p := InviteParams{Type: TypeAccount, Creator: k.Creator(), MaxUses: 1, Expires: c.Now().Add(time.Hour)}
	if _, _, err := server.CreateInvite(ctx, p); err != nil {
		t.Fatalf("CreateInvite with a live key: %v", err)
	}

	if _, err := cli.DeleteKey(ctx, k.ID, false); err != nil {
		t.Fatal(err)
	}
	// The server still remembers the key ...
	if _, cached, err := server.AuthenticateToCreate(ctx, cred); err != nil || !cached {
		t.Fatalf("AuthenticateToCreate after delete: cached %v, %v", cached, err)
	}
	// ... but its insert requires the key: nothing is created.
	if _, _, err := server.CreateInvite(ctx, p); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("CreateInvite with a deleted key: %v, want ErrUnauthorized", err)
	}
	if n := countRows(t, server, "invites"); n != 1 {
		t.Fatalf("%d invites stored, want 1", n)
	}
	// The refusal made the server forget the key.
	if _, _, err := server.AuthenticateToCreate(ctx, cred); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("AuthenticateToCreate after the refusal: %v, want ErrUnauthorized", err)
	}
}

// TestKeyCacheRules: a remembered key is used only with its own secret,
// within a minute of its check, and not past its expiry.
func TestKeyCacheRules(t *testing.T) {
	ctx := context.Background()
	s, c, _ := openTest(t)
	k, cred, err := s.CreateKey(ctx, KeyParams{Expires: c.Now().Add(90 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.AuthenticateToCreate(ctx, cred); err != nil {
		t.Fatal(err)
	}
	wrong := k.ID + "/" + randomString(keySecretBytes)
	if _, _, err := s.AuthenticateToCreate(ctx, wrong); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("wrong secret for a remembered ID: %v, want ErrUnauthorized", err)
	}
	if _, cached, err := s.AuthenticateToCreate(ctx, cred); err != nil || !cached {
		t.Fatalf("right secret after a wrong one: cached %v, %v", cached, err)
	}
	c.Add(keyCacheTTL)
	if _, cached, err := s.AuthenticateToCreate(ctx, cred); err != nil || cached {
		t.Fatalf("after %v: cached %v, %v; want a fresh database check", keyCacheTTL, cached, err)
	}
	c.Add(40 * time.Second) // past the key's expiry, within the cache's minute
	if _, _, err := s.AuthenticateToCreate(ctx, cred); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("expired key: %v, want ErrUnauthorized", err)
	}
	// Each database check records the use.
	got, err := s.GetKey(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastUsed.IsZero() {
		t.Error("LastUsed not recorded")
	}
}

func countRows(t *testing.T, s *Store, table string) int {
	t.Helper()
	var n int
	if err := s.r.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
