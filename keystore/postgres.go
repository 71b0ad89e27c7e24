package keystore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// The PostgreSQL engine. The store's statements are written once, in the
// dialect both engines share: SQLite's ? and ?N placeholders are rewritten
// to $N by the connection wrapper below, Go bools are sent as 0/1 (the
// flag columns are BIGINT, as SQLite stores them), and the PostgreSQL
// tables that SQLite statements address by rowid have an identity column
// of that name. The few statements that differ are chosen by Store.pg.
//
// Writes do not go through the group-commit writer: each runs in its own
// SERIALIZABLE transaction, retried on a serialization failure or a
// deadlock. That keeps every count-then-insert invariant (reservations
// against an invite's uses, key quotas, per-user daily quotas, the invite
// tree's size, the sign-in link limit) exact with several instances on one
// database, without a lock statement per invariant: PostgreSQL aborts one
// of two transactions that both counted before either inserted.

// IsPostgres reports whether database names a PostgreSQL database (a
// postgres:// or postgresql:// URL) rather than an SQLite file.
func IsPostgres(database string) bool {
	return strings.HasPrefix(database, "postgres://") || strings.HasPrefix(database, "postgresql://")
}

// Redact returns database fit for logs and errors: a PostgreSQL URL with
// its password replaced by "xxxxx" (also a password=… query parameter); a
// file path as it is.
func Redact(database string) string {
	if !IsPostgres(database) {
		return database
	}
	u, hosts, err := parsePGURL(database)
	if err != nil {
		return "postgres://(unparsable URL)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	if hosts != "" {
		return strings.Replace(u.Redacted(), pgHostsPlaceholder, hosts, 1)
	}
	return u.Redacted()
}

// pgHostsPlaceholder stands for the hosts of a URL that net/url cannot
// parse but pgx can.
const pgHostsPlaceholder = "hosts.invalid"

// parsePGURL parses a PostgreSQL URL. Go's parser refuses several hosts
// when they are IPv6 literals ("[::1]:5432,[::2]:5432"), which pgx (like
// libpq) accepts for failover: such hosts are replaced by
// pgHostsPlaceholder and returned, so the rest can still be parsed.
func parsePGURL(database string) (u *url.URL, hosts string, err error) {
	u, err = url.Parse(database)
	if err == nil {
		return u, "", nil
	}
	scheme, rest, ok := strings.Cut(database, "://")
	if !ok {
		return nil, "", err
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	start := strings.LastIndexByte(rest[:end], '@') + 1
	hosts = rest[start:end]
	if !strings.Contains(hosts, ",") {
		return nil, "", err
	}
	u, err2 := url.Parse(scheme + "://" + rest[:start] + pgHostsPlaceholder + rest[end:])
	if err2 != nil {
		return nil, "", err
	}
	return u, hosts, nil
}

// redactErr hides the password of database in err's text, wherever a
// driver may have copied it.
type redactErr struct {
	err    error
	secret string
}

func (e *redactErr) Error() string {
	if e.secret == "" {
		return e.err.Error()
	}
	return strings.ReplaceAll(e.err.Error(), e.secret, "xxxxx")
}

func (e *redactErr) Unwrap() error { return e.err }

// pgPassword returns the password in a PostgreSQL URL, or "".
func pgPassword(database string) string {
	u, _, err := parsePGURL(database)
	if err != nil {
		// Unparsable: hide everything between "://" and "@".
		if _, rest, ok := strings.Cut(database, "://"); ok {
			if cred, _, ok := strings.Cut(rest, "@"); ok {
				return cred
			}
		}
		return ""
	}
	if p, ok := u.User.Password(); ok && p != "" {
		return p
	}
	return u.Query().Get("password")
}

// pgMaxConns bounds each instance's pool: PostgreSQL's default
// max_connections is 100, shared by every instance and the CLI.
const pgMaxConns = 20

func openPostgres(ctx context.Context, database string, opts Options) (s *Store, err error) {
	name := Redact(database)
	secret := pgPassword(database)
	defer func() {
		if err != nil {
			err = &redactErr{err: err, secret: secret}
		}
	}()
	cfg, err := pgx.ParseConfig(database)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", name, err)
	}
	db := sql.OpenDB(pgConnector{stdlib.GetConnector(*cfg)})
	db.SetMaxOpenConns(pgMaxConns)
	db.SetMaxIdleConns(pgMaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := pgMigrate(ctx, db, name, opts); err != nil {
		db.Close()
		return nil, err
	}
	s = &Store{core: &core{
		path: name, w: db, r: db, now: opts.Now, committed: opts.Committed, pg: true,
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}}
	close(s.done) // no writer goroutine
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.prepare(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if opts.Listen {
		s.startListening(cfg, secret, opts)
	}
	return s, nil
}

// pgKeysChannel is where the trigger of schema 103 announces the ID of a
// key deleted or changed, by any process.
const pgKeysChannel = "xmpp_invites_keys"

// startListening runs the listener until Close. The key cache stays off
// until the first connection listens.
func (s *Store) startListening(cfg *pgx.ConnConfig, secret string, opts Options) {
	s.keys.flush(true)
	ctx, stop := context.WithCancel(context.Background())
	s.listenStop, s.listenDone = stop, make(chan struct{})
	lost, onListen, onNotify := opts.ListenLost, opts.onListen, opts.onNotify
	go func() {
		defer close(s.listenDone)
		failures := 0
		for {
			listened, err := s.listenKeys(ctx, cfg, onListen, onNotify)
			// Whatever was announced from now on is missed: remember
			// nothing until a connection listens again.
			s.keys.flush(true)
			if ctx.Err() != nil {
				return
			}
			if lost != nil {
				lost(&redactErr{err: err, secret: secret})
			}
			if listened {
				failures = 0
			}
			failures++
			pause := min(50*time.Millisecond<<min(failures, 7), 5*time.Second)
			select {
			case <-ctx.Done():
				return
			case <-time.After(pause):
			}
		}
	}()
}

// listenKeys connects, listens on pgKeysChannel, flushes the key cache
// (changes made while nobody listened are unknown) and turns it on, then
// forgets each key announced until the connection fails or ctx ends.
// listened reports whether it got as far as listening.
func (s *Store) listenKeys(ctx context.Context, cfg *pgx.ConnConfig, onListen func(), onNotify func(string)) (listened bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, fmt.Errorf("listen for key changes: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+pgKeysChannel); err != nil {
		return false, fmt.Errorf("listen for key changes: %w", err)
	}
	s.keys.flush(false)
	if onListen != nil {
		onListen()
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, fmt.Errorf("listen for key changes: %w", err)
		}
		s.keys.forget(n.Payload)
		if onNotify != nil {
			onNotify(n.Payload)
		}
	}
}

// pgMigrate creates the schema in an empty database, or checks an existing
// one's identity and version and, with opts.Migrate only, upgrades it in one
// transaction. There is no copy first: the docs say to pg_dump.
func pgMigrate(ctx context.Context, db *sql.DB, name string, opts Options) error {
	app, version, tables, err := pgIdentify(ctx, db)
	if err != nil {
		return err
	}
	current := SchemaVersion()
	switch {
	case app == 0 && tables == 0:
		return pgCreate(ctx, db)
	case app != applicationID:
		return fmt.Errorf("database %s: %w (it has tables, and no xmpp_invites_schema)", name, ErrNotOurs)
	case version > current:
		return fmt.Errorf("database %s has schema %d, this binary knows %d: %w", name, version, current, ErrTooNew)
	case version == current:
		return nil
	case version < baseVersion:
		return fmt.Errorf("database %s has an unknown schema %d: %w", name, version, ErrNotOurs)
	case !opts.Migrate:
		return fmt.Errorf("database %s has schema %d, this binary writes %d: %w", name, version, current, ErrNeedsMigrate)
	}
	if opts.Upgrading != nil {
		opts.Upgrading(version, current, "")
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	// The lock waits for another migrate; read again under it.
	if _, err := tx.ExecContext(ctx, `LOCK TABLE xmpp_invites_schema IN ACCESS EXCLUSIVE MODE`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT version FROM xmpp_invites_schema`).Scan(&version); err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	for _, m := range migrations {
		if m.version <= version {
			continue
		}
		if m.pg == "" {
			return fmt.Errorf("migrate to schema %d: no PostgreSQL migration", m.version)
		}
		if _, err := tx.ExecContext(ctx, m.pg); err != nil {
			return fmt.Errorf("migrate to schema %d: %w", m.version, err)
		}
		if m.after != nil {
			if err := m.after(ctx, tx, opts); err != nil {
				return fmt.Errorf("migrate to schema %d: %w", m.version, err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE xmpp_invites_schema SET version = ?`, current); err != nil {
		return fmt.Errorf("set schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}

// pgIdentify reads the application ID and schema version recorded in
// xmpp_invites_schema (0, 0 without that table) and the number of tables
// in the current schema.
func pgIdentify(ctx context.Context, db *sql.DB) (app, version, tables int, err error) {
	err = db.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.tables
		WHERE table_schema = current_schema()`).Scan(&tables)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("open database: read its schema: %w", err)
	}
	var exists bool
	if err := db.QueryRowContext(ctx, `SELECT to_regclass('xmpp_invites_schema') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, 0, 0, fmt.Errorf("open database: read its schema: %w", err)
	}
	if !exists {
		return 0, 0, tables, nil
	}
	if err := db.QueryRowContext(ctx, `SELECT application_id, version FROM xmpp_invites_schema`).Scan(&app, &version); err != nil {
		return 0, 0, 0, fmt.Errorf("open database: read its schema version: %w", err)
	}
	return app, version, tables, nil
}

// pgCreate lays the current schema into an empty database, in one
// transaction; an advisory lock keeps two processes from both doing it.
func pgCreate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, int64(applicationID)); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	var exists bool
	if err := tx.QueryRowContext(ctx, `SELECT to_regclass('xmpp_invites_schema') IS NOT NULL`).Scan(&exists); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	if exists {
		return nil // another process created it in between
	}
	if _, err := tx.ExecContext(ctx, schemaSQL("postgres", baseVersion)); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	for _, m := range migrations {
		if _, err := tx.ExecContext(ctx, m.pg); err != nil {
			return fmt.Errorf("create schema %d: %w", m.version, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO xmpp_invites_schema (application_id, version) VALUES (?, ?)`,
		int64(applicationID), SchemaVersion()); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create schema: commit: %w", err)
	}
	return nil
}

// pgRetries bounds the attempts of one write that keeps losing
// serialization conflicts.
const pgRetries = 100

// pgRun runs one write in its own SERIALIZABLE transaction, again after a
// serialization failure or a deadlock (fn must be safe to run again: it
// starts from what the transaction reads).
func (s *Store) pgRun(op *writeOp) error {
	ctx := op.ctx
	var err error
	for attempt := 0; attempt < pgRetries; attempt++ {
		if attempt > 0 {
			// Jitter spreads the losers of one conflict apart.
			d := time.Duration(rand.Int64N(int64(min(attempt, 10)) * int64(time.Millisecond)))
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		begin := time.Now()
		err = s.pgTx(ctx, op.fn)
		if s.committed != nil {
			s.committed(1, time.Since(begin), err)
		}
		if !pgRetryable(err) {
			break
		}
	}
	err = s.classify(err)
	switch {
	case errors.Is(err, ErrUnavailable):
		s.setProbe(err)
	case err == nil:
		// A commit: the fault the probe last saw is over (after a failover,
		// say), and readiness says so without waiting for a new probe.
		s.clearProbe()
	}
	return err
}

func (s *Store) pgTx(ctx context.Context, fn func(*sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// The transaction runs to its end even if ctx ends: a caller never
	// reports failure for a write that then commits.
	tx, err := s.w.BeginTx(context.WithoutCancel(ctx), &sql.TxOptions{Isolation: sql.LevelSerializable})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// pgRetryable: a serialization failure or a deadlock, which PostgreSQL
// asks the client to retry.
func pgRetryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// pgUnique: a unique or primary key violation.
func pgUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// pgFaultKind names the storage fault of a PostgreSQL error, or returns "".
func pgFaultKind(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "53100": // disk_full
			return FaultFull
		case pe.Code == "25006": // read_only_sql_transaction: a standby
			return FaultReadonly
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "57P"), strings.HasPrefix(pe.Code, "53"):
			return FaultConn // connection, shutdown, resources
		case strings.HasPrefix(pe.Code, "58"):
			return FaultIO
		case pe.Code == "XX001" || pe.Code == "XX002":
			return FaultCorrupt
		}
		return ""
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, driver.ErrBadConn) || pgconn.SafeToRetry(err) {
		return FaultConn
	}
	// A connection the server dropped: pgx closes it at the first failed
	// read, and a later statement or COMMIT on it (in the same
	// transaction) fails with ErrConnClosed; the read itself may fail
	// with an unexpected EOF. A primary that died does this to every
	// connection it had.
	if errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, sql.ErrConnDone) {
		return FaultConn
	}
	return ""
}

// pgConnector hands out pgConns.
type pgConnector struct{ driver.Connector }

func (c pgConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &pgConn{Conn: conn.(*stdlib.Conn)}, nil
}

// pgConn is pgx's database/sql connection, taking the SQL of the SQLite
// dialect: placeholders ? and ?N become $N, and bools become 0/1.
type pgConn struct{ *stdlib.Conn }

func (c *pgConn) Prepare(query string) (driver.Stmt, error) {
	return c.Conn.Prepare(rebind(query))
}

func (c *pgConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.PrepareContext(ctx, rebind(query))
}

func (c *pgConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.ExecContext(ctx, rebind(query), args)
}

func (c *pgConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.QueryContext(ctx, rebind(query), args)
}

// CheckNamedValue sends bools as the integers SQLite stores.
func (c *pgConn) CheckNamedValue(nv *driver.NamedValue) error {
	if b, ok := nv.Value.(bool); ok {
		nv.Value = int64(0)
		if b {
			nv.Value = int64(1)
		}
		return nil
	}
	return c.Conn.CheckNamedValue(nv)
}

var rebound sync.Map // SQLite-dialect text → PostgreSQL text

// rebind rewrites SQLite's placeholders as PostgreSQL's: ?N becomes $N,
// and a bare ? the next number after the largest so far (as SQLite numbers
// them). Quoted strings, quoted identifiers and comments are left alone.
func rebind(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	if v, ok := rebound.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	maxN := 0
	for i := 0; i < len(query); i++ {
		ch := query[i]
		switch {
		case ch == '\'' || ch == '"':
			j := strings.IndexByte(query[i+1:], ch)
			if j < 0 {
				b.WriteString(query[i:])
				i = len(query)
				continue
			}
			b.WriteString(query[i : i+j+2])
			i += j + 1
		case ch == '-' && i+1 < len(query) && query[i+1] == '-':
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				j = len(query) - i
			}
			b.WriteString(query[i : i+j])
			i += j - 1
		case ch == '?':
			j := i + 1
			for j < len(query) && query[j] >= '0' && query[j] <= '9' {
				j++
			}
			n := maxN + 1
			if j > i+1 {
				n, _ = strconv.Atoi(query[i+1 : j])
			}
			maxN = max(maxN, n)
			b.WriteString("$" + strconv.Itoa(n))
			i = j - 1
		default:
			b.WriteByte(ch)
		}
	}
	out := b.String()
	rebound.Store(query, out)
	return out
}

// pgPurgeLock is the advisory lock that Purge holds (pgCreate's, an
// xact lock, is applicationID).
const pgPurgeLock = int64(applicationID)<<8 | 1

// ErrPurgeElsewhere is Purge's answer while another process purges the
// same PostgreSQL database.
var ErrPurgeElsewhere = errors.New("another instance is purging")

// pgTryLock takes the session advisory lock key on a connection of its own,
// or returns ErrPurgeElsewhere when another session holds it. unlock
// releases it and the connection; a process that dies releases it with its
// connection.
func (s *Store) pgTryLock(ctx context.Context, key int64) (unlock func(), err error) {
	conn, err := s.r.Conn(ctx)
	if err != nil {
		return nil, s.classify(err)
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(?)`, key).Scan(&ok); err != nil {
		conn.Close()
		return nil, s.classify(err)
	}
	if !ok {
		conn.Close()
		return nil, ErrPurgeElsewhere
	}
	return func() {
		// If the unlock fails the connection is not fit for reuse: drop it,
		// which releases the lock.
		if _, err := conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(?)`, key); err != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
	}, nil
}

// ErrNameHeld is HoldName's answer when another session holds the name.
var ErrNameHeld = errors.New("held by another process")

// HoldName takes, on PostgreSQL, a session advisory lock on name for as long
// as the caller runs (release gives it back; a process that dies loses it
// with its connection), or returns ErrNameHeld when another process holds
// it. serve holds its component JIDs so, since two instances with one JID
// would take each other's replies. With keep false it only tests whether
// the name is held (check does). On SQLite it holds nothing: the file lock
// already allows one serve.
func (s *Store) HoldName(ctx context.Context, name string, keep bool) (release func(), err error) {
	if !s.pg {
		return func() {}, nil
	}
	conn, err := s.r.Conn(ctx)
	if err != nil {
		return nil, s.classify(err)
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(?, hashtext(?))`, int32(applicationID), name).Scan(&ok); err != nil {
		conn.Close()
		return nil, s.classify(err)
	}
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("%s: %w", name, ErrNameHeld)
	}
	release = func() {
		if _, err := conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(?, hashtext(?))`, int32(applicationID), name); err != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
	}
	if !keep {
		release()
		return func() {}, nil
	}
	return release, nil
}
