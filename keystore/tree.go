package keystore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Invite chains (docs/chains.md). An account made through an invite
// records its inviter; an inviter "xmpp:JID" links it to the account JID.
// Going up through those links from an account, as long as the account
// reached has a record, ends at the root of its tree: an account not made
// through us, an account made through an invite of an API key or the CLI,
// or one of the given roots (the admins), which end the walk wherever they
// stand. The tree is the root and every account below it, but for the
// roots below it and their accounts, which are trees of their own. No
// schema of its own: the queries walk the accounts table, down through its
// index on inviter.

// Tree is the invite tree an account belongs to.
type Tree struct {
	// Root is the bare JID at the top of the tree; empty when the
	// inviters go round in a circle (an account deleted and made again
	// through an invite from below it), whose members then share one tree.
	Root string
	// Size is the number of accounts in the tree, the root included,
	// counted up to the maximum asked for.
	Size int
}

// treeSQL finds the tree of ?1 with the roots ?2 (a JSON array of bare
// JIDs) among the accounts of domain ?4 and counts it up to ?3 accounts
// (the unary + keeps SQLite from walking the index on domain instead of
// the one on inviter). up walks from ?1 to its root
// (UNION keeps a circle of inviters from walking forever); root is the one
// account up cannot leave (none in a circle, where the whole walk seeds
// the count); down adds, level by level, the accounts whose inviter is an
// account already counted, and stops after ?3 rows.
const treeSQL = `WITH RECURSIVE
	roots(jid) AS (SELECT value FROM json_each(?2)),
	up(jid) AS (
		SELECT ?1
		UNION
		SELECT substr(a.inviter, 6) FROM up JOIN accounts a ON a.jid = up.jid AND +a.domain = ?4
		WHERE a.inviter LIKE 'xmpp:%' AND up.jid NOT IN roots
	),
	root(jid) AS (
		SELECT jid FROM up
		WHERE jid IN roots OR NOT EXISTS (SELECT 1 FROM accounts a WHERE a.jid = up.jid AND +a.domain = ?4 AND a.inviter LIKE 'xmpp:%')
	),
	down(jid) AS (
		SELECT jid FROM root
		UNION
		SELECT jid FROM up WHERE NOT EXISTS (SELECT 1 FROM root)
		UNION
		SELECT a.jid FROM down JOIN accounts a ON a.inviter = 'xmpp:' || down.jid AND +a.domain = ?4
		WHERE a.jid NOT IN roots
		LIMIT ?3
	)
SELECT coalesce((SELECT jid FROM root), ''), (SELECT count(*) FROM down)`

// pgTreeSQL is treeSQL on PostgreSQL: the roots from jsonb, and the limit
// on the outer query (PostgreSQL computes only the rows of a recursive
// query that are fetched).
const pgTreeSQL = `WITH RECURSIVE
	roots(jid) AS (SELECT jsonb_array_elements_text(CAST(?2 AS jsonb))),
	up(jid) AS (
		SELECT CAST(?1 AS TEXT)
		UNION
		SELECT substr(a.inviter, 6) FROM up JOIN accounts a ON a.jid = up.jid AND a.domain = ?4
		WHERE a.inviter LIKE 'xmpp:%' AND up.jid NOT IN (SELECT jid FROM roots)
	),
	root(jid) AS (
		SELECT jid FROM up
		WHERE jid IN (SELECT jid FROM roots)
		   OR NOT EXISTS (SELECT 1 FROM accounts a WHERE a.jid = up.jid AND a.domain = ?4 AND a.inviter LIKE 'xmpp:%')
	),
	down(jid) AS (
		SELECT jid FROM root
		UNION
		SELECT jid FROM up WHERE NOT EXISTS (SELECT 1 FROM root)
		UNION
		SELECT a.jid FROM down JOIN accounts a ON a.inviter = 'xmpp:' || down.jid AND a.domain = ?4
		WHERE a.jid NOT IN (SELECT jid FROM roots)
	)
SELECT coalesce((SELECT jid FROM root LIMIT 1), ''), (SELECT count(*) FROM (SELECT jid FROM down LIMIT ?3) AS d)`

// InviteTree returns the tree jid belongs to, with roots (the admins'
// bare JIDs) starting trees of their own, and its size counted up to max
// (at least 1; a larger tree reports max).
func (s *Store) InviteTree(ctx context.Context, jid string, roots []string, max int) (_ Tree, err error) {
	defer s.classifyRead(&err)
	if jid == "" || max < 1 {
		return Tree{}, errors.New("invite tree: a JID and a maximum of at least 1 are required")
	}
	if roots == nil {
		roots = []string{}
	}
	list, err := json.Marshal(roots)
	if err != nil {
		return Tree{}, fmt.Errorf("invite tree: %w", err)
	}
	var t Tree
	q := treeSQL
	if s.pg {
		q = pgTreeSQL
	}
	if err := s.r.QueryRowContext(ctx, q, jid, string(list), max, s.domain).Scan(&t.Root, &t.Size); err != nil {
		return Tree{}, fmt.Errorf("invite tree: %w", err)
	}
	return t, nil
}

// accountSQL reads the record of one account made through an invite.
const accountSQL = `SELECT created_at, invite_id, invite_type, inviter FROM accounts WHERE jid = ? AND domain = ?`

// Account returns the record of jid's account if it was made through an
// invite; ErrNotFound when it was not (or its record was forgotten).
func (s *Store) Account(ctx context.Context, jid string) (_ Account, err error) {
	defer s.classifyRead(&err)
	a := Account{JID: jid}
	var created int64
	var typ string
	err = s.r.QueryRowContext(ctx, accountSQL, jid, s.domain).Scan(&created, &a.InviteID, &typ, &a.Inviter)
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, ErrNotFound
	}
	if err != nil {
		return Account{}, fmt.Errorf("read account: %w", err)
	}
	a.Created, a.InviteType = time.Unix(created, 0).UTC(), Type(typ)
	return a, nil
}
