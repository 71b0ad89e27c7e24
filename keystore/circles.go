package keystore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"
)

// Circles (schema 102): named sets of accounts whose members are each
// other's contacts. The store keeps the names and the members; making them
// contacts is the caller's (docs/presets.md).

// Bounds of presets.
const (
	// MaxRooms bounds the group chats of one invite.
	MaxRooms = 10
	// MaxCircleName bounds a circle's name, in bytes.
	MaxCircleName = 64
)

// Circle is a circle and how many members it has.
type Circle struct {
	Name    string
	Created time.Time
	Members int
}

// CircleMember is one member of a circle.
type CircleMember struct {
	JID   string
	Added time.Time
}

// CheckCircleName checks a circle's name: 1 to MaxCircleName bytes of
// letters, digits, '-', '_' and '.', starting with a letter or digit, so
// that it reads the same in a URL path, a command line and a page. Names
// are compared exactly ("Family" and "family" are two circles).
func CheckCircleName(name string) error {
	if name == "" || len(name) > MaxCircleName || !utf8.ValidString(name) {
		return fmt.Errorf("circle name must be 1 to %d bytes", MaxCircleName)
	}
	for i, r := range name {
		ok := unicode.IsLetter(r) || unicode.IsDigit(r) || (i > 0 && (r == '-' || r == '_' || r == '.'))
		if !ok {
			return fmt.Errorf("circle name %q: only letters, digits, '-', '_' and '.' (not first) are allowed", name)
		}
	}
	return nil
}

// CreateCircle creates an empty circle. ErrExists when the name is taken.
func (s *Store) CreateCircle(ctx context.Context, name string) (Circle, error) {
	if err := CheckCircleName(name); err != nil {
		return Circle{}, fmt.Errorf("create circle: %w", err)
	}
	now := s.now().UTC().Truncate(time.Second)
	err := s.writeSingle(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO circles (domain, name, created_at) VALUES (?, ?, ?)`, s.domain, name, unix(now))
		if isUnique(err) {
			return ErrExists
		}
		return err
	})
	if err != nil {
		return Circle{}, fmt.Errorf("create circle %s: %w", name, err)
	}
	return Circle{Name: name, Created: now}, nil
}

// DeleteCircle deletes a circle and its list of members (the members stay
// each other's contacts). ErrNotFound when there is none.
func (s *Store) DeleteCircle(ctx context.Context, name string) error {
	return s.deleteOne(ctx, "delete circle "+name, `DELETE FROM circles WHERE domain = ? AND name = ?`, s.domain, name)
}

// circleSQL reads circles of the domain ?1.
const circleSQL = `SELECT c.name, c.created_at, (SELECT count(*) FROM circle_members m WHERE m.domain = c.domain AND m.circle = c.name)
	FROM circles c WHERE c.domain = ?1`

func scanCircle(row interface{ Scan(...any) error }) (Circle, error) {
	var c Circle
	var created int64
	if err := row.Scan(&c.Name, &created, &c.Members); err != nil {
		return Circle{}, err
	}
	c.Created = time.Unix(created, 0).UTC()
	return c, nil
}

// Circles returns every circle, by name.
func (s *Store) Circles(ctx context.Context) (_ []Circle, err error) {
	defer s.classifyRead(&err)
	rows, err := s.r.QueryContext(ctx, circleSQL+` ORDER BY c.name`, s.domain)
	if err != nil {
		return nil, fmt.Errorf("list circles: %w", err)
	}
	defer rows.Close()
	out := []Circle{}
	for rows.Next() {
		c, err := scanCircle(rows)
		if err != nil {
			return nil, fmt.Errorf("list circles: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list circles: %w", err)
	}
	return out, nil
}

// GetCircle returns a circle. ErrNotFound when there is none.
func (s *Store) GetCircle(ctx context.Context, name string) (_ Circle, err error) {
	defer s.classifyRead(&err)
	c, err := scanCircle(s.r.QueryRowContext(ctx, circleSQL+` AND c.name = ?2`, s.domain, name))
	if errors.Is(err, sql.ErrNoRows) {
		return Circle{}, fmt.Errorf("circle %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return Circle{}, fmt.Errorf("get circle: %w", err)
	}
	return c, nil
}

// CircleMembers returns a circle's members in the order they joined.
// ErrNotFound when there is no such circle.
func (s *Store) CircleMembers(ctx context.Context, name string) (_ []CircleMember, err error) {
	defer s.classifyRead(&err)
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("list circle members: %w", err)
	}
	defer tx.Rollback()
	var one int
	if err := tx.QueryRowContext(ctx, `SELECT 1 FROM circles WHERE domain = ? AND name = ?`, s.domain, name).Scan(&one); errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("circle %s: %w", name, ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("list circle members: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT jid, added_at FROM circle_members WHERE domain = ? AND circle = ? ORDER BY added_at, rowid`, s.domain, name)
	if err != nil {
		return nil, fmt.Errorf("list circle members: %w", err)
	}
	defer rows.Close()
	out := []CircleMember{}
	for rows.Next() {
		var m CircleMember
		var added int64
		if err := rows.Scan(&m.JID, &added); err != nil {
			return nil, fmt.Errorf("list circle members: %w", err)
		}
		m.Added = time.Unix(added, 0).UTC()
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list circle members: %w", err)
	}
	return out, nil
}

// AddCircleMember adds jid (a bare JID) to a circle. max > 0 caps the
// circle's size: a circle with max members refuses with ErrLimit, counted
// in the same transaction as the insert. ErrNotFound: no such circle;
// ErrExists: jid is a member already.
func (s *Store) AddCircleMember(ctx context.Context, name, jid string, max int) error {
	if err := checkJID(jid); err != nil {
		return fmt.Errorf("add to circle: %w", err)
	}
	now := unix(s.now())
	err := s.write(ctx, func(tx *sql.Tx) error {
		var n int
		err := tx.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM circle_members m WHERE m.domain = c.domain AND m.circle = c.name) FROM circles c
			WHERE c.domain = ? AND c.name = ?`, s.domain, name).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if max > 0 && n >= max {
			var one int
			if err := tx.QueryRowContext(ctx, `SELECT 1 FROM circle_members WHERE domain = ? AND circle = ? AND jid = ?`, s.domain, name, jid).Scan(&one); err == nil {
				return ErrExists
			}
			return ErrLimit
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO circle_members (domain, circle, jid, added_at) VALUES (?, ?, ?, ?)`, s.domain, name, jid, now)
		if isUnique(err) {
			return ErrExists
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("add %s to circle %s: %w", jid, name, err)
	}
	return nil
}

// RemoveCircleMember removes jid from a circle (it stays a contact of the
// others). ErrNotFound when it is not a member, or there is no circle.
func (s *Store) RemoveCircleMember(ctx context.Context, name, jid string) error {
	return s.deleteOne(ctx, "remove "+jid+" from circle "+name, `DELETE FROM circle_members WHERE domain = ? AND circle = ? AND jid = ?`, s.domain, name, jid)
}
