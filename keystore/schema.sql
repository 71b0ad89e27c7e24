-- Version 1: API keys, invites and their uses. Times are INTEGER Unix seconds, UTC.

CREATE TABLE keys (
	id           TEXT PRIMARY KEY,          -- public, 12 characters of base64url
	secret_hash  BLOB NOT NULL,             -- SHA-256 of the secret; the secret itself is never stored
	name         TEXT NOT NULL DEFAULT '',
	scope        TEXT NOT NULL CHECK (scope IN ('create', 'manage')),
	created_at   INTEGER NOT NULL,
	last_used_at INTEGER,                   -- NULL: never used
	expires_at   INTEGER,                   -- NULL: never expires
	quota        INTEGER NOT NULL DEFAULT 0 -- invites per hour, 0: unlimited
) STRICT;

CREATE TABLE invites (
	seq            INTEGER PRIMARY KEY,     -- creation order, for stable listing and paging
	id             TEXT NOT NULL UNIQUE,    -- public, 8 characters
	token_hash     BLOB NOT NULL UNIQUE,    -- SHA-256 of the token
	type           TEXT NOT NULL CHECK (type IN ('account', 'reset', 'contact')),
	username       TEXT NOT NULL DEFAULT '',
	creator        TEXT NOT NULL,           -- key:ID, xmpp:JID or cli
	note           TEXT NOT NULL DEFAULT '',
	allow_register INTEGER NOT NULL DEFAULT 0,
	created_at     INTEGER NOT NULL,
	expires_at     INTEGER NOT NULL,
	max_uses       INTEGER NOT NULL CHECK (max_uses >= 1),
	uses           INTEGER NOT NULL DEFAULT 0,
	revoked_at     INTEGER,
	done_at        INTEGER                  -- when it was used up or revoked: the purge clock
) STRICT;

CREATE INDEX invites_creator ON invites (creator, created_at);
CREATE INDEX invites_expires ON invites (expires_at);
CREATE INDEX invites_done ON invites (done_at) WHERE done_at IS NOT NULL;

CREATE TABLE uses (
	id          INTEGER PRIMARY KEY,
	invite_seq  INTEGER NOT NULL REFERENCES invites (seq) ON DELETE CASCADE,
	jid         TEXT NOT NULL DEFAULT '',
	reserved_at INTEGER NOT NULL,
	used_at     INTEGER                     -- NULL while the use is only reserved
) STRICT;

CREATE INDEX uses_invite ON uses (invite_seq);
