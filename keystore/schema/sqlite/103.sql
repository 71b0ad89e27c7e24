-- Schema 103: the signing keys of forms (CSRF tokens), kept in the database so that every
-- instance on it signs and checks with the same keys, rotated with an overlap (formkeys.go).
-- On PostgreSQL 103 also adds a trigger telling other instances of key changes
-- (../postgres/103.sql); SQLite has one serve per file and needs none.
-- Released migrations never change; see migrations in store.go.

CREATE TABLE form_keys (
	id         INTEGER PRIMARY KEY,
	secret     BLOB NOT NULL,      -- 32 random bytes
	created_at INTEGER NOT NULL    -- Unix seconds; signs until rotated, checks for an overlap after
) STRICT;
