package keystore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"time"
)

// FormKey is a key that signs forms (their CSRF tokens). Form keys live in
// the database (schema 103), so that every instance on one database signs
// and checks with the same keys: a form rendered by one instance may be
// posted to another.
type FormKey struct {
	ID      int64
	Secret  []byte // 32 random bytes
	Created time.Time
}

// FormKeys returns the form keys, newest first. When there is none, or the
// newest is rotate old or older, it adds a new one first; and it deletes
// the keys that are older than the newest key made retire ago or earlier
// (a key made then has had the time to replace them). The caller decides
// which key signs (see the pages' keyring): the keys of other instances
// are checked too.
func (s *Store) FormKeys(ctx context.Context, rotate, retire time.Duration) (_ []FormKey, err error) {
	defer s.classifyRead(&err)
	now := s.now()
	keys, err := readFormKeys(ctx, s.r)
	if err != nil {
		return nil, err
	}
	if !formKeysDue(keys, now, rotate, retire) {
		return keys, nil
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		// Again under the transaction: another instance may have rotated.
		keys, err = readFormKeys(ctx, tx)
		if err != nil {
			return err
		}
		if len(keys) == 0 || now.Sub(keys[0].Created) >= rotate {
			secret := make([]byte, 32)
			rand.Read(secret)
			k := FormKey{Secret: secret, Created: time.Unix(unix(now), 0).UTC()}
			if err := tx.QueryRowContext(ctx, `INSERT INTO form_keys (secret, created_at) VALUES (?, ?) RETURNING id`,
				secret, unix(now)).Scan(&k.ID); err != nil {
				return err
			}
			keys = append([]FormKey{k}, keys...)
		}
		if cut, ok := formKeysCutoff(keys, now, retire); ok {
			if _, err := tx.ExecContext(ctx, `DELETE FROM form_keys WHERE created_at < ?`, unix(cut)); err != nil {
				return err
			}
			for len(keys) > 0 && keys[len(keys)-1].Created.Before(cut) {
				keys = keys[:len(keys)-1]
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("form keys: %w", err)
	}
	return keys, nil
}

// formKeysDue reports whether keys need a new key or a deletion.
func formKeysDue(keys []FormKey, now time.Time, rotate, retire time.Duration) bool {
	if len(keys) == 0 || now.Sub(keys[0].Created) >= rotate {
		return true
	}
	cut, ok := formKeysCutoff(keys, now, retire)
	return ok && keys[len(keys)-1].Created.Before(cut)
}

// formKeysCutoff returns the creation time of the newest key made retire
// ago or earlier: keys older than it are no longer needed.
func formKeysCutoff(keys []FormKey, now time.Time, retire time.Duration) (time.Time, bool) {
	for _, k := range keys {
		if now.Sub(k.Created) >= retire {
			return k.Created, true
		}
	}
	return time.Time{}, false
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func readFormKeys(ctx context.Context, q querier) ([]FormKey, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, secret, created_at FROM form_keys ORDER BY created_at DESC, id DESC`)
	if err != nil {
		return nil, fmt.Errorf("form keys: %w", err)
	}
	defer rows.Close()
	var keys []FormKey
	for rows.Next() {
		var k FormKey
		var created int64
		if err := rows.Scan(&k.ID, &k.Secret, &created); err != nil {
			return nil, fmt.Errorf("form keys: %w", err)
		}
		k.Created = time.Unix(created, 0).UTC()
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("form keys: %w", err)
	}
	return keys, nil
}
