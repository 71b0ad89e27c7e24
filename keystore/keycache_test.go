package keystore

import (
	"context"
	"errors"
	"testing"
	"time"

	"xmpp-invites/internal/pgtest"
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

// TestKeyCacheNotified (PostgreSQL): a key deleted by another process with
// the CLI's code path stops at once on a listening store, whose cache
// forgets it when the trigger's notification arrives; and the cache is
// flushed when the listening connection comes back after a loss.
func TestKeyCacheNotified(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Shared(t).NewDatabase(t)
	listened := make(chan struct{}, 8)
	notified := make(chan string, 64)
	server, err := Open(ctx, url, Options{Listen: true,
		onListen: func() { listened <- struct{}{} },
		onNotify: func(id string) { notified <- id }})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	wait := func(what string, ch <-chan struct{}) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s", what)
		}
	}
	wait("listening connection", listened)
	cli, err := Open(ctx, url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	cached := func(cred string) bool {
		t.Helper()
		_, c, err := server.AuthenticateToCreate(ctx, cred)
		if err != nil {
			t.Fatalf("AuthenticateToCreate: %v", err)
		}
		return c
	}
	k, cred, err := cli.CreateKey(ctx, KeyParams{Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if cached(cred) || !cached(cred) {
		t.Fatal("the key is not remembered after its first use")
	}
	if _, err := cli.DeleteKey(ctx, k.ID, false); err != nil {
		t.Fatal(err)
	}
	got := make(chan struct{})
	go func() {
		for id := range notified {
			if id == k.ID {
				close(got)
				return
			}
		}
	}()
	wait("notification of the deleted key", got)
	if _, c, err := server.AuthenticateToCreate(ctx, cred); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("AuthenticateToCreate after another process deleted the key: cached %v, %v; want ErrUnauthorized", c, err)
	}

	// The listening connection is lost: on its return the cache starts
	// over, since whatever was announced in between was missed.
	_, cred2, err := cli.CreateKey(ctx, KeyParams{Name: "app"})
	if err != nil {
		t.Fatal(err)
	}
	if cached(cred2) || !cached(cred2) {
		t.Fatal("the second key is not remembered after its first use")
	}
	var n int
	if err := cli.r.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query = 'LISTEN `+pgKeysChannel+`'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("terminating the listening connection: %d, %v", n, err)
	}
	wait("listening connection after the loss", listened)
	if cached(cred2) {
		t.Error("a key remembered before the listening connection was lost is still answered from memory")
	}
}
