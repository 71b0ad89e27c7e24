-- Schema 104: many domains. Keys, invites, sign-in links, sessions, account records, circles and
-- the audit log belong to one domain (see docs/domains.md). Rows from before this version get
-- the domain the migration is given (keystore.Options.Domain: migrate and serve pass the
-- configured domain, the first one with [[domains]]); the '' default is never used by a write.
-- Released migrations never change; see migrations in store.go.

ALTER TABLE keys ADD COLUMN domain TEXT NOT NULL DEFAULT '';
ALTER TABLE invites ADD COLUMN domain TEXT NOT NULL DEFAULT '';
ALTER TABLE signins ADD COLUMN domain TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN domain TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN domain TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN domain TEXT NOT NULL DEFAULT '';

CREATE INDEX keys_domain ON keys (domain, created_at);
CREATE INDEX invites_domain ON invites (domain, seq);
CREATE INDEX accounts_domain ON accounts (domain, seq);
CREATE INDEX audit_domain ON audit (domain, seq);

-- A circle's name is unique within its domain: circles and their members are made again with
-- the domain in their keys (SQLite cannot change a primary key in place).
CREATE TABLE circles_104 (
	domain     TEXT NOT NULL,
	name       TEXT NOT NULL,                -- see CheckCircleName
	created_at INTEGER NOT NULL,
	PRIMARY KEY (domain, name)
) STRICT;

CREATE TABLE circle_members_104 (
	domain   TEXT NOT NULL,
	circle   TEXT NOT NULL,
	jid      TEXT NOT NULL,                  -- a bare JID
	added_at INTEGER NOT NULL,
	PRIMARY KEY (domain, circle, jid),
	FOREIGN KEY (domain, circle) REFERENCES circles_104 (domain, name) ON DELETE CASCADE ON UPDATE CASCADE
) STRICT;

INSERT INTO circles_104 (domain, name, created_at) SELECT '', name, created_at FROM circles;
INSERT INTO circle_members_104 (domain, circle, jid, added_at)
	SELECT '', circle, jid, added_at FROM circle_members ORDER BY rowid;
DROP TABLE circle_members;
DROP TABLE circles;
ALTER TABLE circles_104 RENAME TO circles;
ALTER TABLE circle_members_104 RENAME TO circle_members;
CREATE INDEX circle_members_jid ON circle_members (jid);
