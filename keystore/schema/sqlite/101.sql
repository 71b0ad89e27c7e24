-- Schema 101: the web portal (sign-in links, sessions, registrations, audit log). Released
-- migrations never change; see migrations in store.go. Times are INTEGER Unix seconds, UTC.

-- A sign-in link, sent over XMPP to the account that signs in. Single use; kept a day after it
-- was made (for the per-address limit), then purged (see docs/portal.md).
CREATE TABLE signins (
	token_hash   BLOB PRIMARY KEY,          -- SHA-256 of the 32-byte random token; the token is never stored
	jid          TEXT NOT NULL,             -- the bare JID that signs in
	binding_hash BLOB,                      -- SHA-256 of the asking browser's pre-sign-in cookie; NULL: unbound (chat word login)
	origin       TEXT NOT NULL DEFAULT '',  -- where it was asked for: a client address, or "chat"
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL,
	used_at      INTEGER                    -- NULL: not used yet
) STRICT;

CREATE INDEX signins_jid ON signins (jid, created_at);
CREATE INDEX signins_created ON signins (created_at);

-- A signed-in browser. Ended by its idle time or maximum age, by signing out, or by a reset of
-- the account's password.
CREATE TABLE sessions (
	token_hash BLOB PRIMARY KEY,            -- SHA-256 of the 32-byte random token in the cookie
	jid        TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	seen_at    INTEGER NOT NULL,            -- last use, moved forward at most once a minute
	expires_at INTEGER NOT NULL             -- created_at + the maximum age
) STRICT;

CREATE INDEX sessions_jid ON sessions (jid);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- An account made through an invite: who joined, when, through which invite and whose. Written
-- with the confirmed use; kept when the invite is purged (see docs/portal.md).
CREATE TABLE accounts (
	seq         INTEGER PRIMARY KEY,        -- registration order, for paging
	jid         TEXT NOT NULL UNIQUE,
	created_at  INTEGER NOT NULL,
	invite_id   TEXT NOT NULL,              -- the invite's public ID (the invite itself may be purged)
	invite_type TEXT NOT NULL CHECK (invite_type IN ('account', 'contact')),
	inviter     TEXT NOT NULL               -- the invite's creator: key:ID, xmpp:JID or cli
) STRICT;

CREATE INDEX accounts_inviter ON accounts (inviter, seq);

-- The accounts made before this version, as far as the invites not yet purged tell, in the order
-- they were made (a JID made twice keeps its last registration, as ConfirmUse does).
INSERT OR REPLACE INTO accounts (jid, created_at, invite_id, invite_type, inviter)
	SELECT u.jid, u.used_at, i.id, i.type, i.creator FROM uses u JOIN invites i ON i.seq = u.invite_seq
	WHERE u.used_at IS NOT NULL AND i.type IN ('account', 'contact')
	ORDER BY u.used_at, u.id;

-- What admins did, newest last.
CREATE TABLE audit (
	seq    INTEGER PRIMARY KEY,
	at     INTEGER NOT NULL,
	actor  TEXT NOT NULL,                   -- xmpp:JID of the admin, cli, key:ID
	action TEXT NOT NULL,                   -- e.g. invite.create, key.delete
	target TEXT NOT NULL DEFAULT '',        -- what it was done to: an invite or key ID, a JID
	detail TEXT NOT NULL DEFAULT ''         -- at most 1000 bytes
) STRICT;
