package keystore

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Scope is what an API key may do.
type Scope string

// Scopes. A create key mints account invites only; a manage key may also mint
// reset and contact invites and list, show and revoke invites.
const (
	ScopeCreate Scope = "create"
	ScopeManage Scope = "manage"
)

// Key is an API key record. The secret is not part of it: only its hash is
// stored, and the secret is shown once, at creation.
type Key struct {
	ID       string
	Name     string // private: for operators
	Label    string // public: "Invited by" on the pages; empty: the site name
	Scope    Scope
	Created  time.Time
	LastUsed time.Time // zero: never used
	Expires  time.Time // zero: never expires
	Quota    int       // invites per hour, 0: unlimited
	Domain   string    // the only domain whose endpoints it opens
}

// Creator is how invites minted with this key name their creator.
func (k Key) Creator() string { return "key:" + k.ID }

// KeyParams are the choices made when creating a key.
type KeyParams struct {
	Name    string
	Label   string
	Scope   Scope
	Expires time.Time // zero: never
	Quota   int       // invites per hour, 0: unlimited
}

// Key ID and secret sizes: 9 random bytes give 12 base64url characters,
// 32 give 43.
const (
	keyIDBytes     = 9
	keySecretBytes = 32
	maxKeyName     = 200
)

// dummyHash is compared against when there is no stored hash to compare
// with (a malformed credential, an empty key table, an ID the key cache does
// not hold), so that a miss costs the same as a wrong secret.
var dummyHash = hash("xmpp-invites dummy secret")

// CreateKey stores a new key and returns it with the full credential
// "ID/SECRET", which is not recoverable later.
func (s *Store) CreateKey(ctx context.Context, p KeyParams) (Key, string, error) {
	if p.Scope == "" {
		p.Scope = ScopeCreate
	}
	if p.Scope != ScopeCreate && p.Scope != ScopeManage {
		return Key{}, "", fmt.Errorf("create key: unknown scope %q", p.Scope)
	}
	if len(p.Name) > maxKeyName || strings.ContainsAny(p.Name, "\t\n\r") {
		return Key{}, "", fmt.Errorf("create key: name must be at most %d bytes without tabs or newlines", maxKeyName)
	}
	if len(p.Label) > maxKeyName || strings.ContainsAny(p.Label, "\t\n\r") {
		return Key{}, "", fmt.Errorf("create key: label must be at most %d bytes without tabs or newlines", maxKeyName)
	}
	if p.Quota < 0 {
		return Key{}, "", errors.New("create key: quota must not be negative")
	}
	now := s.now().UTC().Truncate(time.Second)
	k := Key{Name: p.Name, Label: p.Label, Scope: p.Scope, Created: now, Expires: p.Expires, Quota: p.Quota, Domain: s.domain}
	if !k.Expires.IsZero() {
		k.Expires = k.Expires.UTC().Truncate(time.Second)
	}
	var secret string
	err := s.write(ctx, func(tx *sql.Tx) error {
		for attempt := 0; ; attempt++ {
			k.ID = randomString(keyIDBytes)
			secret = randomString(keySecretBytes)
			_, err := tx.ExecContext(ctx,
				`INSERT INTO keys (id, secret_hash, name, label, scope, created_at, expires_at, quota, domain) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				k.ID, hash(secret), k.Name, k.Label, string(k.Scope), unix(now), nullTime(k.Expires), k.Quota, s.domain)
			if err == nil {
				return nil
			}
			if !isUnique(err) || attempt == 3 {
				return err
			}
		}
	})
	if err != nil {
		return Key{}, "", fmt.Errorf("create key: %w", err)
	}
	return k, k.ID + "/" + secret, nil
}

const keyColumns = `id, name, label, scope, created_at, last_used_at, expires_at, quota, domain`

func scanKey(row interface{ Scan(...any) error }, extra ...any) (Key, error) {
	var (
		k                 Key
		scope             string
		created           int64
		lastUsed, expires sql.NullInt64
	)
	dest := append([]any{&k.ID, &k.Name, &k.Label, &scope, &created, &lastUsed, &expires, &k.Quota, &k.Domain}, extra...)
	if err := row.Scan(dest...); err != nil {
		return Key{}, err
	}
	k.Scope = Scope(scope)
	k.Created = time.Unix(created, 0).UTC()
	k.LastUsed = fromUnix(lastUsed)
	k.Expires = fromUnix(expires)
	return k, nil
}

// ListKeys returns every key of the Store's domain, oldest first.
func (s *Store) ListKeys(ctx context.Context) (_ []Key, err error) {
	defer s.classifyRead(&err)
	rows, err := s.r.QueryContext(ctx, `SELECT `+keyColumns+` FROM keys WHERE domain = ? ORDER BY created_at, rowid`, s.domain)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	defer rows.Close()
	keys := []Key{}
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list keys: %w", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return keys, nil
}

// GetKey returns one key of the Store's domain by ID.
func (s *Store) GetKey(ctx context.Context, id string) (_ Key, err error) {
	defer s.classifyRead(&err)
	var stored []byte // the prepared statement also reads the hash
	k, err := scanKey(s.keyByID.QueryRowContext(ctx, id, s.domain), &stored)
	if errors.Is(err, sql.ErrNoRows) {
		return Key{}, fmt.Errorf("key %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return Key{}, fmt.Errorf("get key: %w", err)
	}
	return k, nil
}

// DeleteKey deletes a key of the Store's domain; from then on it authenticates nothing. With
// revokeInvites it also revokes the key's pending invites, in the same
// transaction, and reports how many.
func (s *Store) DeleteKey(ctx context.Context, id string, revokeInvites bool) (int, error) {
	now := unix(s.now())
	var revoked int
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM keys WHERE id = ? AND domain = ?`, id, s.domain)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("key %q: %w", id, ErrNotFound)
		}
		if !revokeInvites {
			return nil
		}
		res, err = tx.ExecContext(ctx,
			`UPDATE invites SET revoked_at = ?, done_at = ? WHERE creator = ? AND domain = ? AND revoked_at IS NULL AND uses < max_uses AND expires_at > ?`,
			now, now, "key:"+id, s.domain, now)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		revoked = int(n)
		return err
	})
	if !errors.Is(err, ErrNotFound) {
		s.keys.forget(id)
	}
	if err != nil {
		return 0, fmt.Errorf("delete key: %w", err)
	}
	return revoked, nil
}

// ParseCredential splits "ID/SECRET". It accepts the project's own keys and
// those of other shapes (such as mod_invites_api's), and rejects anything
// that could not be a key without touching the database.
func ParseCredential(cred string) (id, secret string, err error) {
	id, secret, ok := strings.Cut(cred, "/")
	if !ok || id == "" || secret == "" || len(id) > 64 || len(secret) > 256 ||
		!isBase64URL(id) || !isBase64URL(secret) {
		return "", "", ErrUnauthorized
	}
	return id, secret, nil
}

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// Authenticate checks a credential "ID/SECRET" against the database and
// returns its key. Every failure (malformed, unknown ID, wrong secret,
// expired, a key of another domain) is ErrUnauthorized. An unknown ID and a wrong secret take the
// same steps: one lookup that reads a row either way (see authKeySQL), one
// hash, one constant-time comparison; only then does the ID decide.
func (s *Store) Authenticate(ctx context.Context, cred string) (_ Key, err error) {
	defer s.classifyRead(&err)
	id, secret, err := ParseCredential(cred)
	if err != nil {
		// Nothing to look up: the sender knows the shape of what it sent.
		subtle.ConstantTimeCompare(hash(cred), dummyHash)
		return Key{}, ErrUnauthorized
	}
	gen := s.keys.generation()
	k, stored, err := s.keyForAuth(id)
	if err != nil {
		return Key{}, fmt.Errorf("authenticate: %w", err)
	}
	s.trace("hash")
	sum := hash(secret)
	s.trace("compare")
	// The decoy of an unknown ID has another ID, so it never passes, even
	// with the secret of the key it is.
	if subtle.ConstantTimeCompare(sum, stored) != 1 || k.ID != id || k.Domain != s.domain {
		return Key{}, ErrUnauthorized
	}
	now := s.now()
	if !k.Expires.IsZero() && !now.Before(k.Expires) {
		return Key{}, ErrUnauthorized
	}
	// Record use at most once a minute per key, so authentication does not
	// turn every read into a write.
	if now.Sub(k.LastUsed) >= time.Minute {
		k.LastUsed = now.UTC().Truncate(time.Second)
		err := s.writeSingle(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(context.Background(), `UPDATE keys SET last_used_at = ? WHERE id = ?`, unix(now), k.ID)
			return err
		})
		if err != nil {
			return Key{}, fmt.Errorf("authenticate: record use: %w", err)
		}
	}
	s.keys.put(k, stored, now, gen)
	return k, nil
}

// authKeySQL reads the key with ID ?1 of domain ?3 and its secret hash or,
// when the domain has no such key, a decoy: the domain's first key, or
// without one a row of defaults with the hash ?2. A key of another domain
// is a miss like an unknown ID, at the same cost. A lookup that found nothing would return
// no row, which costs less than reading and scanning one: wrong secrets for
// existing keys were measurably slower than unknown IDs (docs/performance.md,
// "Authentication timing"). Either way this seeks the ID index, seeks the
// first key, and reads one table row by rowid.
const authKeySQL = `SELECT coalesce(k.id, ''), coalesce(k.name, ''), coalesce(k.label, ''),
	coalesce(k.scope, 'create'), coalesce(k.created_at, 0), k.last_used_at, k.expires_at,
	coalesce(k.quota, 0), coalesce(k.domain, ''), coalesce(k.secret_hash, ?2)
FROM (SELECT (SELECT rowid FROM keys WHERE id = ?1 AND domain = ?3) AS hit,
	(SELECT min(rowid) FROM keys WHERE domain = ?3) AS first) AS q
LEFT JOIN keys AS k ON k.rowid = coalesce(q.hit, q.first)`

// keyForAuth runs authKeySQL: the key with ID id, or a decoy with another
// ID.
func (s *Store) keyForAuth(id string) (Key, []byte, error) {
	s.trace("lookup")
	var stored []byte
	// A point lookup needs no interruption: the request's context would
	// cost a watcher goroutine per query.
	k, err := scanKey(s.authKey.QueryRowContext(context.Background(), id, dummyHash, s.domain), &stored)
	if err != nil {
		return Key{}, nil, err
	}
	s.trace("row")
	return k, stored, nil
}

// trace reports an authentication step to the test hook.
func (s *Store) trace(step string) {
	if s.authTrace != nil {
		s.authTrace(step)
	}
}

// AuthenticateToCreate is Authenticate for a caller that will only create
// invites with the key: it may answer from keys verified against the
// database in the last minute, without a query. That is safe because
// CreateInvite checks, in the transaction that inserts, that a key creator
// still exists: a key deleted from the CLI creates nothing from that moment
// on. cached reports an answer from memory; a caller that fails for another
// reason after such an answer must confirm the key with Authenticate before
// it reports that reason, so that a deleted key always gets 401 first.
func (s *Store) AuthenticateToCreate(ctx context.Context, cred string) (k Key, cached bool, err error) {
	if id, secret, err := ParseCredential(cred); err == nil {
		now := s.now()
		// An ID the cache does not hold is compared against a dummy
		// entry: it costs what a wrong secret for a remembered key does.
		e, fresh := s.keys.lookup(id, s.domain, now)
		s.trace("cache compare")
		match := subtle.ConstantTimeCompare(e.secretHash[:], hash(secret)) == 1
		if match && fresh && (e.key.Expires.IsZero() || now.Before(e.key.Expires)) {
			return e.key, true, nil
		}
	}
	k, err = s.Authenticate(ctx, cred)
	return k, false, err
}

// Key cache bounds: a verified key is trusted for keyCacheTTL, and at most
// keyCacheMax keys are held (the cache starts over when full).
const (
	keyCacheTTL = time.Minute
	keyCacheMax = 1024
)

// keyCache holds keys recently verified against the database, with the hash
// of their secret. It never holds a failure.
type keyCache struct {
	mu sync.Mutex
	m  map[string]cachedKey
	// gen counts forgets and flushes: a key read from the database before
	// one of them may be stale, and is not put (see generation).
	gen uint64
	// off: nothing is remembered (PostgreSQL, while no connection listens
	// for other processes' key changes).
	off bool
}

type cachedKey struct {
	key        Key
	secretHash [sha256.Size]byte
	verified   time.Time
}

// generation returns the count of forgets and flushes so far: a caller
// reads it before it reads a key from the database, and passes it to put.
func (c *keyCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put remembers k, unless a key was forgotten (or the cache flushed) since
// gen was read: k may have been read before that key's change, and the
// change's notification has gone.
func (c *keyCache) put(k Key, secretHash []byte, now time.Time, gen uint64) {
	if len(secretHash) != sha256.Size {
		return
	}
	e := cachedKey{key: k, verified: now}
	copy(e.secretHash[:], secretHash)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || c.off {
		return
	}
	if c.m == nil || len(c.m) >= keyCacheMax {
		c.m = make(map[string]cachedKey)
	}
	c.m[k.ID] = e
}

// dummyEntry is what lookup returns for an ID without a fresh entry.
var dummyEntry = cachedKey{secretHash: [sha256.Size]byte(dummyHash)}

// lookup returns the entry of id, a key of domain, if it was verified less
// than keyCacheTTL ago; else dummyEntry and false. The caller compares the secret hash
// either way.
func (c *keyCache) lookup(id, domain string, now time.Time) (cachedKey, bool) {
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	// The cache is shared by every domain's view: a key of another
	// domain is a miss.
	if !ok || e.key.Domain != domain || now.Sub(e.verified) >= keyCacheTTL || now.Before(e.verified) {
		return dummyEntry, false
	}
	return e, true
}

func (c *keyCache) forget(id string) {
	c.mu.Lock()
	delete(c.m, id)
	c.gen++
	c.mu.Unlock()
}

// flush forgets every key; off then says whether to remember keys again.
func (c *keyCache) flush(off bool) {
	c.mu.Lock()
	c.m = nil
	c.gen++
	c.off = off
	c.mu.Unlock()
}
