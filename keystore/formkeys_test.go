package keystore

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"xmpp-invites/internal/pgtest"
)

// TestFormKeys: the first call makes a key, later calls read it; after
// rotate a second key is made and both are returned; a key is deleted once
// a newer one is retire old. Two handles on one database (two instances)
// see the same keys.
func TestFormKeys(t *testing.T) {
	ctx := context.Background()
	s, c, path := openTest(t)
	other, err := Open(ctx, path, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	const rotate, retire = 24 * time.Hour, 13 * time.Hour
	get := func(st *Store) []FormKey {
		t.Helper()
		keys, err := st.FormKeys(ctx, rotate, retire)
		if err != nil {
			t.Fatalf("FormKeys: %v", err)
		}
		return keys
	}
	first := get(s)
	if len(first) != 1 || len(first[0].Secret) != 32 {
		t.Fatalf("first call: %+v, want one key of 32 bytes", first)
	}
	if again := get(other); len(again) != 1 || again[0].ID != first[0].ID || !bytes.Equal(again[0].Secret, first[0].Secret) {
		t.Fatalf("another handle: %+v, want the same key", again)
	}
	c.Add(rotate)
	rotated := get(other)
	if len(rotated) != 2 || rotated[1].ID != first[0].ID || bytes.Equal(rotated[0].Secret, first[0].Secret) {
		t.Fatalf("after rotate: %+v, want a new key then the first", rotated)
	}
	if keys := get(s); len(keys) != 2 || keys[0].ID != rotated[0].ID {
		t.Fatalf("the first handle after the rotation: %+v", keys)
	}
	c.Add(retire)
	if keys := get(s); len(keys) != 1 || keys[0].ID != rotated[0].ID {
		t.Fatalf("after retire: %+v, want the new key alone", keys)
	}
	if n := countRows(t, s, "form_keys"); n != 1 {
		t.Errorf("%d form keys stored, want 1", n)
	}
}

// TestPurgeOneInstanceAtATime (PostgreSQL): while another session holds
// the purge lock (another instance purging), Purge deletes nothing and
// says so; once it is released, Purge works.
func TestPurgeOneInstanceAtATime(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Shared(t).NewDatabase(t)
	c := newClock()
	s, err := Open(ctx, url, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	other, err := Open(ctx, url, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	inv, _ := newInvite(t, s, c, InviteParams{Expires: c.Now().Add(time.Minute)})
	c.Add(48 * time.Hour)
	unlock, err := other.pgTryLock(ctx, pgPurgeLock)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.Purge(ctx, c.Now().Add(-time.Hour)); !errors.Is(err, ErrPurgeElsewhere) || n != 0 {
		t.Fatalf("Purge while another instance purges: %d, %v; want ErrPurgeElsewhere", n, err)
	}
	if _, err := s.GetInvite(ctx, inv.ID); err != nil {
		t.Fatalf("the invite is gone: %v", err)
	}
	unlock()
	if n, err := s.Purge(ctx, c.Now().Add(-time.Hour)); err != nil || n != 1 {
		t.Fatalf("Purge after the other finished: %d, %v; want 1", n, err)
	}
}
