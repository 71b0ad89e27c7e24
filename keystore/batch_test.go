package keystore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"
)

// holdWriter keeps the writer busy inside a transaction until the returned
// release is called, so that writes queued meanwhile share its next batch.
func holdWriter(t *testing.T, s *Store) (release func()) {
	t.Helper()
	started, done := make(chan struct{}), make(chan struct{})
	go func() {
		err := s.write(context.Background(), func(*sql.Tx) error {
			close(started)
			<-done
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}()
	<-started
	return func() { close(done) }
}

// TestBatchedInvitesWithDeletedKey queues invites of a live key, a deleted
// key and the CLI behind a busy writer, so that they share one
// transaction: only the deleted key's invites fail, with ErrUnauthorized,
// and every other invite is stored and found by its token.
func TestBatchedInvitesWithDeletedKey(t *testing.T) {
	ctx := context.Background()
	s, c, path := openTest(t)
	live, _, err := s.CreateKey(ctx, KeyParams{Name: "live"})
	if err != nil {
		t.Fatal(err)
	}
	gone, _, err := s.CreateKey(ctx, KeyParams{Name: "gone"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteKey(ctx, gone.ID, false); err != nil {
		t.Fatal(err)
	}
	var creators []string
	for range 7 {
		creators = append(creators, live.Creator(), gone.Creator(), "cli")
	}
	var committed []int
	s.committed = func(writes int, _ time.Duration, _ error) { committed = append(committed, writes) }

	release := holdWriter(t, s)
	errs := make([]error, len(creators))
	invs := make([]Invite, len(creators))
	toks := make([]string, len(creators))
	var wg sync.WaitGroup
	for i, cr := range creators {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := InviteParams{Type: TypeAccount, Creator: cr, MaxUses: 1, Expires: c.Now().Add(time.Hour)}
			invs[i], toks[i], errs[i] = s.CreateInvite(ctx, p)
		}()
	}
	for deadline := time.Now().Add(5 * time.Second); len(s.ops) < len(creators); {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d creations queued", len(s.ops), len(creators))
		}
		time.Sleep(time.Millisecond)
	}
	release()
	wg.Wait()
	s.Close() // the writer is done: committed is complete

	// The held write joined by all the creations: one transaction.
	if len(committed) != 1 || committed[0] != 1+len(creators) {
		t.Fatalf("transactions of %v writes, want one of %d", committed, 1+len(creators))
	}
	s2, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	for i, cr := range creators {
		if cr == gone.Creator() {
			if !errors.Is(errs[i], ErrUnauthorized) {
				t.Errorf("invite %d by the deleted key: %v, want ErrUnauthorized", i, errs[i])
			}
			continue
		}
		if errs[i] != nil {
			t.Fatalf("invite %d by %s: %v", i, cr, errs[i])
		}
		got, err := s2.InviteByToken(ctx, toks[i])
		if err != nil || got.ID != invs[i].ID || got.Creator != cr {
			t.Fatalf("invite %d: by token %+v, %v; created %+v", i, got, err, invs[i])
		}
	}
	var n int
	s2.r.QueryRow("SELECT count(*) FROM invites").Scan(&n)
	if n != 14 {
		t.Fatalf("%d invites stored, want 14", n)
	}
}
