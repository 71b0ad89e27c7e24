-- Schema 102 on PostgreSQL, equivalent to ../sqlite/102.sql: onboarding presets (an invite's
-- rooms and circle; circles).

ALTER TABLE invites ADD COLUMN rooms TEXT NOT NULL DEFAULT '';
ALTER TABLE invites ADD COLUMN circle TEXT NOT NULL DEFAULT '';

CREATE TABLE circles (
	name       TEXT PRIMARY KEY,
	created_at BIGINT NOT NULL
);

CREATE TABLE circle_members (
	rowid    BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
	circle   TEXT NOT NULL REFERENCES circles (name) ON DELETE CASCADE,
	jid      TEXT NOT NULL,
	added_at BIGINT NOT NULL,
	PRIMARY KEY (circle, jid)
);

CREATE INDEX circle_members_jid ON circle_members (jid);
