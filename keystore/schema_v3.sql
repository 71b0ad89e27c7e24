-- Version 3: an invite's public ID is derived from its token hash (base64url of the hash's first
-- 6 bytes), so one short index finds an invite by ID and by token. Creating an invite then adds
-- one entry to one random-order index instead of two, and that index holds 8-character keys
-- instead of 32-byte ones. The table is rebuilt to drop the UNIQUE index on token_hash (SQLite
-- cannot drop a constraint's index). Invites created before keep their random IDs; their tokens
-- are found through legacy_tokens, which nothing adds to any more.
-- Run with foreign_keys off (see migrate): dropping the old table must not cascade to uses.

CREATE TABLE invites_v3 (
	seq            INTEGER PRIMARY KEY,     -- creation order, for stable listing and paging
	id             TEXT NOT NULL UNIQUE,    -- public, 8 characters: base64url(token_hash[0:6]) since v3
	token_hash     BLOB NOT NULL,           -- SHA-256 of the token
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

INSERT INTO invites_v3 (seq, id, token_hash, type, username, creator, note, allow_register,
                        created_at, expires_at, max_uses, uses, revoked_at, done_at)
	SELECT seq, id, token_hash, type, username, creator, note, allow_register,
	       created_at, expires_at, max_uses, uses, revoked_at, done_at
	FROM invites;

-- Tokens of the invites made before version 3, whose IDs are not derived from them.
CREATE TABLE legacy_tokens (
	token_hash BLOB PRIMARY KEY,
	invite_seq INTEGER NOT NULL REFERENCES invites (seq) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

INSERT INTO legacy_tokens (token_hash, invite_seq) SELECT token_hash, seq FROM invites;

CREATE INDEX legacy_tokens_invite ON legacy_tokens (invite_seq);

DROP TABLE invites;
ALTER TABLE invites_v3 RENAME TO invites;

CREATE INDEX invites_creator ON invites (creator, created_at);
CREATE INDEX invites_expires ON invites (expires_at);
CREATE INDEX invites_done ON invites (done_at) WHERE done_at IS NOT NULL;
