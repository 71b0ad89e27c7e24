package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/url"
	"strings"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"xmpp-invites/keystore"
)

// seedBatch is how many rows one seeding transaction inserts.
const seedBatch = 50_000

// seedSpan is how far back the seeded invites' creation times go.
const seedSpan = 30 * 24 * time.Hour

// seeded describes a seeded database: what to look up in it afterwards.
type seeded struct {
	Invites  int           `json:"invites"`
	Pending  int           `json:"pending"`
	Seconds  float64       `json:"seconds"`
	Oldest   time.Time     `json:"oldest"`
	token    string        // a pending invite's token
	middleID string        // an invite in the middle, for paging
	creator  string        // the most common creator
	took     time.Duration // wall time
}

// seedDB creates the schema with keystore.Open (so it is exactly the
// binary's), then inserts n invites with database/sql in big transactions:
// random token hashes, a month of creation times, one in twenty used (with
// its use), one in twenty expired, one in fifty revoked, the rest pending.
func seedDB(ctx context.Context, path string, n int) (seeded, error) {
	begin := time.Now()
	st, err := keystore.Open(ctx, path, keystore.Options{})
	if err != nil {
		return seeded{}, fmt.Errorf("seed: %w", err)
	}
	if err := st.Close(); err != nil {
		return seeded{}, fmt.Errorf("seed: %w", err)
	}
	// Seeding needs no durability: synchronous=OFF, one connection.
	q := url.Values{"_journal_mode": {"WAL"}, "_synchronous": {"OFF"}, "_busy_timeout": {"10000"}}
	db, err := sql.Open("sqlite3", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return seeded{}, fmt.Errorf("seed: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	var seedKey [32]byte
	rand.Read(seedKey[:])
	chacha := mrand.NewChaCha8(seedKey)
	now := time.Now().UTC()
	oldest := now.Add(-seedSpan)
	step := seedSpan / time.Duration(max(n, 1))
	creators := []string{"key:benchkey0001", "key:benchkey0002", "key:benchkey0003", "cli", "xmpp:admin@example.test"}
	res := seeded{Invites: n, Oldest: oldest, creator: creators[0]}
	// IDs are derived from the token hash, as keystore derives them since
	// schema version 3.
	draw := func() (tok string, h [32]byte, id string) {
		var token [18]byte
		chacha.Read(token[:])
		tok = base64.RawURLEncoding.EncodeToString(token[:])
		h = sha256.Sum256([]byte(tok))
		return tok, h, base64.RawURLEncoding.EncodeToString(h[:6])
	}
	for start := 0; start < n; start += seedBatch {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return res, fmt.Errorf("seed: %w", err)
		}
		ins, err := tx.PrepareContext(ctx, `INSERT INTO invites
			(seq, id, token_hash, type, username, creator, note, allow_register, created_at, expires_at, max_uses, uses, revoked_at, done_at)
			VALUES (?, ?, ?, 'account', '', ?, '', 0, ?, ?, 1, ?, ?, ?)`)
		if err != nil {
			tx.Rollback()
			return res, fmt.Errorf("seed: %w", err)
		}
		use, err := tx.PrepareContext(ctx, `INSERT INTO uses (invite_seq, jid, reserved_at, used_at) VALUES (?, ?, ?, ?)`)
		if err != nil {
			tx.Rollback()
			return res, fmt.Errorf("seed: %w", err)
		}
		for i := start; i < min(start+seedBatch, n); i++ {
			seq := int64(i + 1)
			created := oldest.Add(time.Duration(i) * step).Unix()
			expires := now.Add(7 * 24 * time.Hour).Unix()
			var uses int
			var revoked, done sql.NullInt64
			tok, h, id := draw()
			keep := false // a pending invite whose token the tests look up
			switch {
			case i%20 == 0: // used
				uses = 1
				done = sql.NullInt64{Int64: created + 600, Valid: true}
			case i%20 == 1: // expired unused
				expires = created + 3600
			case i%50 == 2: // revoked
				revoked = sql.NullInt64{Int64: created + 60, Valid: true}
				done = revoked
			default:
				res.Pending++
				keep = res.token == "" || i == n/2+3
			}
			for attempt := 0; ; attempt++ {
				_, err := ins.ExecContext(ctx, seq, id, h[:], creators[i%len(creators)], created, expires, uses, revoked, done)
				var serr sqlite3.Error
				if err == nil {
					break
				}
				if !errors.As(err, &serr) || serr.ExtendedCode != sqlite3.ErrConstraintUnique || attempt == 3 {
					tx.Rollback()
					return res, fmt.Errorf("seed invite %d: %w", i, err)
				}
				// Two hashes sharing their first 48 bits (about 2 in 1,000
				// seedings of 1,000,000): draw another token, as keystore does.
				tok, h, id = draw()
			}
			if i == n/2 {
				res.middleID = id
			}
			if keep {
				res.token = tok
			}
			if uses == 1 {
				if _, err := use.ExecContext(ctx, seq, fmt.Sprintf("user%d@%s", i, benchDomain), created+590, created+600); err != nil {
					tx.Rollback()
					return res, fmt.Errorf("seed use %d: %w", i, err)
				}
			}
		}
		if err := tx.Commit(); err != nil {
			return res, fmt.Errorf("seed: %w", err)
		}
	}
	if _, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return res, fmt.Errorf("seed: checkpoint: %w", err)
	}
	// No ANALYZE: keystore never runs it, so the plans explained later are
	// the ones a real database gets.
	res.took = time.Since(begin)
	res.Seconds = res.took.Seconds()
	return res, nil
}

// queryTiming is one keystore call timed on the seeded database.
type queryTiming struct {
	Name   string  `json:"name"`
	Ms     float64 `json:"ms"`
	Rows   int     `json:"rows"`
	Detail string  `json:"detail,omitempty"`
}

// timeQueries calls keystore's own list, count, lookup and purge on the
// seeded database and times each. Purge runs last: it deletes rows.
func timeQueries(ctx context.Context, path string, s seeded) ([]queryTiming, error) {
	st, err := keystore.Open(ctx, path, keystore.Options{})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	var out []queryTiming
	timed := func(name, detail string, fn func() (int, error)) error {
		t0 := time.Now()
		n, err := fn()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, queryTiming{Name: name, Ms: ms(time.Since(t0)), Rows: n, Detail: detail})
		return nil
	}
	steps := []struct {
		name, detail string
		fn           func() (int, error)
	}{
		{"ListInvites pending, first 100", "invite list / GET /api/v1/invites", func() (int, error) {
			l, err := st.ListInvites(ctx, keystore.ListOptions{Limit: 100})
			return len(l), err
		}},
		{"ListInvites pending, 100 after the middle", "paging with after=ID", func() (int, error) {
			l, err := st.ListInvites(ctx, keystore.ListOptions{After: s.middleID, Limit: 100})
			return len(l), err
		}},
		{"ListInvites all, 100 after the middle", "invite list --all", func() (int, error) {
			l, err := st.ListInvites(ctx, keystore.ListOptions{All: true, After: s.middleID, Limit: 100})
			return len(l), err
		}},
		{"CountInvites, one creator, last 24 h", "invite counts", func() (int, error) {
			return st.CountInvites(ctx, s.creator, time.Now().Add(-24*time.Hour))
		}},
		{"InviteByToken", "landing page lookup", func() (int, error) {
			_, err := st.InviteByToken(ctx, s.token)
			return 1, err
		}},
		{"Purge, one day of finished invites", "hourly background purge", func() (int, error) {
			return st.Purge(ctx, s.Oldest.Add(24*time.Hour))
		}},
	}
	for _, step := range steps {
		if err := timed(step.name, step.detail, step.fn); err != nil {
			return out, err
		}
	}
	return out, nil
}

// plan is the EXPLAIN QUERY PLAN of one keystore statement.
type plan struct {
	Name    string   `json:"name"`
	SQL     string   `json:"sql"`
	Lines   []string `json:"plan"`
	Indexed bool     `json:"indexed"`
	Note    string   `json:"note,omitempty"`
}

// keystoreQueries are the list, count, lookup and purge statements of
// keystore/invites.go, copied verbatim (they are unexported there): keep
// them in step with that file. rowidOrderOK marks queries for which a walk
// of the integer primary key in order, stopped by LIMIT, is the intended
// plan.
var keystoreQueries = []struct {
	name, sql    string
	args         func(s seeded) []any
	rowidOrderOK bool
}{
	{"list pending (ListInvites)",
		`SELECT seq, id, type, username, creator, note, allow_register, created_at, expires_at, max_uses, uses, revoked_at FROM invites WHERE 1 AND revoked_at IS NULL AND uses < max_uses AND expires_at > ? ORDER BY seq LIMIT ?`,
		func(seeded) []any { return []any{time.Now().Unix(), 100} }, true},
	{"list pending after ID (ListInvites)",
		`SELECT seq, id, type, username, creator, note, allow_register, created_at, expires_at, max_uses, uses, revoked_at FROM invites WHERE 1 AND revoked_at IS NULL AND uses < max_uses AND expires_at > ? AND seq > coalesce((SELECT seq FROM invites WHERE id = ?), -1) ORDER BY seq LIMIT ?`,
		func(s seeded) []any { return []any{time.Now().Unix(), s.middleID, 100} }, true},
	{"list all after ID (ListInvites --all)",
		`SELECT seq, id, type, username, creator, note, allow_register, created_at, expires_at, max_uses, uses, revoked_at FROM invites WHERE 1 AND seq > coalesce((SELECT seq FROM invites WHERE id = ?), -1) ORDER BY seq LIMIT ?`,
		func(s seeded) []any { return []any{s.middleID, 100} }, true},
	{"count (CountInvites)",
		`SELECT count(*) FROM invites WHERE creator = ? AND created_at > ?`,
		func(s seeded) []any { return []any{s.creator, time.Now().Add(-24 * time.Hour).Unix()} }, false},
	{"quota check (CreateInvite's limit: the N-th newest invite in the window)",
		`SELECT created_at FROM invites WHERE creator = ? AND created_at > ? ORDER BY created_at DESC LIMIT 1 OFFSET ?`,
		func(s seeded) []any { return []any{s.creator, time.Now().Add(-24 * time.Hour).Unix(), 9} }, false},
	{"lookup by token: the ID derived from its hash (GetInvite, landing page)",
		`SELECT seq, id, type, username, creator, note, allow_register, created_at, expires_at, max_uses, uses, revoked_at, token_hash FROM invites WHERE id = ?`,
		func(s seeded) []any { return []any{s.middleID} }, false},
	{"lookup by token: invites from before schema version 3 (GetInvite)",
		`SELECT seq, id, type, username, creator, note, allow_register, created_at, expires_at, max_uses, uses, revoked_at, token_hash FROM invites WHERE seq = (SELECT invite_seq FROM legacy_tokens WHERE token_hash = ?)`,
		func(seeded) []any { return []any{make([]byte, 32)} }, false},
	{"purge invites (Purge)",
		`DELETE FROM invites WHERE seq IN (SELECT seq FROM invites WHERE done_at < ?1 OR expires_at < ?1 LIMIT ?2)`,
		func(s seeded) []any { return []any{s.Oldest.Unix(), 500} }, false},
	{"purge's cascade to uses (ON DELETE CASCADE, per deleted invite)",
		`DELETE FROM uses WHERE invite_seq = ?`,
		func(seeded) []any { return []any{1} }, false},
	{"purge stale reservations (Purge)",
		`DELETE FROM uses WHERE used_at IS NULL AND reserved_at < ?`,
		func(s seeded) []any { return []any{time.Now().Add(-2 * time.Minute).Unix()} }, false},
}

// explain runs EXPLAIN QUERY PLAN for each keystore statement against the
// database at path (read-only) and judges whether it is indexed: no line
// may scan a table, except the primary-key walk of the LIMITed lists.
func explain(ctx context.Context, path string, s seeded) ([]plan, error) {
	db, err := sql.Open("sqlite3", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro&_busy_timeout=10000")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var out []plan
	for _, q := range keystoreQueries {
		rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q.sql, q.args(s)...)
		if err != nil {
			return out, fmt.Errorf("explain %s: %w", q.name, err)
		}
		p := plan{Name: q.name, SQL: q.sql, Indexed: true}
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				rows.Close()
				return out, fmt.Errorf("explain %s: %w", q.name, err)
			}
			p.Lines = append(p.Lines, detail)
			if strings.HasPrefix(detail, "SCAN ") && !strings.Contains(detail, " USING ") {
				if q.rowidOrderOK && strings.HasPrefix(detail, "SCAN invites") {
					p.Note = "walks the primary key in seq order and stops after LIMIT rows that match"
					continue
				}
				p.Indexed = false
				p.Note = "full table scan: " + detail
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return out, fmt.Errorf("explain %s: %w", q.name, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// countInvites counts the invites in an xmpp-invites database (read-only,
// beside the running server: WAL allows it).
func countInvites(ctx context.Context, path string) (int, error) {
	db, err := sql.Open("sqlite3", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro&_busy_timeout=10000")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM invites`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count invites: %w", err)
	}
	return n, nil
}
