package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/urfave/cli/v2"

	"xmpp-invites/keystore"
)

// openStore opens the database for a command other than serve and
// migrate: a new database is created at the current schema, an older one
// is left alone (exit 2 naming migrate). The store is scoped to cfg's
// domain: keys, invites and the rest of other domains are not seen.
func openStore(ctx context.Context, cfg Config, opts keystore.Options) (*keystore.Store, error) {
	st, err := keystore.Open(ctx, cfg.Database, opts)
	if err != nil {
		return nil, storeOpenErr(err)
	}
	return st.ForDomain(cfg.Domain), nil
}

// storeOpenErr turns the store's refusals into usage errors (exit 2) that
// say what to do.
func storeOpenErr(err error) error {
	switch {
	case errors.Is(err, keystore.ErrNeedsMigrate):
		return usageErr("%v (stop serve, back up, then run: xmpp-invites migrate)", err)
	case errors.Is(err, keystore.ErrTooNew):
		return usageErr("%v: use the newer binary, or restore the copy that migrate made", err)
	case errors.Is(err, keystore.ErrPreRelease), errors.Is(err, keystore.ErrNotOurs):
		return usageErr("%v", err)
	}
	return failErr("%v", err)
}

func (a *appState) migrateCommand() *cli.Command {
	return &cli.Command{
		Name:  "migrate",
		Usage: "upgrade the database schema to this binary's (copies an SQLite database first)",
		Description: `Upgrades the database written by an older xmpp-invites to this binary's schema,
in one transaction. SQLite: the file is copied next to it first (VACUUM INTO; the path is
printed); serve upgrades by itself when it starts; run migrate to upgrade first, for example
before starting the new serve. migrate refuses while a serve runs on the database.
PostgreSQL (a postgres:// database): only migrate changes the schema, and it makes no copy:
back up with pg_dump first (docs/operations.md).

Example:
   xmpp-invites --config /etc/xmpp-invites/xmpp-invites.toml migrate`,
		Action: a.migrate,
	}
}

func (a *appState) migrate(c *cli.Context) error {
	if _, err := positional(c, 0, 0, ""); err != nil {
		return err
	}
	cfg, err := a.config(c)
	if err != nil {
		return err
	}
	name := keystore.Redact(cfg.Database)
	pg := keystore.IsPostgres(cfg.Database)
	if !pg {
		// PostgreSQL: the migration's transaction locks the schema table
		// instead; instances still running the older binary refuse the
		// newer schema and stop.
		lock, err := keystore.TakeLock(cfg.Database)
		if errors.Is(err, keystore.ErrLocked) {
			return failErr("%v: stop it first (migrate changes the schema under it)", err)
		}
		if err != nil {
			return failErr("%v", err)
		}
		defer lock.Release()
	}
	upgraded := false
	// Records from before domains (schema 104) belong to the first domain.
	st, err := keystore.Open(c.Context, cfg.Database, keystore.Options{Migrate: true, Domain: cfg.Domain,
		Upgrading: func(from, to int, backup string) {
			upgraded = true
			if backup != "" {
				fmt.Fprintf(a.stdout, "copied %s to %s\n", name, backup)
			} else {
				fmt.Fprintf(a.stdout, "%s: no copy is made of a PostgreSQL database (back it up with pg_dump first)\n", name)
			}
			fmt.Fprintf(a.stdout, "upgrading the schema from %d to %d in one transaction\n", from, to)
		}})
	if err != nil {
		return storeOpenErr(err)
	}
	defer st.Close()
	if upgraded {
		fmt.Fprintf(a.stdout, "done: %s is at schema %d\n", name, keystore.SchemaVersion())
	} else {
		fmt.Fprintf(a.stdout, "%s is at schema %d already: nothing to do\n", name, keystore.SchemaVersion())
	}
	return nil
}

// schemaWatchEvery is how often serve checks that nobody upgraded the
// database under it.
const schemaWatchEvery = 5 * time.Second

// watchSchema returns an error when the database's schema becomes newer
// than this binary's (a newer binary migrated it): this serve would then
// misread it, so it stops. It returns nil when ctx ends.
func watchSchema(ctx context.Context, st *keystore.Store, log *slog.Logger) error {
	t := time.NewTicker(schemaWatchEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		v, err := st.Schema(ctx)
		if err != nil {
			continue // storage trouble shows in /readyz; try again
		}
		if v > keystore.SchemaVersion() {
			log.Error("the database was upgraded to a newer schema under this serve; stopping: run the newer binary",
				"schema", v, "known", keystore.SchemaVersion())
			return usageErr("the database schema became %d under this serve, which knows %d", v, keystore.SchemaVersion())
		}
	}
}
