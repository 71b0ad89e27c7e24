//go:build schemanext

package keystore

// A synthetic next schema version, built in only with -tags schemanext: the
// upgrade test runs a binary that knows it against a database of the 1.0
// schema, under load, to check that migrating loses nothing.
func init() {
	migrations = append(migrations, migration{version: SchemaVersion() + 1,
		sql: `ALTER TABLE invites ADD COLUMN schemanext_test INTEGER NOT NULL DEFAULT 0`,
		pg:  `ALTER TABLE invites ADD COLUMN schemanext_test BIGINT NOT NULL DEFAULT 0`})
}
