-- Schema 102: onboarding presets. An invite may name group chats its new account is invited to,
-- and a circle it joins; a circle is a named set of accounts that are each other's contacts (see
-- docs/presets.md). Released migrations never change; see migrations in store.go.

ALTER TABLE invites ADD COLUMN rooms TEXT NOT NULL DEFAULT '';  -- bare JIDs of MUC rooms, separated by one space
ALTER TABLE invites ADD COLUMN circle TEXT NOT NULL DEFAULT ''; -- a circle's name; '': none

CREATE TABLE circles (
	name       TEXT PRIMARY KEY,             -- see CheckCircleName
	created_at INTEGER NOT NULL
) STRICT;

-- The members of a circle, in the order they joined.
CREATE TABLE circle_members (
	circle   TEXT NOT NULL REFERENCES circles (name) ON DELETE CASCADE,
	jid      TEXT NOT NULL,                  -- a bare JID
	added_at INTEGER NOT NULL,
	PRIMARY KEY (circle, jid)
) STRICT;

CREATE INDEX circle_members_jid ON circle_members (jid);
