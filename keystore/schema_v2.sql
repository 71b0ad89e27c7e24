-- Version 2: the purge of stale reservations searches instead of scanning uses.
CREATE INDEX uses_reserved ON uses (reserved_at) WHERE used_at IS NULL;
