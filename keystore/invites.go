package keystore

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Type is the kind of an invite.
type Type string

// Invite types.
const (
	TypeAccount Type = "account" // register a new account (optionally with a fixed username)
	TypeReset   Type = "reset"   // set a new password for an existing account
	TypeContact Type = "contact" // become a contact of the inviter (and register, with AllowRegister)
)

// Valid reports whether t is a known type.
func (t Type) Valid() bool { return t == TypeAccount || t == TypeReset || t == TypeContact }

// State is where an invite is in its life.
type State string

// Invite states.
const (
	StatePending State = "pending"
	StateUsed    State = "used"
	StateExpired State = "expired"
	StateRevoked State = "revoked"
)

// Invite is an invite record. The token is not part of it: only its hash is
// stored, and the token is shown once, at creation.
type Invite struct {
	ID            string
	Type          Type
	Username      string
	Creator       string // key:ID, xmpp:JID or cli
	Note          string
	AllowRegister bool // contact invites: may people without an account register (;ibr=y)
	Created       time.Time
	Expires       time.Time
	MaxUses       int
	Uses          int
	Revoked       time.Time // zero: not revoked
	// Rooms are bare JIDs of group chats (MUC rooms) the account made
	// with the invite is invited to; Circle is the circle it joins ("":
	// none). See docs/presets.md.
	Rooms  []string
	Circle string

	seq int64
}

// Never is the expiry of an invite that does not expire
// (allow_never_expiring): the last second of year 9999, so that every
// comparison with a time keeps working.
var Never = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// NeverExpires reports whether the invite does not expire.
func (i Invite) NeverExpires() bool { return !i.Expires.Before(Never) }

// State reports the invite's state at time now.
func (i Invite) State(now time.Time) State {
	switch {
	case !i.Revoked.IsZero():
		return StateRevoked
	case i.Uses >= i.MaxUses:
		return StateUsed
	case !now.Before(i.Expires):
		return StateExpired
	}
	return StatePending
}

// Err maps a state that forbids use onto its sentinel error, nil when pending.
func (i Invite) Err(now time.Time) error {
	switch i.State(now) {
	case StateRevoked:
		return ErrRevoked
	case StateUsed:
		return ErrUsedUp
	case StateExpired:
		return ErrExpired
	}
	return nil
}

// Use is one redemption of an invite.
type Use struct {
	JID  string
	Time time.Time
}

// InviteParams are the fields of a new invite. Validation of their values
// against configuration is the caller's; the store checks its invariants.
type InviteParams struct {
	Type          Type
	Username      string
	Creator       string
	Note          string
	AllowRegister bool
	Expires       time.Time
	MaxUses       int
	Rooms         []string // bare JIDs, at most MaxRooms
	Circle        string   // a circle's name; "": none
	// Limit, when Max > 0, refuses the invite with ErrLimit if Creator has
	// already created Max invites since Limit.Since. Checked in the same
	// transaction as the insert, so concurrent requests cannot overshoot.
	Limit Limit
}

// Limit caps how many invites one creator may create in a window.
type Limit struct {
	Max   int
	Since time.Time
}

// LimitError is CreateInvite's error when the creator's Limit is reached;
// errors.Is(err, ErrLimit) holds. Oldest is when the oldest of the creator's
// last Limit.Max invites was created (whole seconds): once it leaves the
// window, the creator may create one again.
type LimitError struct {
	Oldest time.Time
}

func (e *LimitError) Error() string        { return ErrLimit.Error() }
func (e *LimitError) Is(target error) bool { return target == ErrLimit }

// Token and ID sizes: 18 random bytes give a 24-character token (144 bits);
// the first 6 bytes of the token's SHA-256 give the 8-character public ID.
const (
	tokenBytes    = 18
	inviteIDBytes = 6
	// TokenLen is the length of an invite token.
	TokenLen = 24
	// InviteIDLen is the length of an invite's public ID.
	InviteIDLen = 8
)

// CreateInvite stores a new invite and returns it with its token. It returns
// only after the invite has committed.
func (s *Store) CreateInvite(ctx context.Context, p InviteParams) (Invite, string, error) {
	if !p.Type.Valid() {
		return Invite{}, "", fmt.Errorf("create invite: unknown type %q", p.Type)
	}
	if p.MaxUses < 1 {
		return Invite{}, "", errors.New("create invite: max uses must be at least 1")
	}
	if p.Creator == "" {
		return Invite{}, "", errors.New("create invite: creator is required")
	}
	if len(p.Rooms) > MaxRooms {
		return Invite{}, "", fmt.Errorf("create invite: at most %d rooms", MaxRooms)
	}
	for _, r := range p.Rooms {
		if err := checkJID(r); err != nil {
			return Invite{}, "", fmt.Errorf("create invite: room: %w", err)
		}
	}
	if p.Circle != "" {
		if err := CheckCircleName(p.Circle); err != nil {
			return Invite{}, "", fmt.Errorf("create invite: %w", err)
		}
	}
	now := s.now().UTC().Truncate(time.Second)
	if !p.Expires.After(now) {
		return Invite{}, "", errors.New("create invite: expiry must be in the future")
	}
	inv := Invite{
		Type: p.Type, Username: p.Username, Creator: p.Creator, Note: p.Note,
		AllowRegister: p.AllowRegister, Created: now, Expires: p.Expires.UTC().Truncate(time.Second),
		MaxUses: p.MaxUses, Rooms: append([]string(nil), p.Rooms...), Circle: p.Circle,
	}
	// The token, its hash and the ID are made here, in the caller's
	// goroutine: the writer goroutine is the serial part of every write.
	token, tokenHash := newInviteToken()
	inv.ID = inviteID(tokenHash)
	// A key creator must still exist when its invite commits: a key deleted
	// from the CLI (another process) creates nothing from that moment on,
	// even for a caller that authenticated it from memory.
	keyID, byKey := strings.CutPrefix(p.Creator, "key:")
	keyGone := false
	err := s.writeSingle(ctx, func(tx *sql.Tx) error {
		// The op's context was checked before the transaction; statements
		// run without it, which spares a watcher goroutine per statement.
		bg := context.Background()
		if p.Limit.Max > 0 {
			// The creator's Max-th newest invite in the window, if there
			// is one, both reaches the limit and says when a slot frees.
			var oldest int64
			err := tx.StmtContext(bg, s.limitOldest).QueryRowContext(bg, p.Creator, s.domain, unix(p.Limit.Since), p.Limit.Max-1).Scan(&oldest)
			switch {
			case err == nil:
				return &LimitError{Oldest: time.Unix(oldest, 0).UTC()}
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
		}
		for attempt := 0; ; attempt++ {
			stmt, args := s.insertInvite, []any{inv.ID, tokenHash, string(inv.Type), inv.Username,
				inv.Creator, inv.Note, inv.AllowRegister, unix(now), unix(inv.Expires), inv.MaxUses,
				strings.Join(inv.Rooms, " "), inv.Circle, s.domain}
			if byKey {
				stmt, args = s.insertKeyInvite, append(args, keyID, s.domain)
			}
			err := tx.StmtContext(bg, stmt).QueryRowContext(bg, args...).Scan(&inv.seq)
			if byKey && errors.Is(err, sql.ErrNoRows) {
				keyGone = true
				return ErrUnauthorized
			}
			if err == nil {
				return nil
			}
			if !isUnique(err) || attempt == 3 {
				return err
			}
			// Two tokens whose hashes share 48 bits, or a derived ID equal
			// to the random ID of an invite from before version 3: draw
			// again (vanishingly rare, so done here).
			token, tokenHash = newInviteToken()
			inv.ID = inviteID(tokenHash)
		}
	})
	if keyGone {
		s.keys.forget(keyID)
	}
	if err != nil {
		return Invite{}, "", fmt.Errorf("create invite: %w", err)
	}
	return inv, token, nil
}

// newInviteToken draws a token and returns it with its SHA-256. The ID
// derived from the hash never starts with '-', like every ID and token, so
// that the CLI does not read it as a flag: a token whose ID would is drawn
// again (1 in 64).
func newInviteToken() (token string, tokenHash []byte) {
	for {
		token = randomString(tokenBytes)
		tokenHash = hash(token)
		if tokenHash[0]>>2 != 62 { // base64url's 62nd character is '-'
			return token, tokenHash
		}
	}
}

// inviteID is the public ID of the invite whose token has this hash (for
// invites created since schema version 3): base64url of the first 6 bytes.
// Knowing it tells nothing useful about the token: finding a token whose
// hash starts with these 48 bits takes 2^47 tries on average, and the
// result is almost surely not the invite's token (144 bits).
func inviteID(tokenHash []byte) string {
	return base64.RawURLEncoding.EncodeToString(tokenHash[:inviteIDBytes])
}

// Statements prepared once (see Store.prepare).
const (
	insertInviteSQL = `INSERT INTO invites
		(id, token_hash, type, username, creator, note, allow_register, created_at, expires_at, max_uses, rooms, circle, domain)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`
	// insertKeyInviteSQL inserts nothing when the key (the last two
	// parameters: its ID and domain) no longer exists in the invite's
	// domain. The casts tell PostgreSQL the types of values that reach
	// their columns through a SELECT.
	insertKeyInviteSQL = `INSERT INTO invites
		(id, token_hash, type, username, creator, note, allow_register, created_at, expires_at, max_uses, rooms, circle, domain)
		SELECT CAST(? AS TEXT), ?, CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT),
			CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT)
		WHERE EXISTS (SELECT 1 FROM keys WHERE id = ? AND domain = ?) RETURNING seq`
	countInvitesSQL = `SELECT count(*) FROM invites WHERE creator = ? AND domain = ? AND created_at > ?`
	// limitOldestSQL finds the creator's N-th newest invite of the domain
	// in the window (OFFSET N-1): there is one exactly when N invites are
	// in it.
	limitOldestSQL = `SELECT created_at FROM invites WHERE creator = ? AND domain = ? AND created_at > ?
		ORDER BY created_at DESC LIMIT 1 OFFSET ?`
	// inviteByIDSQL finds an invite of a domain (the second parameter) by
	// token, through the ID derived from the token's hash. It returns the
	// stored hash too, which the caller compares in constant time.
	inviteByIDSQL = `SELECT ` + inviteColumns + `, token_hash FROM invites WHERE id = ? AND domain = ?`
)

const inviteColumns = `seq, id, type, username, creator, note, allow_register, created_at, expires_at, max_uses, uses, revoked_at, rooms, circle`

func scanInvite(row interface{ Scan(...any) error }) (Invite, error) {
	return scanInviteExtra(row)
}

// scanInviteExtra scans inviteColumns followed by the columns of extra.
func scanInviteExtra(row interface{ Scan(...any) error }, extra ...any) (Invite, error) {
	var (
		inv              Invite
		typ              string
		created, expires int64
		revoked          sql.NullInt64
		rooms            string
	)
	dest := append([]any{&inv.seq, &inv.ID, &typ, &inv.Username, &inv.Creator, &inv.Note, &inv.AllowRegister,
		&created, &expires, &inv.MaxUses, &inv.Uses, &revoked, &rooms, &inv.Circle}, extra...)
	if err := row.Scan(dest...); err != nil {
		return Invite{}, err
	}
	inv.Type = Type(typ)
	inv.Created = time.Unix(created, 0).UTC()
	inv.Expires = time.Unix(expires, 0).UTC()
	inv.Revoked = fromUnix(revoked)
	if rooms != "" {
		inv.Rooms = strings.Split(rooms, " ")
	}
	return inv, nil
}

// byIDQuery runs inviteByIDSQL where an invite is looked up: the statement
// prepared on the readers, or inside a write transaction.
type byIDQuery func(id string) *sql.Row

// readerByID uses the statement prepared on the readers.
func (s *Store) readerByID(ctx context.Context) byIDQuery {
	return func(id string) *sql.Row { return s.inviteByID.QueryRowContext(ctx, id, s.domain) }
}

// txByID reads inside tx, in domain.
func txByID(ctx context.Context, tx *sql.Tx, domain string) byIDQuery {
	return func(id string) *sql.Row { return tx.QueryRowContext(ctx, inviteByIDSQL, id, domain) }
}

// inviteByToken finds the invite whose token is token. The stored hash is
// compared in constant time. It returns sql.ErrNoRows when no invite has
// this token.
func inviteByToken(byID byIDQuery, token string) (Invite, error) {
	h := hash(token)
	var stored []byte
	inv, err := scanInviteExtra(byID(inviteID(h)), &stored)
	if err != nil {
		return Invite{}, err
	}
	if subtle.ConstantTimeCompare(stored, h) != 1 {
		return Invite{}, sql.ErrNoRows
	}
	return inv, nil
}

// GetInvite returns an invite of the Store's domain by public ID or by
// token: an 8-character reference is an ID, anything else is a token. An
// invite of another domain is ErrNotFound.
func (s *Store) GetInvite(ctx context.Context, ref string) (_ Invite, err error) {
	defer s.classifyRead(&err)
	if ref == "" || len(ref) > 256 || !textual(ref) {
		return Invite{}, fmt.Errorf("invite: %w", ErrNotFound)
	}
	var inv Invite
	if len(ref) == InviteIDLen {
		inv, err = scanInvite(s.r.QueryRowContext(ctx, `SELECT `+inviteColumns+` FROM invites WHERE id = ? AND domain = ?`, ref, s.domain))
	} else {
		inv, err = inviteByToken(s.readerByID(ctx), ref)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return Invite{}, fmt.Errorf("invite: %w", ErrNotFound)
	}
	if err != nil {
		return Invite{}, fmt.Errorf("get invite: %w", err)
	}
	return inv, nil
}

// textual reports whether s may be a stored text: PostgreSQL's text holds
// neither NUL nor invalid UTF-8 (and refuses such a parameter with an
// error), so no record can match it, on either engine.
func textual(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// InviteByToken returns an invite by token only (never by ID): what a person
// holding a link may see.
func (s *Store) InviteByToken(ctx context.Context, token string) (Invite, error) {
	if len(token) != TokenLen {
		return Invite{}, fmt.Errorf("invite: %w", ErrNotFound)
	}
	return s.GetInvite(ctx, token)
}

// ListOptions select invites to list.
type ListOptions struct {
	All   bool   // include used, expired and revoked invites
	After string // continue after this invite ID
	Limit int    // at most this many; 0: no limit

	Creator string // exactly this creator ("xmpp:alice@example.org"); "": any
	Type    Type   // "": any
	// State, when set, lists only invites in this state (All does not
	// matter then); "": pending ones, or any with All.
	State State
	// Before pages backwards: only invites older than this ID, newest
	// first. An ID that no longer exists (purged) starts from the newest.
	Before string
	Newest bool // newest first
}

// check refuses options no invite can match.
func (o ListOptions) check() error {
	switch {
	case o.Type != "" && !o.Type.Valid():
		return fmt.Errorf("unknown type %q", o.Type)
	case o.State != "" && o.State != StatePending && o.State != StateUsed && o.State != StateExpired && o.State != StateRevoked:
		return fmt.Errorf("unknown state %q", o.State)
	case o.Limit < 0:
		return errors.New("limit must not be negative")
	}
	return nil
}

// ListInvites returns invites oldest first (newest first with Newest or
// Before).
func (s *Store) ListInvites(ctx context.Context, o ListOptions) (_ []Invite, err error) {
	defer s.classifyRead(&err)
	if err := o.check(); err != nil {
		return nil, fmt.Errorf("list invites: %w", err)
	}
	q, args := listQuery(o, s.domain, s.now())
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list invites: %w", err)
	}
	defer rows.Close()
	out := []Invite{}
	for rows.Next() {
		inv, err := scanInvite(rows)
		if err != nil {
			return nil, fmt.Errorf("list invites: %w", err)
		}
		out = append(out, inv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list invites: %w", err)
	}
	return out, nil
}

// listQuery is ListInvites' statement for o in domain.
func listQuery(o ListOptions, domain string, now time.Time) (string, []any) {
	q := `SELECT ` + inviteColumns + ` FROM invites WHERE domain = ?`
	args := []any{domain}
	// The states as Invite.State tells them apart.
	switch o.State {
	case "":
		if !o.All {
			q += ` AND revoked_at IS NULL AND uses < max_uses AND expires_at > ?`
			args = append(args, unix(now))
		}
	case StatePending:
		q += ` AND revoked_at IS NULL AND uses < max_uses AND expires_at > ?`
		args = append(args, unix(now))
	case StateUsed:
		q += ` AND revoked_at IS NULL AND uses >= max_uses`
	case StateExpired:
		q += ` AND revoked_at IS NULL AND uses < max_uses AND expires_at <= ?`
		args = append(args, unix(now))
	case StateRevoked:
		q += ` AND revoked_at IS NOT NULL`
	}
	if o.Creator != "" {
		q += ` AND creator = ?`
		args = append(args, o.Creator)
	}
	if o.Type != "" {
		q += ` AND type = ?`
		args = append(args, string(o.Type))
	}
	if o.After != "" {
		q += ` AND seq > coalesce((SELECT seq FROM invites WHERE id = ?), -1)`
		args = append(args, o.After)
	}
	if o.Before != "" {
		q += ` AND seq < coalesce((SELECT seq FROM invites WHERE id = ?), 9223372036854775807)`
		args = append(args, o.Before)
	}
	q += ` ORDER BY seq`
	if o.Newest || o.Before != "" {
		q += ` DESC`
	}
	if o.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, o.Limit)
	}
	return q, args
}

// Uses returns the confirmed uses of an invite, oldest first.
func (s *Store) Uses(ctx context.Context, inviteID string) (_ []Use, err error) {
	defer s.classifyRead(&err)
	rows, err := s.r.QueryContext(ctx, `SELECT u.jid, u.used_at FROM uses u JOIN invites i ON i.seq = u.invite_seq
		WHERE i.id = ? AND i.domain = ? AND u.used_at IS NOT NULL ORDER BY u.used_at, u.id`, inviteID, s.domain)
	if err != nil {
		return nil, fmt.Errorf("list uses: %w", err)
	}
	defer rows.Close()
	out := []Use{}
	for rows.Next() {
		var u Use
		var t int64
		if err := rows.Scan(&u.JID, &t); err != nil {
			return nil, fmt.Errorf("list uses: %w", err)
		}
		u.Time = time.Unix(t, 0).UTC()
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list uses: %w", err)
	}
	return out, nil
}

// RevokeInvite revokes an invite by ID or token. Revoking an invite that is
// already revoked, used up or expired is ErrRevoked, ErrUsedUp or ErrExpired.
func (s *Store) RevokeInvite(ctx context.Context, ref string) (Invite, error) {
	inv, err := s.GetInvite(ctx, ref)
	if err != nil {
		return Invite{}, err
	}
	now := s.now().UTC().Truncate(time.Second)
	err = s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE invites SET revoked_at = ?, done_at = ? WHERE seq = ? AND revoked_at IS NULL AND uses < max_uses AND expires_at > ?`,
			unix(now), unix(now), inv.seq, unix(now))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			cur, err := scanInvite(tx.QueryRowContext(ctx, `SELECT `+inviteColumns+` FROM invites WHERE seq = ?`, inv.seq))
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			if err != nil {
				return err
			}
			if err := cur.Err(now); err != nil {
				return err
			}
			return errors.New("invite changed during revocation")
		}
		return nil
	})
	if err != nil {
		return Invite{}, fmt.Errorf("revoke invite %s: %w", inv.ID, err)
	}
	inv.Revoked = now
	return inv, nil
}

// CountInvites counts the invites a creator made after since.
func (s *Store) CountInvites(ctx context.Context, creator string, since time.Time) (_ int, err error) {
	defer s.classifyRead(&err)
	var n int
	err = s.r.QueryRowContext(ctx, countInvitesSQL, creator, s.domain, unix(since)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count invites: %w", err)
	}
	return n, nil
}

// purgeChunk bounds one purge transaction, so that the hourly purge of a
// large database never holds the writer for long: invite creations
// interleave with its chunks.
const purgeChunk = 500

// purgeSQL deletes up to ?2 invites of domain ?3 finished before ?1 that
// hold no unresolved reservation.
const purgeSQL = `DELETE FROM invites WHERE seq IN
	(SELECT seq FROM invites i WHERE domain = ?3 AND (done_at < ?1 OR expires_at < ?1)
	   AND NOT EXISTS (SELECT 1 FROM uses u WHERE u.invite_seq = i.seq AND u.used_at IS NULL)
	 LIMIT ?2)`

// Purge deletes the invites of the Store's domain that were used up, revoked
// or expired before cutoff (each domain has its own retention),
// with their uses. Unresolved reservations are never forgotten here: they
// end in ConfirmUse or ReleaseUse. It also deletes, whatever the cutoff,
// the sign-in links made more than SignInKeep ago (all used or expired by
// then) and the sessions past their maximum age; the records of accounts
// and the audit log are kept. It works in chunks of purgeChunk rows and
// reports how many invites it deleted.
//
// On PostgreSQL one instance purges at a time: Purge holds an advisory lock
// while it works, and returns ErrPurgeElsewhere at once when another
// process holds it.
func (s *Store) Purge(ctx context.Context, cutoff time.Time) (int, error) {
	if s.pg {
		unlock, err := s.pgTryLock(ctx, pgPurgeLock)
		if err != nil {
			return 0, fmt.Errorf("purge: %w", err)
		}
		defer unlock()
	}
	total := 0
	for {
		var n int64
		err := s.write(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, purgeSQL, unix(cutoff), purgeChunk, s.domain)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("purge: %w", err)
		}
		total += int(n)
		if n < purgeChunk {
			break
		}
	}
	if err := s.purgePortal(ctx); err != nil {
		return total, fmt.Errorf("purge: %w", err)
	}
	return total, nil
}
