-- Version 4: a reservation records the account it is for, the instance that owns it and a lease
-- that owner renews. A reservation is never given back blindly: when its outcome is unknown, the
-- server is asked whether the account exists, and the use is confirmed or released accordingly.
-- Reservations of version 3 named no account; they lapsed after two minutes and are dropped.

DELETE FROM uses WHERE used_at IS NULL;
ALTER TABLE uses ADD COLUMN owner TEXT NOT NULL DEFAULT '';      -- instance that resolves it
ALTER TABLE uses ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0; -- after this anyone may resolve it
-- One unresolved reservation per account: while one is open, no other can be taken for the same
-- name, so "the account exists" after an unknown outcome means this reservation made it.
CREATE UNIQUE INDEX uses_pending_jid ON uses (jid) WHERE used_at IS NULL;
