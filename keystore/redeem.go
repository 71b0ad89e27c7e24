package keystore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Reservation holds one use of an invite while an account is being created.
// It must end in ConfirmUse or ReleaseUse; if neither comes, it lapses after
// ReservationTTL.
type Reservation struct {
	ID     int64
	Invite Invite
}

// ReserveUse reserves one use of the invite with this token. Exactly as many
// reservations succeed as the invite has uses left, however many callers race:
// the reservation is one guarded INSERT. Errors: ErrNotFound, ErrRevoked,
// ErrUsedUp, ErrExpired, or ErrInUse when the remaining uses are all reserved
// by redemptions still in progress.
func (s *Store) ReserveUse(ctx context.Context, token string) (Reservation, error) {
	if len(token) != TokenLen {
		return Reservation{}, fmt.Errorf("reserve: %w", ErrNotFound)
	}
	now := s.now()
	var r Reservation
	err := s.write(ctx, func(tx *sql.Tx) error {
		// Read and reserve in the same write transaction: nothing changes
		// the invite in between.
		inv, err := inviteByToken(txTokenQueries(ctx, tx), token)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO uses (invite_seq, reserved_at)
			SELECT seq, ?1 FROM invites i
			WHERE seq = ?2 AND revoked_at IS NULL AND expires_at > ?1
			  AND uses + (SELECT count(*) FROM uses u
			              WHERE u.invite_seq = i.seq AND u.used_at IS NULL AND u.reserved_at > ?3) < max_uses`,
			unix(now), inv.seq, unix(now.Add(-ReservationTTL)))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			if err := inv.Err(now); err != nil {
				return err
			}
			return ErrInUse
		}
		r.Invite = inv
		r.ID, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return Reservation{}, fmt.Errorf("reserve: %w", err)
	}
	return r, nil
}

// ConfirmUse turns a reservation into a use by jid and counts it.
func (s *Store) ConfirmUse(ctx context.Context, r Reservation, jid string) error {
	now := unix(s.now())
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE uses SET used_at = ?, jid = ? WHERE id = ? AND used_at IS NULL`, now, jid, r.ID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNotFound
		}
		_, err = tx.ExecContext(ctx, `UPDATE invites SET uses = uses + 1,
			done_at = CASE WHEN uses + 1 >= max_uses THEN ?1 ELSE done_at END WHERE seq = ?2`, now, r.Invite.seq)
		return err
	})
	if err != nil {
		return fmt.Errorf("confirm use: %w", err)
	}
	return nil
}

// ReleaseUse gives a reserved use back, untouched.
func (s *Store) ReleaseUse(ctx context.Context, r Reservation) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM uses WHERE id = ? AND used_at IS NULL`, r.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("release use: %w", err)
	}
	return nil
}
