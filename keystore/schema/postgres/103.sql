-- Schema 103 on PostgreSQL, equivalent to ../sqlite/103.sql (form signing keys), and a trigger
-- on keys: a deleted key, or one whose secret, scope, expiry, quota, name or label changed, is
-- announced on the channel xmpp_invites_keys with its ID, whoever changes it (serve or the CLI),
-- so that every listening instance drops it from its cache (postgres.go, listenKeys).
-- last_used_at alone changes once a minute per key in use and is not announced.

CREATE TABLE form_keys (
	id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	secret     BYTEA NOT NULL,
	created_at BIGINT NOT NULL
);

CREATE FUNCTION xmpp_invites_keys_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('xmpp_invites_keys', OLD.id);
	RETURN NULL;
END
$$;

CREATE TRIGGER keys_notify_delete AFTER DELETE ON keys
	FOR EACH ROW EXECUTE FUNCTION xmpp_invites_keys_notify();

CREATE TRIGGER keys_notify_update AFTER UPDATE ON keys
	FOR EACH ROW WHEN ((OLD.id, OLD.secret_hash, OLD.scope, OLD.expires_at, OLD.quota, OLD.name, OLD.label)
		IS DISTINCT FROM (NEW.id, NEW.secret_hash, NEW.scope, NEW.expires_at, NEW.quota, NEW.name, NEW.label))
	EXECUTE FUNCTION xmpp_invites_keys_notify();
