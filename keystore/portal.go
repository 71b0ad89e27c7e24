package keystore

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The portal's records: sign-in links, sessions, the accounts made through
// invites, and the audit log of admin actions (schema 101). Tokens of
// sign-in links and sessions are stored only as SHA-256 hashes, like invite
// tokens; see docs/portal.md for why each record is kept as long as it is.

// ErrBinding is UseSignIn's error for a link asked for in one browser and
// opened in another. The link stays unused.
var ErrBinding = errors.New("sign-in link was asked for in another browser")

// Sizes and bounds of the portal's records.
const (
	portalTokenBytes = 32
	// PortalTokenLen is the length of a sign-in or session token: 32
	// random bytes in base64url without padding.
	PortalTokenLen = 43
	// MaxJIDLen bounds a JID: three parts of at most 1023 bytes and their
	// separators (RFC 7622).
	MaxJIDLen = 3071
	// MaxSignInFrom bounds SignInParams.From.
	MaxSignInFrom = 100
	// SignInKeep is how long a sign-in link is kept after it was made,
	// used or not: long enough for the per-address limit, whose window
	// may not reach further back, then Purge deletes it.
	SignInKeep = 24 * time.Hour
	// MaxSignInTTL bounds how long a sign-in link is valid.
	MaxSignInTTL = time.Hour
	// MaxSessionAge bounds a session's maximum age.
	MaxSessionAge = 366 * 24 * time.Hour
	// seenEvery is how often Session moves a session's last use forward:
	// at most once a minute, to spare a write on every page.
	seenEvery = time.Minute
	// Bounds of audit entries: the longer fields are cut, never refused,
	// so that an admin action is always recorded.
	maxAuditActor  = 8 + MaxJIDLen // "xmpp:" + a JID, "key:ID", "cli"
	maxAuditAction = 100
	maxAuditTarget = 8 + MaxJIDLen
	// MaxAuditDetail is the longest detail kept, in bytes.
	MaxAuditDetail = 1000
)

// SignInParams ask for a sign-in link.
type SignInParams struct {
	JID string // bare JID, required
	// Binding is the SHA-256 of the asking browser's pre-sign-in cookie
	// value (32 bytes); nil: unbound (the chat word login).
	Binding []byte
	// From says where the request came from, shown on the confirm page
	// ("203.0.113.7", "chat"). At most MaxSignInFrom bytes.
	From string
	TTL  time.Duration // how long the link is valid; at most MaxSignInTTL
	// Limit, when Max > 0, refuses the link with a *LimitError (which is
	// ErrLimit) if JID has had Max links since Limit.Since, counted in the
	// same transaction as the insert. Since may not lie further back than
	// SignInKeep.
	Limit Limit
}

// SignIn is a sign-in link as the store knows it.
type SignIn struct {
	JID, From string
	Bound     bool // asked for in a browser, which must be the one that uses it
	Created   time.Time
	Expires   time.Time
}

// CreateSignIn stores a new sign-in link for p.JID and returns its token
// (32 random bytes, base64url: 43 characters), which is not recoverable
// later.
func (s *Store) CreateSignIn(ctx context.Context, p SignInParams) (token string, err error) {
	if err := checkJID(p.JID); err != nil {
		return "", fmt.Errorf("create sign-in link: %w", err)
	}
	if p.Binding != nil && len(p.Binding) != 32 {
		return "", errors.New("create sign-in link: binding must be a SHA-256 (32 bytes)")
	}
	if len(p.From) > MaxSignInFrom || !utf8.ValidString(p.From) || hasControlChar(p.From) {
		return "", fmt.Errorf("create sign-in link: from must be at most %d bytes of text without control characters", MaxSignInFrom)
	}
	if p.TTL < time.Second || p.TTL > MaxSignInTTL {
		return "", fmt.Errorf("create sign-in link: ttl must be between 1s and %s", MaxSignInTTL)
	}
	now := s.now().UTC().Truncate(time.Second)
	if p.Limit.Max > 0 && p.Limit.Since.Before(now.Add(-SignInKeep)) {
		return "", fmt.Errorf("create sign-in link: the limit's window may reach back %s at most", SignInKeep)
	}
	token = randomString(portalTokenBytes)
	err = s.writeSingle(ctx, func(tx *sql.Tx) error {
		if p.Limit.Max > 0 {
			var oldest int64
			err := tx.QueryRowContext(ctx, signInLimitSQL, p.JID, s.domain, unix(p.Limit.Since), p.Limit.Max-1).Scan(&oldest)
			switch {
			case err == nil:
				return &LimitError{Oldest: time.Unix(oldest, 0).UTC()}
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
		}
		var binding any
		if p.Binding != nil {
			binding = p.Binding
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO signins (token_hash, jid, binding_hash, origin, created_at, expires_at, domain)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, hash(token), p.JID, binding, p.From, unix(now), unix(now.Add(p.TTL)), s.domain)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("create sign-in link: %w", err)
	}
	return token, nil
}

// signInLimitSQL finds the JID's N-th newest link of the domain in the
// window (OFFSET N-1): there is one exactly when N links are in it.
const signInLimitSQL = `SELECT created_at FROM signins WHERE jid = ? AND domain = ? AND created_at > ?
	ORDER BY created_at DESC LIMIT 1 OFFSET ?`

// signInByHashSQL reads a link of a domain: a link is good only on the
// pages of the domain that sent it.
const signInByHashSQL = `SELECT token_hash, jid, binding_hash, origin, created_at, expires_at, used_at
	FROM signins WHERE token_hash = ? AND domain = ?`

// signInRow is a stored sign-in link.
type signInRow struct {
	SignIn
	binding []byte
	used    bool
}

// lookupSignIn reads the link with token through q. Tokens of the wrong
// shape are not looked up; the stored hash is compared in constant time.
// sql.ErrNoRows when there is no such link.
func lookupSignIn(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, domain, token string) (signInRow, error) {
	if !validPortalToken(token) {
		return signInRow{}, sql.ErrNoRows
	}
	h := hash(token)
	var (
		r                signInRow
		stored           []byte
		created, expires int64
		used             sql.NullInt64
	)
	err := q.QueryRowContext(ctx, signInByHashSQL, h, domain).Scan(&stored, &r.JID, &r.binding, &r.From, &created, &expires, &used)
	if err != nil {
		return signInRow{}, err
	}
	if subtle.ConstantTimeCompare(stored, h) != 1 {
		return signInRow{}, sql.ErrNoRows
	}
	r.Bound = r.binding != nil
	r.Created, r.Expires = time.Unix(created, 0).UTC(), time.Unix(expires, 0).UTC()
	r.used = used.Valid
	return r, nil
}

// live reports whether the link may still be used at now.
func (r signInRow) live(now time.Time) bool { return !r.used && now.Before(r.Expires) }

// SignIn looks a sign-in link up without using it: what the confirm page
// shows. ErrNotFound when the token is unknown or malformed, or the link was
// used or has expired.
func (s *Store) SignIn(ctx context.Context, token string) (_ SignIn, err error) {
	defer s.classifyRead(&err)
	r, err := lookupSignIn(ctx, s.r, s.domain, token)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !r.live(s.now())) {
		return SignIn{}, fmt.Errorf("sign-in link: %w", ErrNotFound)
	}
	if err != nil {
		return SignIn{}, fmt.Errorf("sign-in link: %w", err)
	}
	return r.SignIn, nil
}

// UseSignIn uses a sign-in link, once: of any number of concurrent calls
// with the same token, one succeeds and the others get ErrNotFound, as does
// every later call. binding is the SHA-256 of the browser's pre-sign-in
// cookie (nil when it has none): a bound link whose binding differs gives
// ErrBinding and stays unused, so that the browser that asked for it can
// still use it.
func (s *Store) UseSignIn(ctx context.Context, token string, binding []byte) (SignIn, error) {
	var out SignIn
	err := s.write(ctx, func(tx *sql.Tx) error {
		// Read and use in the same write transaction: nothing changes
		// the link in between.
		r, err := lookupSignIn(ctx, tx, s.domain, token)
		now := s.now()
		if errors.Is(err, sql.ErrNoRows) || (err == nil && !r.live(now)) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if r.Bound && subtle.ConstantTimeCompare(r.binding, binding) != 1 {
			return ErrBinding
		}
		res, err := tx.ExecContext(ctx, `UPDATE signins SET used_at = ?1 WHERE token_hash = ?2 AND used_at IS NULL AND expires_at > ?1`,
			unix(now), hash(token))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return ErrNotFound
		}
		out = r.SignIn
		return nil
	})
	if err != nil {
		return SignIn{}, fmt.Errorf("use sign-in link: %w", err)
	}
	return out, nil
}

// Session is a signed-in browser's session.
type Session struct {
	JID     string
	Created time.Time
	Seen    time.Time // last use, as recorded: at most a minute behind
	Expires time.Time // the maximum age
}

// CreateSession starts a session for jid that lasts at most maxAge and
// returns its token (32 random bytes, base64url), which is not recoverable
// later.
func (s *Store) CreateSession(ctx context.Context, jid string, maxAge time.Duration) (token string, err error) {
	if err := checkJID(jid); err != nil {
		return "", fmt.Errorf("create session: %w", err)
	}
	if maxAge < time.Second || maxAge > MaxSessionAge {
		return "", fmt.Errorf("create session: maximum age must be between 1s and %s", MaxSessionAge)
	}
	now := s.now().UTC().Truncate(time.Second)
	token = randomString(portalTokenBytes)
	err = s.writeSingle(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (token_hash, jid, created_at, seen_at, expires_at, domain) VALUES (?, ?, ?, ?, ?, ?)`,
			hash(token), jid, unix(now), unix(now), unix(now.Add(maxAge)), s.domain)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("create session: %w", err)
	}
	return token, nil
}

// sessionByHashSQL reads a session of a domain: a session cookie opens
// only the pages of the domain it was made on.
const sessionByHashSQL = `SELECT token_hash, jid, created_at, seen_at, expires_at FROM sessions WHERE token_hash = ? AND domain = ?`

// Session returns the live session with this token: ErrNotFound when the
// token is unknown or malformed, when the session has not been used for
// idle, or is past its maximum age (such a session is deleted then). It
// moves the session's last use forward, at most once a minute.
func (s *Store) Session(ctx context.Context, token string, idle time.Duration) (_ Session, err error) {
	defer s.classifyRead(&err)
	if idle <= 0 {
		return Session{}, errors.New("session: idle time must be positive")
	}
	notFound := fmt.Errorf("session: %w", ErrNotFound)
	if !validPortalToken(token) {
		return Session{}, notFound
	}
	h := hash(token)
	var (
		ss                     Session
		stored                 []byte
		created, seen, expires int64
	)
	err = s.r.QueryRowContext(ctx, sessionByHashSQL, h, s.domain).Scan(&stored, &ss.JID, &created, &seen, &expires)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && subtle.ConstantTimeCompare(stored, h) != 1) {
		return Session{}, notFound
	}
	if err != nil {
		return Session{}, fmt.Errorf("session: %w", err)
	}
	ss.Created, ss.Seen, ss.Expires = time.Unix(created, 0).UTC(), time.Unix(seen, 0).UTC(), time.Unix(expires, 0).UTC()
	now := s.now().UTC().Truncate(time.Second)
	if !now.Before(ss.Expires) || !now.Before(ss.Seen.Add(idle)) {
		// Ended for good: a later call with a longer idle time must not
		// bring it back.
		if err := s.DeleteSession(ctx, token); err != nil {
			return Session{}, err
		}
		return Session{}, notFound
	}
	if now.Sub(ss.Seen) < seenEvery {
		return ss, nil
	}
	var n int64
	err = s.writeSingle(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE sessions SET seen_at = ?1 WHERE token_hash = ?2 AND domain = ?3 AND seen_at < ?1 AND expires_at > ?1`,
			unix(now), h, s.domain)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return Session{}, fmt.Errorf("session: %w", err)
	}
	if n == 0 {
		// Signed out (or moved forward by a concurrent request, which
		// this check tells apart) in between.
		var one int
		if err := s.r.QueryRowContext(ctx, `SELECT 1 FROM sessions WHERE token_hash = ? AND domain = ?`, h, s.domain).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return Session{}, notFound
		} else if err != nil {
			return Session{}, fmt.Errorf("session: %w", err)
		}
	}
	ss.Seen = now
	return ss, nil
}

// DeleteSession ends the session with this token (signing out). Ending a
// session that does not exist, or no longer does, is not an error.
func (s *Store) DeleteSession(ctx context.Context, token string) error {
	if !validPortalToken(token) {
		return nil
	}
	err := s.writeSingle(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ? AND domain = ?`, hash(token), s.domain)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteSessions ends every session of jid (signing out everywhere) and
// reports how many there were.
func (s *Store) DeleteSessions(ctx context.Context, jid string) (int, error) {
	if err := checkJID(jid); err != nil {
		return 0, fmt.Errorf("delete sessions: %w", err)
	}
	var n int64
	err := s.writeSingle(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE jid = ? AND domain = ?`, jid, s.domain)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete sessions: %w", err)
	}
	return int(n), nil
}

// Account is an account made through an invite. ConfirmUse records it, for
// account invites and contact invites (every confirmed use of those made an
// account), in the transaction that counts the use; the invite purge leaves
// it alone. A later registration of the same JID (possible only after the
// account was deleted on the server) replaces the record, which then
// describes the account that exists.
type Account struct {
	JID        string
	Created    time.Time
	InviteID   string
	InviteType Type
	Inviter    string // the invite's creator: key:ID, xmpp:JID or cli
}

// AccountRow is an Account with its place in the registration order.
type AccountRow struct {
	Seq int64
	Account
}

// AccountOptions select accounts to list.
type AccountOptions struct {
	Inviter string // only those invited by this creator; "": all
	Before  int64  // only those registered before this Seq; 0: from the newest
	Limit   int    // at most this many; 0: no limit
}

// recordAccountSQL writes the account of a confirmed use: ?1 JID, ?2 time,
// ?3 the invite's seq. It replaces an older record of the same JID (with
// a new seq: it is the newest registration).
const recordAccountSQL = `INSERT OR REPLACE INTO accounts (jid, created_at, invite_id, invite_type, inviter, domain)
	SELECT ?1, ?2, id, type, creator, domain FROM invites WHERE seq = ?3`

// pgRecordAccountSQL is recordAccountSQL on PostgreSQL: the upsert takes a
// new seq, as SQLite's REPLACE does.
const pgRecordAccountSQL = `INSERT INTO accounts (jid, created_at, invite_id, invite_type, inviter, domain)
	SELECT CAST(?1 AS TEXT), CAST(?2 AS BIGINT), id, type, creator, domain FROM invites WHERE seq = ?3
	ON CONFLICT (jid) DO UPDATE SET seq = DEFAULT, created_at = excluded.created_at,
		invite_id = excluded.invite_id, invite_type = excluded.invite_type, inviter = excluded.inviter,
		domain = excluded.domain`

const accountsSQL = `SELECT seq, jid, created_at, invite_id, invite_type, inviter FROM accounts`

// accountsQuery is Accounts' statement for o in domain.
func accountsQuery(o AccountOptions, domain string) (string, []any) {
	q := accountsSQL + ` WHERE domain = ?`
	args := []any{domain}
	if o.Inviter != "" {
		q += ` AND inviter = ?`
		args = append(args, o.Inviter)
	}
	if o.Before > 0 {
		q += ` AND seq < ?`
		args = append(args, o.Before)
	}
	q += ` ORDER BY seq DESC`
	if o.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, o.Limit)
	}
	return q, args
}

// Accounts lists the accounts made through invites, newest first.
func (s *Store) Accounts(ctx context.Context, o AccountOptions) (_ []AccountRow, err error) {
	defer s.classifyRead(&err)
	if o.Limit < 0 || o.Before < 0 {
		return nil, errors.New("list accounts: limit and before must not be negative")
	}
	q, args := accountsQuery(o, s.domain)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	defer rows.Close()
	out := []AccountRow{}
	for rows.Next() {
		var a AccountRow
		var created int64
		var typ string
		if err := rows.Scan(&a.Seq, &a.JID, &created, &a.InviteID, &typ, &a.Inviter); err != nil {
			return nil, fmt.Errorf("list accounts: %w", err)
		}
		a.Created, a.InviteType = time.Unix(created, 0).UTC(), Type(typ)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	return out, nil
}

// ForgetAccount deletes the record of an account made through an invite
// (an admin's choice, for example after the account was deleted).
// ErrNotFound when there is none.
func (s *Store) ForgetAccount(ctx context.Context, jid string) error {
	return s.deleteOne(ctx, "forget account", `DELETE FROM accounts WHERE jid = ? AND domain = ?`, jid, s.domain)
}

// AuditEntry is one admin action.
type AuditEntry struct {
	Seq                           int64
	At                            time.Time
	Actor, Action, Target, Detail string
}

// Audit records an admin action: actor (xmpp:JID, key:ID, cli) did action
// (such as "invite.revoke") to target, with detail. Actor and action are
// required. Text that is too long is cut (detail at MaxAuditDetail bytes),
// never refused, and invalid UTF-8 is replaced, so that an action is
// always recorded.
func (s *Store) Audit(ctx context.Context, actor, action, target, detail string) error {
	if actor == "" || action == "" {
		return errors.New("audit: actor and action are required")
	}
	actor, action = clip(actor, maxAuditActor), clip(action, maxAuditAction)
	target, detail = clip(target, maxAuditTarget), clip(detail, MaxAuditDetail)
	now := unix(s.now())
	err := s.writeSingle(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO audit (at, actor, action, target, detail, domain) VALUES (?, ?, ?, ?, ?, ?)`,
			now, actor, action, target, detail, s.domain)
		return err
	})
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

const auditSQL = `SELECT seq, at, actor, action, target, detail FROM audit`

// auditQuery is AuditLog's statement in domain.
func auditQuery(domain string, before int64, limit int) (string, []any) {
	q, args := auditSQL+` WHERE domain = ?`, []any{domain}
	if before > 0 {
		q += ` AND seq < ?`
		args = append(args, before)
	}
	q += ` ORDER BY seq DESC`
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	return q, args
}

// AuditLog returns audit entries newest first: those before the entry
// numbered before (0: from the newest), at most limit (0: all).
func (s *Store) AuditLog(ctx context.Context, before int64, limit int) (_ []AuditEntry, err error) {
	defer s.classifyRead(&err)
	if before < 0 || limit < 0 {
		return nil, errors.New("audit log: before and limit must not be negative")
	}
	q, args := auditQuery(s.domain, before, limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.Target, &e.Detail); err != nil {
			return nil, fmt.Errorf("audit log: %w", err)
		}
		e.At = time.Unix(at, 0).UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return out, nil
}

// Purge statements of the portal's records, each deleting up to ?2 rows.
const (
	// purgeSignInsSQL deletes links made before ?1: by then every one
	// has expired (MaxSignInTTL < SignInKeep) and left every limit window.
	purgeSignInsSQL = `DELETE FROM signins WHERE rowid IN
		(SELECT rowid FROM signins WHERE created_at < ?1 LIMIT ?2)`
	// purgeSessionsSQL deletes sessions past their maximum age at ?1.
	purgeSessionsSQL = `DELETE FROM sessions WHERE rowid IN
		(SELECT rowid FROM sessions WHERE expires_at <= ?1 LIMIT ?2)`
)

// purgePortal deletes the sign-in links made more than SignInKeep ago and
// the sessions past their maximum age, in chunks.
func (s *Store) purgePortal(ctx context.Context) error {
	now := s.now()
	for _, p := range []struct {
		sql    string
		cutoff time.Time
	}{
		{purgeSignInsSQL, now.Add(-SignInKeep)},
		{purgeSessionsSQL, now},
	} {
		for {
			var n int64
			err := s.writeSingle(ctx, func(tx *sql.Tx) error {
				res, err := tx.ExecContext(ctx, p.sql, unix(p.cutoff), purgeChunk)
				if err != nil {
					return err
				}
				n, err = res.RowsAffected()
				return err
			})
			if err != nil {
				return err
			}
			if n < purgeChunk {
				break
			}
		}
	}
	return nil
}

// validPortalToken reports whether token has the shape of a sign-in or
// session token, so that nothing else reaches the database.
func validPortalToken(token string) bool {
	if len(token) != PortalTokenLen {
		return false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// checkJID checks that j looks like a bare JID (local@domain): the store
// keeps it as given; callers normalise it (the portal compares JIDs as
// strings).
func checkJID(j string) error {
	local, domain, ok := strings.Cut(j, "@")
	switch {
	case len(j) > MaxJIDLen:
		return fmt.Errorf("JID must be at most %d bytes", MaxJIDLen)
	case !ok || local == "" || domain == "" || strings.ContainsAny(j, "/ ") || strings.Contains(domain, "@"):
		return fmt.Errorf("%q is not a bare JID such as alice@example.com", j)
	case !utf8.ValidString(j) || hasControlChar(j):
		return errors.New("JID must be text without control characters")
	}
	return nil
}

// hasControlChar reports whether s holds a control character.
func hasControlChar(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

// clip makes s valid UTF-8 and cuts it to at most n bytes, at a character
// boundary.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// deleteOne runs a DELETE that must remove a row: ErrNotFound when it
// removed none. what names it in errors.
func (s *Store) deleteOne(ctx context.Context, what, query string, args ...any) error {
	err := s.writeSingle(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
