// Package keystore keeps API keys, invites and their uses in one SQLite
// database, or in PostgreSQL for several instances (postgres.go, and
// docs/scaling.md). It owns every SQL statement of the project: the schema and its
// migrations, and the invariants of key and invite records (secrets and tokens
// stored only as SHA-256 hashes, uses counted by guarded updates, every write
// committed with synchronous=FULL before it is acknowledged).
package keystore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// Sentinel errors at the store boundary. Callers test them with errors.Is.
var (
	ErrNotFound     = errors.New("not found")
	ErrExists       = errors.New("already exists")
	ErrExpired      = errors.New("expired")
	ErrUsedUp       = errors.New("used up")
	ErrRevoked      = errors.New("revoked")
	ErrInUse        = errors.New("every remaining use is being redeemed right now")
	ErrAccountHeld  = errors.New("another redemption for this account is in progress")
	ErrUnauthorized = errors.New("unauthorized")
	ErrLimit        = errors.New("limit reached")
	ErrTooNew       = errors.New("database schema is newer than this binary")
	// ErrNeedsMigrate: the database has an older schema, which only
	// migrate (or serve) may upgrade.
	ErrNeedsMigrate = errors.New("database schema is older than this binary: run xmpp-invites migrate")
	// ErrPreRelease: a database of a development version before 1.0.
	ErrPreRelease = errors.New("database was made by a development version before 1.0, which 1.0 cannot read: move it away and start with a new database")
	// ErrNotOurs: the file is an SQLite database of another program.
	ErrNotOurs = errors.New("not an xmpp-invites database")
	ErrClosed  = errors.New("store closed")
)

// The schema of each engine, side by side: schema/sqlite/N.sql and
// schema/postgres/N.sql bring the schema to version N (100 is the 1.0
// schema, each later file one migration).
//
//go:embed schema
var schemaFS embed.FS

// schemaSQL returns the file of version v for engine ("sqlite" or
// "postgres").
func schemaSQL(engine string, v int) string {
	b, err := schemaFS.ReadFile(fmt.Sprintf("schema/%s/%d.sql", engine, v))
	if err != nil {
		panic(err) // embedded: a missing file is a build mistake
	}
	return string(b)
}

var schema10 = schemaSQL("sqlite", baseVersion)

// Schema identity. A database made by xmpp-invites carries applicationID
// (PRAGMA application_id) and its schema version (PRAGMA user_version):
// baseVersion is the 1.0 schema, each later migration adds one.
const (
	applicationID = 0x78696e76 // "xinv"
	baseVersion   = 100
)

// migration brings the schema from version-1 to version, on SQLite (sql)
// and on PostgreSQL (pg).
type migration struct {
	version int
	sql     string
	pg      string
	// after, when set, runs in the migration's transaction after its SQL
	// (the same statement text serves both engines).
	after func(ctx context.Context, tx *sql.Tx, opts Options) error
}

// migrations after the 1.0 schema, in order. Released entries never
// change: a new version appends one.
var migrations = []migration{
	{version: 101, sql: schemaSQL("sqlite", 101), pg: schemaSQL("postgres", 101)},                    // the portal: sign-in links, sessions, accounts, audit
	{version: 102, sql: schemaSQL("sqlite", 102), pg: schemaSQL("postgres", 102)},                    // presets: invites' rooms and circle, circles
	{version: 103, sql: schemaSQL("sqlite", 103), pg: schemaSQL("postgres", 103)},                    // form signing keys; PostgreSQL: key-change notifications
	{version: 104, sql: schemaSQL("sqlite", 104), pg: schemaSQL("postgres", 104), after: fillDomain}, // many domains
}

// SchemaVersion is the schema version this binary writes: the last
// migration's.
func SchemaVersion() int {
	if len(migrations) == 0 {
		return baseVersion
	}
	return migrations[len(migrations)-1].version
}

// domainTables are the tables whose rows belong to one domain (schema 104).
// circle_members follows circles (ON UPDATE CASCADE).
var domainTables = []string{"keys", "invites", "signins", "sessions", "accounts", "audit", "circles"}

// ErrDomainNeeded: a migration to schema 104 found rows from before
// domains, and Options.Domain does not say whose they are.
var ErrDomainNeeded = errors.New("the database has records from before domains: migrating needs the domain they belong to")

// fillDomain gives the rows from before schema 104 the domain opts.Domain.
func fillDomain(ctx context.Context, tx *sql.Tx, opts Options) error {
	for _, t := range domainTables {
		if opts.Domain == "" {
			var any int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM `+t+` LIMIT 1`).Scan(&any)
			if err == nil {
				return ErrDomainNeeded
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			continue
		}
		// t is one of our own table names, never input.
		if _, err := tx.ExecContext(ctx, `UPDATE `+t+` SET domain = ? WHERE domain = ''`, opts.Domain); err != nil {
			return fmt.Errorf("set the domain of %s: %w", t, err)
		}
	}
	return nil
}

// Options tunes a Store. The zero value is fine.
type Options struct {
	// Now replaces the clock, for tests.
	Now func() time.Time
	// Synchronous is the SQLite synchronous mode; empty means FULL, the only
	// mode under which an acknowledged write survives power loss.
	Synchronous string
	// Domain is the domain that records from before schema 104 (many
	// domains) belong to, when Open migrates past it: migrate and serve
	// pass the configured domain (the first of [[domains]]). Empty: such
	// a migration of a database with records fails with ErrDomainNeeded.
	Domain string
	// Migrate lets Open upgrade an older schema (serve and migrate do);
	// without it an older schema is ErrNeedsMigrate. Before upgrading,
	// Open copies the database next to it (VACUUM INTO).
	Migrate bool
	// Upgrading, when set, is called before an existing database's schema
	// is upgraded from version from to version to, with the path of the
	// copy made first.
	Upgrading func(from, to int, backup string)
	// Listen, on PostgreSQL, keeps a connection listening for changes of
	// keys made by other processes (the trigger of schema 103), which
	// drops them from the key cache at once; the cache is flushed whenever
	// that connection (re)connects and unused while it is down. For a
	// long-running serve; SQLite ignores it.
	Listen bool
	// ListenLost, when set, is told why the listening connection failed;
	// it reconnects by itself.
	ListenLost func(err error)
	// onListen and onNotify, for tests: told each (re)connection of the
	// listener and each key announced to it.
	onListen func()
	onNotify func(id string)
	// Committed, when set, is called by the writer after each write
	// transaction with the number of writes it carried and the time from
	// its BEGIN to the return of its COMMIT (synced under FULL). It must
	// be quick: the writer is the serial part of every write.
	Committed func(writes int, took time.Duration, err error)
}

// Store is the database, seen from one domain (see ForDomain). It is safe
// for concurrent use. Writes of concurrent callers share transactions
// (group commit): each caller is answered only after the transaction
// holding its write has committed.
type Store struct {
	*core
	// domain scopes every record the Store reads or writes: keys,
	// invites, sign-in links, sessions, account records, circles and the
	// audit log of other domains are invisible to it (schema 104).
	domain string
}

// ForDomain returns a view of the same database scoped to domain: the
// connections, the writer and the caches are shared; only records of
// domain are seen, and new ones belong to it. Closing any view closes the
// database.
func (s *Store) ForDomain(domain string) *Store { return &Store{core: s.core, domain: domain} }

// Domain is the domain the Store is scoped to.
func (s *Store) Domain() string { return s.domain }

// core is the database shared by the views of every domain.
type core struct {
	path      string  // the database file, or the redacted URL, named in errors
	pg        bool    // PostgreSQL (postgres.go); SQLite otherwise
	w         *sql.DB // one connection, used only by the writer goroutine
	r         *sql.DB // readers
	now       func() time.Time
	committed func(writes int, took time.Duration, err error)

	// Statements of the hot paths, prepared once: preparing is a good part
	// of the cost of a small query.
	insertInvite    *sql.Stmt // on w
	insertKeyInvite *sql.Stmt // on w: insertInvite, if the creating key still exists
	limitOldest     *sql.Stmt // on w, inside the write transaction
	keyByID         *sql.Stmt // on r
	authKey         *sql.Stmt // on r: a key or a decoy, for Authenticate
	inviteByID      *sql.Stmt // on r: an invite and its token hash, by ID

	keys keyCache // keys verified lately, for AuthenticateToCreate
	// The PostgreSQL listener (Options.Listen): stopped by Close.
	listenStop context.CancelFunc
	listenDone chan struct{}
	// authTrace, set by tests only, is told each step of an
	// authentication, to check that every failure takes the same steps.
	authTrace func(step string)

	probe probe // the last write probe, for Writable
	// pgProbing: a PostgreSQL write probe is under way (runProbe).
	pgProbing atomic.Bool
	// faulted: the last transaction failed with a storage fault. Only the
	// writer goroutine uses it.
	faulted bool

	ops     chan *writeOp
	closing chan struct{}
	done    chan struct{}
	once    sync.Once
}

type writeOp struct {
	ctx context.Context
	fn  func(tx *sql.Tx) error
	// single: fn makes at most one change, in one statement, so a failing
	// fn leaves nothing behind and needs no savepoint (SQLite undoes a
	// failed statement by itself).
	single bool
	errc   chan error
}

// Open opens (creating if needed) the database at path and migrates it. A
// new database file is created with mode 0600, and so are its -wal and -shm
// files; an existing file keeps its mode.
//
// A postgres:// or postgresql:// URL opens a PostgreSQL database instead
// (see postgres.go); its password never appears in errors.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("open database: empty path")
	}
	if IsPostgres(path) {
		return openPostgres(ctx, path, opts)
	}
	sync := opts.Synchronous
	if sync == "" {
		sync = "FULL"
	}
	switch sync {
	case "FULL", "NORMAL", "EXTRA":
	default:
		return nil, fmt.Errorf("open database: unsupported synchronous mode %q", sync)
	}
	q := url.Values{}
	q.Set("_busy_timeout", "10000")
	q.Set("_journal_mode", "WAL")
	q.Set("_foreign_keys", "on")
	q.Set("_synchronous", sync)
	wq := url.Values{}
	for k, v := range q {
		wq[k] = v
	}
	wq.Set("_txlock", "immediate")
	if err := createPrivate(path); err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	// Refuse a file that is not ours before the first connection turns on
	// WAL, which would change its header.
	if err := peekHeader(path); err != nil {
		return nil, err
	}
	w, err := sql.Open("sqlite3", "file:"+escapePath(path)+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := migrate(ctx, w, path, opts); err != nil {
		w.Close()
		return nil, err
	}
	q.Set("_query_only", "true")
	r, err := sql.Open("sqlite3", "file:"+escapePath(path)+"?"+q.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	r.SetMaxOpenConns(readerConns())
	r.SetMaxIdleConns(readerConns())
	s := &Store{core: &core{
		path: path, w: w, r: r, now: opts.Now, committed: opts.Committed,
		ops:     make(chan *writeOp, 256),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.prepare(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	go s.writer()
	return s, nil
}

func (s *Store) prepare(ctx context.Context) error {
	for _, p := range []struct {
		db   *sql.DB
		dst  **sql.Stmt
		text string
	}{
		{s.w, &s.insertInvite, insertInviteSQL},
		{s.w, &s.insertKeyInvite, insertKeyInviteSQL},
		{s.w, &s.limitOldest, limitOldestSQL},
		{s.r, &s.keyByID, `SELECT ` + keyColumns + `, secret_hash FROM keys WHERE id = ? AND domain = ?`},
		{s.r, &s.authKey, authKeySQL},
		{s.r, &s.inviteByID, inviteByIDSQL},
	} {
		st, err := p.db.PrepareContext(ctx, p.text)
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		*p.dst = st
	}
	return nil
}

// createPrivate creates the database file, if it does not exist yet, with
// mode 0600: it holds key hashes, invite tokens' hashes and who registered.
// SQLite creates the -wal and -shm files with the mode of the database file
// whatever the umask (os_unix.c: findCreateFileMode, unixOpenSharedMemory,
// robust_open), so they stay private too each time they are created again.
// An existing file keeps its mode: the operator chose it, and serve warns
// about a loose one. SQLite takes an empty file for a new database.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if _, serr := os.Stat(path); errors.Is(err, fs.ErrExist) || serr == nil {
			return nil
		}
		return err
	}
	return f.Close()
}

// readerConns is the size of the readers' pool.
func readerConns() int { return max(4, runtime.GOMAXPROCS(0)*2) }

// escapePath keeps a file name with '?' or '#' from being read as URI syntax.
func escapePath(p string) string {
	return (&url.URL{Path: p}).EscapedPath()
}

// migrate creates the schema in a new database, or checks an existing
// one's identity and version and, with opts.Migrate, upgrades it after
// copying it.
func migrate(ctx context.Context, db *sql.DB, path string, opts Options) (err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer conn.Close()
	app, version, tables, err := identify(ctx, conn)
	if err != nil {
		return err
	}
	current := SchemaVersion()
	switch {
	case app == 0 && version == 0 && tables == 0:
		return create(ctx, conn)
	case app == 0 && version >= 1 && version <= 4:
		return fmt.Errorf("database %s (schema %d): %w", path, version, ErrPreRelease)
	case app != applicationID:
		return fmt.Errorf("database %s (application_id %#x): %w", path, app, ErrNotOurs)
	case version > current:
		return fmt.Errorf("database %s has schema %d, this binary knows %d: %w", path, version, current, ErrTooNew)
	case version == current:
		return nil
	case version < baseVersion:
		return fmt.Errorf("database %s has an unknown schema %d: %w", path, version, ErrNotOurs)
	case !opts.Migrate:
		return fmt.Errorf("database %s has schema %d, this binary writes %d: %w", path, version, current, ErrNeedsMigrate)
	}
	backup := fmt.Sprintf("%s.schema%d-%s.bak", path, version, time.Now().UTC().Format("20060102T150405Z"))
	if _, err := conn.ExecContext(ctx, "VACUUM INTO ?", backup); err != nil {
		return fmt.Errorf("migrate: copy the database to %s first: %w", backup, err)
	}
	defer func() {
		// A refused or failed upgrade left the database as it was: the copy
		// would only be clutter beside it.
		if err != nil {
			os.Remove(backup)
			err = fmt.Errorf("%w (the database is unchanged)", err)
		}
	}()
	if opts.Upgrading != nil {
		opts.Upgrading(version, current, backup)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	// Read again inside the transaction: another process may have migrated
	// in between.
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	for _, m := range migrations {
		if m.version <= version {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("migrate to schema %d: %w", m.version, err)
		}
		if m.after != nil {
			if err := m.after(ctx, tx, opts); err != nil {
				return fmt.Errorf("migrate to schema %d: %w", m.version, err)
			}
		}
	}
	if err := setVersion(ctx, tx, current); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}

// peekHeader refuses, from the file's header alone, a file that is not an
// SQLite database, another program's database, one of a pre-1.0
// development version, or one with a newer schema. migrate checks again
// on the connection (the header in the file may lag behind its WAL).
func peekHeader(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer f.Close()
	h := make([]byte, 100)
	n, err := io.ReadFull(f, h)
	if n == 0 && (err == io.EOF || err == nil) {
		return nil // empty: a new database
	}
	if err != nil || string(h[:16]) != "SQLite format 3\x00" {
		return fmt.Errorf("database %s: %w (not an SQLite database)", path, ErrNotOurs)
	}
	be := func(off int) int { return int(binary.BigEndian.Uint32(h[off:])) }
	cookie, version, app := be(40), be(60), be(68)
	switch {
	case app == 0 && version >= 1 && version <= 4:
		return fmt.Errorf("database %s (schema %d): %w", path, version, ErrPreRelease)
	case app == 0 && (version != 0 || cookie != 0):
		return fmt.Errorf("database %s: %w", path, ErrNotOurs)
	case app != 0 && app != applicationID:
		return fmt.Errorf("database %s (application_id %#x): %w", path, app, ErrNotOurs)
	case app == applicationID && version > SchemaVersion():
		return fmt.Errorf("database %s has schema %d, this binary knows %d: %w", path, version, SchemaVersion(), ErrTooNew)
	}
	return nil
}

// identify reads a database's application_id, user_version and number of
// tables.
func identify(ctx context.Context, conn *sql.Conn) (app, version, tables int, err error) {
	if err = conn.QueryRowContext(ctx, "PRAGMA application_id").Scan(&app); err == nil {
		if err = conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err == nil {
			err = conn.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'").Scan(&tables)
		}
	}
	if err != nil {
		return 0, 0, 0, fmt.Errorf("open database: read its schema: %w", err)
	}
	return app, version, tables, nil
}

// create lays the current schema into an empty database.
func create(ctx context.Context, conn *sql.Conn) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	defer tx.Rollback()
	var tables int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'").Scan(&tables); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	if tables > 0 {
		return nil // another process created it in between
	}
	if _, err := tx.ExecContext(ctx, schema10); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	for _, m := range migrations {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("create schema %d: %w", m.version, err)
		}
	}
	// PRAGMA takes no placeholders; the values are our own integers.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", applicationID)); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	if err := setVersion(ctx, tx, SchemaVersion()); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create schema: commit: %w", err)
	}
	return nil
}

func setVersion(ctx context.Context, tx *sql.Tx, v int) error {
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v)); err != nil {
		return fmt.Errorf("set schema version: %w", err)
	}
	return nil
}

// Schema reads the database's schema version now: a running serve checks
// that nobody upgraded the database under it.
func (s *Store) Schema(ctx context.Context) (int, error) {
	var v int
	q := "PRAGMA user_version"
	if s.pg {
		q = "SELECT version FROM xmpp_invites_schema"
	}
	if err := s.r.QueryRowContext(ctx, q).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// Engine names the database engine: "sqlite" or "postgresql".
func (s *Store) Engine() string {
	if s.pg {
		return "postgresql"
	}
	return "sqlite"
}

// Close waits for queued writes, then closes the database.
func (s *Store) Close() error {
	s.once.Do(func() { close(s.closing) })
	<-s.done
	if s.listenStop != nil {
		s.listenStop()
		<-s.listenDone
	}
	err := errors.Join(s.insertInvite.Close(), s.insertKeyInvite.Close(), s.limitOldest.Close(), s.keyByID.Close(),
		s.authKey.Close(), s.inviteByID.Close(), s.r.Close())
	if s.w != s.r {
		err = errors.Join(err, s.w.Close())
	}
	return err
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) (err error) {
	defer s.classifyRead(&err)
	var one int
	if err := s.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// write runs fn inside a transaction shared with other concurrent writes and
// returns once that transaction has committed (or fn's changes were rolled
// back). fn runs under a savepoint, so its error undoes only its own changes.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.enqueue(&writeOp{ctx: ctx, fn: fn, errc: make(chan error, 1)})
}

// writeSingle is write for a fn whose only change is one statement: it
// skips the savepoint, which is a good part of the cost of a small write.
func (s *Store) writeSingle(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.enqueue(&writeOp{ctx: ctx, fn: fn, single: true, errc: make(chan error, 1)})
}

func (s *Store) enqueue(op *writeOp) error {
	ctx := op.ctx
	if s.pg {
		select {
		case <-s.closing:
			return ErrClosed
		default:
			return s.pgRun(op)
		}
	}
	select {
	case <-s.closing:
		return ErrClosed
	case s.ops <- op:
	case <-ctx.Done():
		return ctx.Err()
	}
	// The op is queued: wait for its outcome even if ctx ends, so a caller
	// never reports failure for a write that then commits.
	return <-op.errc
}

// maxBatch bounds how many writes share one commit.
const maxBatch = 128

func (s *Store) writer() {
	defer close(s.done)
	batch := make([]*writeOp, 0, maxBatch)
	for {
		batch = batch[:0]
		select {
		case op := <-s.ops:
			batch = append(batch, op)
		case <-s.closing:
			// Drain what was queued before Close.
			for {
				select {
				case op := <-s.ops:
					s.commit([]*writeOp{op})
				default:
					return
				}
			}
		}
		batch = s.commit(s.drain(batch))
	}
}

// commit runs batch, and the writes queued while it ran, in one transaction,
// then answers each caller.
func (s *Store) commit(batch []*writeOp) []*writeOp {
	results := make([]error, 0, cap(batch))
	begin := time.Now()
	batch, results, err := s.runBatch(batch, results)
	if s.committed != nil {
		s.committed(len(batch), time.Since(begin), err)
	}
	err = s.classify(err)
	fault := err
	for i, op := range batch {
		if err != nil && results[i] == nil {
			results[i] = err
		}
		results[i] = s.classify(results[i])
		if fault == nil && errors.Is(results[i], ErrUnavailable) {
			fault = results[i]
		}
		op.errc <- results[i]
	}
	s.afterCommit(fault)
	return batch
}

// afterCommit keeps the store usable across storage faults: after one, the
// idle connections, the writer's and the readers', are closed, so that the
// next writes open fresh ones. A file SQLite opened read-only stays so for
// the connection, and the shared-memory index opened read-only stays so
// for every connection of the process until the last one closes. The
// write probe's cached result is brought up to date either way, so
// readiness does not lag behind what writers see.
func (s *Store) afterCommit(fault error) {
	switch {
	case fault != nil:
		resetPool(s.w, 1)
		resetPool(s.r, readerConns())
		s.faulted = true
		s.setProbe(fault)
	case s.faulted:
		s.faulted = false
		s.setProbe(nil)
	}
}

// runBatch runs the writes of batch in one transaction. Writes queued while
// it runs join the transaction before it commits (up to maxBatch in all):
// they would otherwise wait for this commit and then pay for one of their
// own. It returns the writes it ran with their results.
func (s *Store) runBatch(batch []*writeOp, results []error) ([]*writeOp, []error, error) {
	ctx := context.Background()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return batch, results[:len(batch)], fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	for i := 0; i < len(batch); i++ {
		opErr, err := s.runOp(tx, batch[i])
		if err == nil && faultKind(opErr) != "" {
			// After SQLITE_FULL, IOERR or BUSY SQLite may have rolled back
			// the whole transaction; the next writes would run outside it.
			err = opErr
		}
		results = append(results, opErr)
		if err != nil {
			// The transaction is in an unknown state: fail all of it.
			return batch, append(results, make([]error, len(batch)-len(results))...), err
		}
		if i == len(batch)-1 {
			batch = s.drain(batch)
		}
	}
	if err := tx.Commit(); err != nil {
		return batch, results, fmt.Errorf("commit: %w", err)
	}
	return batch, results, nil
}

// drain appends the writes queued now to batch, up to maxBatch.
func (s *Store) drain(batch []*writeOp) []*writeOp {
	for len(batch) < maxBatch {
		select {
		case op := <-s.ops:
			batch = append(batch, op)
		default:
			return batch
		}
	}
	return batch
}

// runOp runs one write inside the batch's transaction. A failed write is
// undone alone: by SQLite itself for a single statement, by its savepoint
// otherwise. opErr is the write's own error; err, when a savepoint itself
// fails, fails the whole batch.
func (s *Store) runOp(tx *sql.Tx, op *writeOp) (opErr, err error) {
	if err := op.ctx.Err(); err != nil {
		return err, nil
	}
	if op.single {
		return op.fn(tx), nil
	}
	ctx := context.Background()
	if _, err := tx.ExecContext(ctx, "SAVEPOINT op"); err != nil {
		return nil, fmt.Errorf("savepoint: %w", err)
	}
	if opErr = op.fn(tx); opErr != nil {
		if _, err := tx.ExecContext(ctx, "ROLLBACK TO op"); err != nil {
			return nil, fmt.Errorf("rollback to savepoint: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, "RELEASE op"); err != nil {
		return nil, fmt.Errorf("release savepoint: %w", err)
	}
	return opErr, nil
}

// randomString returns base64url (no padding) of n random bytes. It never
// starts with '-', so that IDs and tokens given to the CLI as arguments are
// not mistaken for flags (this costs 1/64 of one character's entropy).
func randomString(n int) string {
	b := make([]byte, n)
	for {
		// crypto/rand.Read never returns an error (Go 1.24+).
		rand.Read(b)
		if s := base64.RawURLEncoding.EncodeToString(b); s[0] != '-' {
			return s
		}
	}
}

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func isUnique(err error) bool {
	if pgUnique(err) {
		return true
	}
	var se sqlite3.Error
	return errors.As(err, &se) && se.Code == sqlite3.ErrConstraint &&
		(se.ExtendedCode == sqlite3.ErrConstraintUnique || se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey)
}

func unix(t time.Time) int64 { return t.UTC().Unix() }

func fromUnix(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.Unix(v.Int64, 0).UTC()
}

func nullTime(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: unix(t), Valid: true}
}
