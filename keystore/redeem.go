package keystore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// Reservation holds one use of an invite while an account is being created
// (or a password changed) for JID. It ends in ConfirmUse or ReleaseUse,
// never by itself: until then the use stays taken, and so does the account
// name. Its owner renews the lease while it works on it; once the lease has
// run out, any instance may claim it and find out what happened.
type Reservation struct {
	ID     int64
	Invite Invite
	JID    string // the account the use is for
	Owner  string
}

// Hold says who reserves a use, and for which account.
type Hold struct {
	JID   string        // the account, user@domain; required
	Owner string        // the instance that will resolve the reservation
	Lease time.Duration // how long the reservation is the owner's alone
}

// ReserveUse reserves one use of the invite with this token for h.JID.
// Exactly as many reservations succeed as the invite has uses left, however
// many callers race: the reservation is one guarded INSERT, and every
// unresolved reservation counts, whatever its age. Errors: ErrNotFound,
// ErrRevoked, ErrUsedUp, ErrExpired, ErrInUse when the remaining uses are
// all reserved, or ErrAccountHeld when another unresolved reservation is for
// the same account.
func (s *Store) ReserveUse(ctx context.Context, token string, h Hold) (Reservation, error) {
	if len(token) != TokenLen {
		return Reservation{}, fmt.Errorf("reserve: %w", ErrNotFound)
	}
	if h.JID == "" || h.Owner == "" || h.Lease <= 0 {
		return Reservation{}, errors.New("reserve: account, owner and lease are required")
	}
	now := s.now()
	r := Reservation{JID: h.JID, Owner: h.Owner}
	err := s.write(ctx, func(tx *sql.Tx) error {
		// Read and reserve in the same write transaction: nothing changes
		// the invite in between.
		inv, err := inviteByToken(txByID(ctx, tx, s.domain), token)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		err = tx.QueryRowContext(ctx, `INSERT INTO uses (invite_seq, jid, reserved_at, owner, lease_until)
			SELECT seq, CAST(?3 AS TEXT), CAST(?1 AS BIGINT), CAST(?4 AS TEXT), CAST(?5 AS BIGINT) FROM invites i
			WHERE seq = ?2 AND revoked_at IS NULL AND expires_at > ?1
			  AND uses + (SELECT count(*) FROM uses u
			              WHERE u.invite_seq = i.seq AND u.used_at IS NULL) < max_uses
			RETURNING id`,
			unix(now), inv.seq, h.JID, h.Owner, unix(now.Add(h.Lease))).Scan(&r.ID)
		if isUniqueViolation(err) {
			return ErrAccountHeld
		}
		if errors.Is(err, sql.ErrNoRows) {
			if err := inv.Err(now); err != nil {
				return err
			}
			return ErrInUse
		}
		if err != nil {
			return err
		}
		r.Invite = inv
		return nil
	})
	if err != nil {
		return Reservation{}, fmt.Errorf("reserve: %w", err)
	}
	return r, nil
}

func isUniqueViolation(err error) bool {
	if pgUnique(err) {
		return true
	}
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintUnique
}

// ConfirmUse turns a reservation into a use by its account and counts it.
// In the same transaction, a use of an account or contact invite records
// the account it made (see Account), and a use of a reset invite ends
// every session of the account: whoever had its old password may have
// signed in. ErrNotFound when the reservation was already resolved.
func (s *Store) ConfirmUse(ctx context.Context, r Reservation) error {
	now := unix(s.now())
	err := s.write(ctx, func(tx *sql.Tx) error {
		var seq int64
		var jid string
		err := tx.QueryRowContext(ctx, `UPDATE uses SET used_at = ? WHERE id = ? AND used_at IS NULL RETURNING invite_seq, jid`,
			now, r.ID).Scan(&seq, &jid)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		var typ string
		err = tx.QueryRowContext(ctx, `UPDATE invites SET uses = uses + 1,
			done_at = CASE WHEN uses + 1 >= max_uses THEN ?1 ELSE done_at END WHERE seq = ?2 RETURNING type`, now, seq).Scan(&typ)
		if err != nil {
			return err
		}
		if Type(typ) == TypeReset {
			_, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE jid = ? AND domain = (SELECT domain FROM invites WHERE seq = ?)`, jid, seq)
		} else {
			q := recordAccountSQL
			if s.pg {
				q = pgRecordAccountSQL
			}
			_, err = tx.ExecContext(ctx, q, jid, now, seq)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("confirm use: %w", err)
	}
	return nil
}

// ReleaseUse gives a reserved use back, untouched. Releasing a reservation
// that was already resolved does nothing.
func (s *Store) ReleaseUse(ctx context.Context, r Reservation) error {
	err := s.writeSingle(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM uses WHERE id = ? AND used_at IS NULL`, r.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("release use: %w", err)
	}
	return nil
}

// RenewLeases extends the leases of the owner's reservations among ids to
// until. Reservations already resolved, or claimed by another instance
// after the lease ran out, are left alone.
func (s *Store) RenewLeases(ctx context.Context, owner string, ids []int64, until time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `UPDATE uses SET lease_until = ? WHERE id = ? AND owner = ? AND used_at IS NULL`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, id := range ids {
			if _, err := st.ExecContext(ctx, unix(until), id, owner); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("renew leases: %w", err)
	}
	return nil
}

// claimSQL makes ?1 the owner, until ?2, of up to ?4 unresolved
// reservations of invites of domain ?5 whose lease ended by ?3.
const claimSQL = `UPDATE uses SET owner = ?1, lease_until = ?2
	WHERE id IN (SELECT u.id FROM uses u JOIN invites i ON i.seq = u.invite_seq
		WHERE u.used_at IS NULL AND u.lease_until <= ?3 AND i.domain = ?5 ORDER BY u.lease_until LIMIT ?4)
	RETURNING id, invite_seq, jid`

// ClaimExpired makes owner the owner of every unresolved reservation of
// the Store's domain (only its server can tell whether the account was
// made) whose
// lease has run out (its owner stopped, or lost track of it), with a new
// lease, and returns them. At most limit are claimed at a time.
func (s *Store) ClaimExpired(ctx context.Context, owner string, lease time.Duration, limit int) ([]Reservation, error) {
	now := s.now()
	var out []Reservation
	err := s.write(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, claimSQL, owner, unix(now.Add(lease)), unix(now), limit, s.domain)
		if err != nil {
			return err
		}
		defer rows.Close()
		var seqs []int64
		for rows.Next() {
			var r Reservation
			var seq int64
			if err := rows.Scan(&r.ID, &seq, &r.JID); err != nil {
				return err
			}
			r.Owner = owner
			out = append(out, r)
			seqs = append(seqs, seq)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		for i, seq := range seqs {
			inv, err := scanInvite(tx.QueryRowContext(ctx, `SELECT `+inviteColumns+` FROM invites WHERE seq = ?`, seq))
			if err != nil {
				return err
			}
			out[i].Invite = inv
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim reservations: %w", err)
	}
	return out, nil
}

// Held describes the unresolved reservations of one invite.
type Held struct {
	Count int       // unresolved reservations
	Until time.Time // the latest lease among them; zero when Count is 0
	// Pending is the reservation for the account asked about, if any.
	Pending *Reservation
}

// HeldUses reports the unresolved reservations of the invite with this
// token, and whether one of them is for jid (empty: none asked about).
func (s *Store) HeldUses(ctx context.Context, token, jid string) (_ Held, err error) {
	defer s.classifyRead(&err)
	var h Held
	inv, err := s.InviteByToken(ctx, token)
	if err != nil {
		return h, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, jid, owner, lease_until FROM uses
		WHERE invite_seq = ? AND used_at IS NULL`, inv.seq)
	if err != nil {
		return h, fmt.Errorf("held uses: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r Reservation
		var until int64
		if err := rows.Scan(&r.ID, &r.JID, &r.Owner, &until); err != nil {
			return h, fmt.Errorf("held uses: %w", err)
		}
		h.Count++
		if t := time.Unix(until, 0); t.After(h.Until) {
			h.Until = t
		}
		if jid != "" && r.JID == jid {
			r.Invite = inv
			h.Pending = &r
		}
	}
	if err := rows.Err(); err != nil {
		return h, fmt.Errorf("held uses: %w", err)
	}
	return h, nil
}
