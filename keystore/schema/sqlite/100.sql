-- The 1.0 schema (user_version 100, application_id 0x78696e76 "xinv"). Later versions append
-- migrations (see migrations in store.go); this file never changes once released.
-- Times are INTEGER Unix seconds, UTC.

CREATE TABLE keys (
	id           TEXT PRIMARY KEY,          -- public, 12 characters of base64url
	secret_hash  BLOB NOT NULL,             -- SHA-256 of the secret; the secret itself is never stored
	name         TEXT NOT NULL DEFAULT '',  -- private: shown to operators only
	label        TEXT NOT NULL DEFAULT '',  -- public: "Invited by" on the pages; '' means the site name
	scope        TEXT NOT NULL CHECK (scope IN ('create', 'manage')),
	created_at   INTEGER NOT NULL,
	last_used_at INTEGER,                   -- NULL: never used
	expires_at   INTEGER,                   -- NULL: never expires
	quota        INTEGER NOT NULL DEFAULT 0 -- invites per hour, 0: unlimited
) STRICT;

CREATE TABLE invites (
	seq            INTEGER PRIMARY KEY,     -- creation order, for stable listing and paging
	id             TEXT NOT NULL UNIQUE,    -- public, 8 characters: base64url of token_hash's first 6 bytes
	token_hash     BLOB NOT NULL,           -- SHA-256 of the token (found through id)
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

-- A use, or while used_at is NULL a reservation: it records the account it is for, the instance
-- that owns it and a lease that owner renews. A reservation ends in a use or is deleted, never by
-- itself (see docs/registration.md).
CREATE TABLE uses (
	id          INTEGER PRIMARY KEY,
	invite_seq  INTEGER NOT NULL REFERENCES invites (seq) ON DELETE CASCADE,
	jid         TEXT NOT NULL,              -- the account created (or reset)
	reserved_at INTEGER NOT NULL,
	used_at     INTEGER,                    -- NULL while the use is only reserved
	owner       TEXT NOT NULL DEFAULT '',   -- instance that resolves the reservation
	lease_until INTEGER NOT NULL DEFAULT 0  -- after this anyone may resolve it
) STRICT;

CREATE INDEX uses_invite ON uses (invite_seq);
-- One unresolved reservation per account: after an unknown outcome, "the account exists" then
-- means that this reservation made it.
CREATE UNIQUE INDEX uses_pending_jid ON uses (jid) WHERE used_at IS NULL;
CREATE INDEX uses_pending_lease ON uses (lease_until) WHERE used_at IS NULL;
