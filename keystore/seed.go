package keystore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// SeedInvite is an invite as a database holds it after a while: created at
// a given time, perhaps used or revoked since.
type SeedInvite struct {
	InviteParams           // Limit is not checked
	Created      time.Time // when it was created
	Revoked      time.Time // zero: not revoked
	Uses         []Use     // its confirmed uses, at most MaxUses
}

// Seed stores invites in one transaction and returns them with their
// tokens, in order. It is for tools that need a database of a given size
// and history, such as cmd/invites-bench: where CreateInvite stores one
// invite now, Seed takes the times and states as given, and checks neither
// a creator's limit nor that its key exists.
func (s *Store) Seed(ctx context.Context, seeds []SeedInvite) ([]Invite, []string, error) {
	for i, p := range seeds {
		switch {
		case !p.Type.Valid():
			return nil, nil, fmt.Errorf("seed invite %d: unknown type %q", i, p.Type)
		case p.MaxUses < 1 || len(p.Uses) > p.MaxUses:
			return nil, nil, fmt.Errorf("seed invite %d: %d uses of %d", i, len(p.Uses), p.MaxUses)
		case p.Creator == "":
			return nil, nil, fmt.Errorf("seed invite %d: creator is required", i)
		}
	}
	invs := make([]Invite, len(seeds))
	tokens := make([]string, len(seeds))
	err := s.write(ctx, func(tx *sql.Tx) error {
		insert := tx.StmtContext(ctx, s.insertInvite)
		for i, p := range seeds {
			inv := Invite{Type: p.Type, Username: p.Username, Creator: p.Creator, Note: p.Note,
				AllowRegister: p.AllowRegister, Created: p.Created.UTC().Truncate(time.Second),
				Expires: p.Expires.UTC().Truncate(time.Second), MaxUses: p.MaxUses, Uses: len(p.Uses)}
			for attempt := 0; ; attempt++ {
				token, tokenHash := newInviteToken()
				inv.ID = inviteID(tokenHash)
				err := insert.QueryRowContext(ctx, inv.ID, tokenHash, string(inv.Type), inv.Username, inv.Creator,
					inv.Note, inv.AllowRegister, unix(inv.Created), unix(inv.Expires), inv.MaxUses, "", "", s.domain).Scan(&inv.seq)
				if err == nil {
					tokens[i] = token
				}
				if err == nil || !isUnique(err) || attempt == 3 {
					if err != nil {
						return fmt.Errorf("invite %d: %w", i, err)
					}
					break
				}
				// Two hashes that share their first 48 bits: draw again.
			}
			if err := seedState(ctx, tx, &inv, p); err != nil {
				return fmt.Errorf("invite %d: %w", i, err)
			}
			invs[i] = inv
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("seed: %w", err)
	}
	return invs, tokens, nil
}

// seedState records p's uses and revocation on the stored invite inv.
func seedState(ctx context.Context, tx *sql.Tx, inv *Invite, p SeedInvite) error {
	var done, revoked sql.NullInt64
	for _, u := range p.Uses {
		if _, err := tx.ExecContext(ctx, `INSERT INTO uses (invite_seq, jid, reserved_at, used_at) VALUES (?, ?, ?, ?)`,
			inv.seq, u.JID, unix(u.Time), unix(u.Time)); err != nil {
			return err
		}
		if len(p.Uses) == p.MaxUses {
			done = sql.NullInt64{Int64: unix(u.Time), Valid: true}
		}
	}
	if !p.Revoked.IsZero() {
		inv.Revoked = p.Revoked.UTC().Truncate(time.Second)
		revoked = sql.NullInt64{Int64: unix(inv.Revoked), Valid: true}
		done = revoked
	}
	if len(p.Uses) == 0 && !revoked.Valid {
		return nil
	}
	_, err := tx.ExecContext(ctx, `UPDATE invites SET uses = ?, revoked_at = ?, done_at = ? WHERE seq = ?`,
		len(p.Uses), revoked, done, inv.seq)
	return err
}

// QueryPlan is SQLite's plan for one of the store's statements.
type QueryPlan struct {
	Name string
	SQL  string
	Plan []string // the detail lines of EXPLAIN QUERY PLAN
	// KeyWalk marks a list that walks the primary key in order and stops
	// after LIMIT matching rows: its SCAN is the intended plan.
	KeyWalk bool
}

// QueryPlans explains the store's statements that select rows by a
// condition: lists, counts, lookups, the purge and the claim of lapsed
// reservations. A tool can check on a database of real size that they use
// indexes (the store never runs ANALYZE, so these are the plans it gets).
func (s *Store) QueryPlans(ctx context.Context) ([]QueryPlan, error) {
	now := s.now()
	since := unix(now.Add(-24 * time.Hour))
	type stmt struct {
		name, sql string
		args      []any
		keyWalk   bool
	}
	list := func(name string, o ListOptions) stmt {
		q, args := listQuery(o, s.domain, now)
		return stmt{name, q, args, true}
	}
	accounts := func(name string, o AccountOptions) stmt {
		q, args := accountsQuery(o, s.domain)
		return stmt{name, q, args, false}
	}
	auditPage, auditArgs := auditQuery(s.domain, 100, 50)
	stmts := []stmt{
		list("list pending (ListInvites)", ListOptions{Limit: 100}),
		list("list pending after an ID (ListInvites)", ListOptions{After: "AAAAAAAA", Limit: 100}),
		list("list all after an ID (ListInvites, --all)", ListOptions{All: true, After: "AAAAAAAA", Limit: 100}),
		{"count (CountInvites)", countInvitesSQL, []any{"cli", s.domain, since}, false},
		{"creator's limit (CreateInvite)", limitOldestSQL, []any{"cli", s.domain, since, 9}, false},
		{"lookup by token (InviteByToken, landing page)", inviteByIDSQL, []any{"AAAAAAAA", s.domain}, false},
		{"purge (Purge)", purgeSQL, []any{unix(now), purgeChunk, s.domain}, false},
		{"claim lapsed reservations (ClaimExpired)", claimSQL, []any{"x", unix(now), unix(now), 100, s.domain}, false},
		list("a creator's invites, newest first (portal)", ListOptions{Creator: "xmpp:a@example.com", All: true, Newest: true, Limit: 50}),
		list("invites of a state and type, older page (portal)", ListOptions{State: StateUsed, Type: TypeAccount, Before: "AAAAAAAA", Limit: 50}),
		{"address's sign-in limit (CreateSignIn)", signInLimitSQL, []any{"a@example.com", s.domain, since, 4}, false},
		{"sign-in link lookup (SignIn, UseSignIn)", signInByHashSQL, []any{hash("x"), s.domain}, false},
		{"session lookup (Session)", sessionByHashSQL, []any{hash("x"), s.domain}, false},
		{"an account's sessions (DeleteSessions, reset)", `DELETE FROM sessions WHERE jid = ? AND domain = ?`, []any{"a@example.com", s.domain}, false},
		accounts("accounts by inviter (Accounts)", AccountOptions{Inviter: "cli", Before: 100, Limit: 50}),
		accounts("older accounts (Accounts)", AccountOptions{Before: 100, Limit: 50}),
		{"older audit entries (AuditLog)", auditPage, auditArgs, false},
		{"purge sign-in links (Purge)", purgeSignInsSQL, []any{since, purgeChunk}, false},
		{"purge sessions (Purge)", purgeSessionsSQL, []any{unix(now), purgeChunk}, false},
	}
	out := make([]QueryPlan, 0, len(stmts))
	for _, st := range stmts {
		p := QueryPlan{Name: st.name, SQL: st.sql, KeyWalk: st.keyWalk}
		rows, err := s.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+st.sql, st.args...)
		if err != nil {
			return out, fmt.Errorf("explain %s: %w", st.name, err)
		}
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				rows.Close()
				return out, fmt.Errorf("explain %s: %w", st.name, err)
			}
			p.Plan = append(p.Plan, detail)
		}
		err = errors.Join(rows.Err(), rows.Close())
		if err != nil {
			return out, fmt.Errorf("explain %s: %w", st.name, err)
		}
		out = append(out, p)
	}
	return out, nil
}
