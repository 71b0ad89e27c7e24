package keystore

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMigrateFromVersion2 opens a database as version 2 of the binary left
// it, with invites whose IDs are random (not derived from their tokens) and
// a use, and checks that version 3 keeps every invite reachable by its old ID
// and its old token, keeps the uses, drops the token_hash index, leaves
// foreign keys on, and that purging still cascades.
func TestMigrateFromVersion2(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v2.db")
	db, err := sql.Open("sqlite3", path+"?_foreign_keys=on")
	if err != nil {
		t.Fatal(err)
	}
	const (
		liveToken = "LiveTokenFromVersion2xxx" // 24 characters, like every token
		usedToken = "UsedTokenFromVersion2xxx"
	)
	future := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{schemaV1, nil}, {schemaV2, nil}, {"PRAGMA user_version = 2", nil},
		{`INSERT INTO invites (seq, id, token_hash, type, creator, created_at, expires_at, max_uses)
		  VALUES (1, 'live0001', ?, 'account', 'cli', 1, ?, 2)`, []any{hash(liveToken), future}},
		{`INSERT INTO invites (seq, id, token_hash, type, creator, created_at, expires_at, max_uses, uses, done_at)
		  VALUES (2, 'used0001', ?, 'account', 'cli', 1, ?, 1, 1, 5)`, []any{hash(usedToken), future}},
		{`INSERT INTO uses (invite_seq, jid, reserved_at, used_at) VALUES (2, 'a@example.test', 4, 5)`, nil},
	} {
		if _, err := db.Exec(q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	db.Close()

	c := newClock()
	var upgraded [][2]int
	s, err := Open(ctx, path, Options{Now: c.Now, Upgrading: func(from, to int) { upgraded = append(upgraded, [2]int{from, to}) }})
	if err != nil {
		t.Fatalf("Open of a version 2 database: %v", err)
	}
	defer s.Close()
	if len(upgraded) != 1 || upgraded[0] != [2]int{2, len(migrations)} {
		t.Fatalf("Upgrading called with %v, want once with [2 %d]", upgraded, len(migrations))
	}
	var version, tokenIndexes, fk int
	s.r.QueryRow("PRAGMA user_version").Scan(&version)
	s.r.QueryRow(`SELECT count(*) FROM pragma_index_list('invites') l, pragma_index_info(l.name) i WHERE i.name = 'token_hash'`).Scan(&tokenIndexes)
	s.w.QueryRow("PRAGMA foreign_keys").Scan(&fk)
	if version != len(migrations) || tokenIndexes != 0 || fk != 1 {
		t.Fatalf("after migration: version %d, indexes on token_hash %d, foreign_keys %d; want %d, 0, 1",
			version, tokenIndexes, fk, len(migrations))
	}

	// Old IDs and old tokens both still find their invites.
	for _, ref := range []string{"live0001", liveToken} {
		inv, err := s.GetInvite(ctx, ref)
		if err != nil || inv.ID != "live0001" || inv.MaxUses != 2 {
			t.Fatalf("GetInvite(%q) = %+v, %v; want live0001", ref, inv, err)
		}
	}
	if inv, err := s.InviteByToken(ctx, usedToken); err != nil || inv.ID != "used0001" || inv.Uses != 1 {
		t.Fatalf("InviteByToken(used) = %+v, %v", inv, err)
	}
	if uses, err := s.Uses(ctx, "used0001"); err != nil || len(uses) != 1 || uses[0].JID != "a@example.test" {
		t.Fatalf("uses after migration = %+v, %v", uses, err)
	}
	// Any other token finds nothing.
	if _, err := s.InviteByToken(ctx, "NoSuchTokenAnywhere12345"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown token: %v, want ErrNotFound", err)
	}
	// An old token is redeemed through the legacy table.
	r, err := s.ReserveUse(ctx, liveToken, testHold("b@example.test"))
	if err != nil || r.Invite.ID != "live0001" {
		t.Fatalf("ReserveUse(old token) = %+v, %v", r, err)
	}
	if err := s.ConfirmUse(ctx, r); err != nil {
		t.Fatal(err)
	}

	// New invites get derived IDs beside the old ones.
	inv, tok := newInvite(t, s, c, InviteParams{})
	if inv.ID != inviteID(hash(tok)) {
		t.Fatalf("new invite ID %q, want the one derived from its token %q", inv.ID, inviteID(hash(tok)))
	}

	// Purging the used invite removes its use and its legacy token too:
	// the cascade survived the rebuild.
	c.Add(100 * 365 * 24 * time.Hour)
	if _, err := s.Purge(ctx, c.Now()); err != nil {
		t.Fatal(err)
	}
	var invites, uses, legacy int
	s.r.QueryRow("SELECT count(*) FROM invites").Scan(&invites)
	s.r.QueryRow("SELECT count(*) FROM uses").Scan(&uses)
	s.r.QueryRow("SELECT count(*) FROM legacy_tokens").Scan(&legacy)
	if invites != 0 || uses != 0 || legacy != 0 {
		t.Fatalf("after purge: %d invites, %d uses, %d legacy tokens; want none", invites, uses, legacy)
	}
}

// TestInviteIDFromToken checks the ID of new invites: derived from the token
// hash, 8 characters, never starting with '-', and a lookup by token needs
// the whole token to match, not only the 48 bits that make the ID.
func TestInviteIDFromToken(t *testing.T) {
	ctx := context.Background()
	s, c, path := openTest(t)
	// A new database is created, not upgraded: nothing to announce, then
	// or when it is opened again.
	fresh := filepath.Join(t.TempDir(), "fresh.db")
	for _, p := range []string{fresh, fresh, path} {
		s2, err := Open(ctx, p, Options{Upgrading: func(from, to int) { t.Errorf("Upgrading(%d, %d) on a current database", from, to) }})
		if err != nil {
			t.Fatal(err)
		}
		s2.Close()
	}
	for range 200 {
		inv, tok := newInvite(t, s, c, InviteParams{})
		if len(inv.ID) != InviteIDLen || strings.HasPrefix(inv.ID, "-") || strings.HasPrefix(tok, "-") {
			t.Fatalf("ID %q, token %q: want 8 characters, neither starting with '-'", inv.ID, tok)
		}
		if inv.ID != inviteID(hash(tok)) {
			t.Fatalf("ID %q is not derived from the token", inv.ID)
		}
	}
	inv, _ := newInvite(t, s, c, InviteParams{})
	// A row whose ID matches a token's derived ID but whose hash differs
	// (what a 48-bit clash would look like) must not be found by that token.
	other := "ClashingTokenxxxxxxxxxxx"
	if _, err := s.w.Exec(`UPDATE invites SET id = ? WHERE id = ?`, inviteID(hash(other)), inv.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.InviteByToken(ctx, other); !errors.Is(err, ErrNotFound) {
		t.Fatalf("token with a clashing ID: %v, want ErrNotFound", err)
	}
	if _, err := s.ReserveUse(ctx, other, testHold("x@example.test")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ReserveUse with a clashing ID: %v, want ErrNotFound", err)
	}
}
