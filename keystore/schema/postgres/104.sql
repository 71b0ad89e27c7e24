-- Schema 104 on PostgreSQL, equivalent to ../sqlite/104.sql: keys, invites, sign-in links,
-- sessions, account records, circles and the audit log belong to one domain. Rows from before
-- this version get the domain the migration is given (keystore.Options.Domain).

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

-- A circle's name is unique within its domain.
ALTER TABLE circle_members DROP CONSTRAINT circle_members_circle_fkey;
ALTER TABLE circle_members DROP CONSTRAINT circle_members_pkey;
ALTER TABLE circles DROP CONSTRAINT circles_pkey;
ALTER TABLE circles ADD COLUMN domain TEXT NOT NULL DEFAULT '';
ALTER TABLE circles ADD PRIMARY KEY (domain, name);
ALTER TABLE circle_members ADD COLUMN domain TEXT NOT NULL DEFAULT '';
ALTER TABLE circle_members ADD PRIMARY KEY (domain, circle, jid);
ALTER TABLE circle_members ADD FOREIGN KEY (domain, circle) REFERENCES circles (domain, name) ON DELETE CASCADE ON UPDATE CASCADE;
