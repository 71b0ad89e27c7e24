package keystore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// ErrUnavailable is wrapped by every error that comes from the storage
// itself rather than from the request: the disk is full, the file or its
// directory is read-only, an I/O error, a file that cannot be opened, a
// lock held past the busy timeout. Such a fault is the operator's to fix;
// once it is fixed, writes work again without a restart. Errors wrapping it
// are *UnavailableError.
var ErrUnavailable = errors.New("storage unavailable")

// Kinds of storage fault, as UnavailableError.Kind gives them.
const (
	FaultFull     = "full"     // SQLITE_FULL: disk (or quota) full
	FaultReadonly = "readonly" // SQLITE_READONLY: read-only file, directory or file system
	FaultIO       = "ioerr"    // SQLITE_IOERR
	FaultCantOpen = "cantopen" // SQLITE_CANTOPEN: a file cannot be opened or created
	FaultBusy     = "busy"     // SQLITE_BUSY or SQLITE_LOCKED after the busy timeout
	FaultCorrupt  = "corrupt"  // SQLITE_CORRUPT or SQLITE_NOTADB
	FaultTimeout  = "timeout"  // the write probe did not finish in time
	FaultConn     = "conn"     // PostgreSQL: no connection, server shutting down or out of resources
)

// UnavailableError is a storage fault: Kind names it (one of the Fault…
// constants), Err is the driver's error.
type UnavailableError struct {
	Kind string
	Path string // the database file
	Err  error
}

func (e *UnavailableError) Error() string {
	if e.Path != "" {
		return fmt.Sprintf("%v (%s, database %s): %v", ErrUnavailable, e.Kind, e.Path, e.Err)
	}
	return fmt.Sprintf("%v (%s): %v", ErrUnavailable, e.Kind, e.Err)
}

// Unwrap makes an *UnavailableError both ErrUnavailable and its cause.
func (e *UnavailableError) Unwrap() []error { return []error{ErrUnavailable, e.Err} }

// FaultKind returns the kind of the storage fault err wraps, or "" when err
// is not one.
func FaultKind(err error) string {
	var ue *UnavailableError
	if errors.As(err, &ue) {
		return ue.Kind
	}
	return ""
}

// faultKind names the storage fault of an SQLite error, or returns "".
func faultKind(err error) string {
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return pgFaultKind(err)
	}
	switch se.Code {
	case sqlite3.ErrFull:
		return FaultFull
	case sqlite3.ErrReadonly:
		return FaultReadonly
	case sqlite3.ErrIoErr:
		return FaultIO
	case sqlite3.ErrCantOpen:
		return FaultCantOpen
	case sqlite3.ErrBusy, sqlite3.ErrLocked:
		return FaultBusy
	case sqlite3.ErrCorrupt, sqlite3.ErrNotADB:
		return FaultCorrupt
	}
	return ""
}

// classify wraps a storage fault in an *UnavailableError; other errors,
// and errors already classified, are returned as they are.
func classify(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	if kind := faultKind(err); kind != "" {
		return &UnavailableError{Kind: kind, Err: err}
	}
	return err
}

// classify is classify naming the store's database file.
func (s *Store) classify(err error) error {
	err = classify(err)
	if ue := (*UnavailableError)(nil); errors.As(err, &ue) && ue.Path == "" {
		ue.Path = s.path
	}
	return err
}

// classifyRead classifies *err in place: deferred by the read methods, whose
// errors do not pass through the writer.
func (s *Store) classifyRead(err *error) { *err = s.classify(*err) }

// resetPool closes db's idle connections; the next use opens fresh ones.
// SQLite opens a file it may not write read-only and keeps it so: a
// connection opened during a read-only fault would fail every write after
// the fault is fixed.
func resetPool(db *sql.DB, idle int) {
	db.SetMaxIdleConns(0)
	db.SetMaxIdleConns(idle)
}

// Write probe timings: a result is reused for probeEvery, so a flood of
// readiness checks costs at most one write transaction a second; a probe
// that has not committed after probeTimeout reports FaultTimeout.
const (
	probeEvery   = time.Second
	probeTimeout = 2 * time.Second
)

// probe is the cached result of the last write probe.
type probe struct {
	mu      sync.Mutex
	at      time.Time     // when err was found; zero: never
	err     error         // nil: writable
	running chan struct{} // closed when the running probe is done; nil: none runs
}

// Writable reports whether the database can be written right now: nil, or
// an error wrapping ErrUnavailable (or ErrClosed). It commits a small write
// transaction through the writer, shared with concurrent writes, so it sees
// what they see: a full disk, a read-only file, a lock held too long. The
// result is reused for a second, and concurrent callers share one probe.
func (s *Store) Writable(ctx context.Context) error {
	p := &s.probe
	p.mu.Lock()
	if now := s.now(); !p.at.IsZero() && !now.Before(p.at) && now.Sub(p.at) < probeEvery {
		err := p.err
		p.mu.Unlock()
		return err
	}
	done := p.running
	if done == nil {
		done = make(chan struct{})
		p.running = done
		go s.runProbe(done)
	}
	p.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// runProbe writes the heartbeat and records the outcome.
func (s *Store) runProbe(done chan struct{}) {
	op := &writeOp{ctx: context.Background(), fn: s.heartbeat, single: true, errc: make(chan error, 1)}
	t := time.NewTimer(probeTimeout)
	defer t.Stop()
	var err error
	if s.pg {
		// No writer queue: the probe is a write of its own. A write runs
		// to its end whatever its context, so it is waited for here with
		// the timeout, and no second one starts while it hangs.
		timeout := &UnavailableError{Kind: FaultTimeout, Err: errors.New("the write probe did not commit in time")}
		if s.pgProbing.CompareAndSwap(false, true) {
			errc := make(chan error, 1)
			go func() {
				defer s.pgProbing.Store(false)
				errc <- s.enqueue(op)
			}()
			select {
			case err = <-errc:
			case <-t.C:
				err = timeout
			}
		} else {
			err = timeout
		}
		p := &s.probe
		p.mu.Lock()
		p.at, p.err, p.running = s.now(), err, nil
		p.mu.Unlock()
		close(done)
		return
	}
	select {
	case <-s.closing:
		err = ErrClosed
	case s.ops <- op:
		select {
		case err = <-op.errc:
		case <-t.C:
			// The op stays queued; its outcome goes to its buffered errc.
			err = &UnavailableError{Kind: FaultTimeout, Err: errors.New("the write probe did not commit in time")}
		}
	case <-t.C:
		err = &UnavailableError{Kind: FaultTimeout, Err: errors.New("the write queue is full")}
	}
	p := &s.probe
	p.mu.Lock()
	p.at, p.err, p.running = s.now(), err, nil
	p.mu.Unlock()
	close(done)
}

// heartbeat is the probe's write: it sets user_version to the value it has,
// which changes nothing but still writes the database header page, so the
// commit goes to disk like any other (no table is needed for it).
func (s *Store) heartbeat(tx *sql.Tx) error {
	if s.pg {
		// The same no-op write, to the schema table.
		if _, err := tx.ExecContext(context.Background(), "UPDATE xmpp_invites_schema SET version = version"); err != nil {
			return fmt.Errorf("write probe: %w", err)
		}
		return nil
	}
	ctx := context.Background()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("write probe: %w", err)
	}
	// PRAGMA takes no placeholders; the value is an integer SQLite gave.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v)); err != nil {
		return fmt.Errorf("write probe: %w", err)
	}
	return nil
}

// setProbe records what the writer found, as a probe would have.
func (s *Store) setProbe(err error) {
	p := &s.probe
	p.mu.Lock()
	p.at, p.err = s.now(), err
	p.mu.Unlock()
}

// clearProbe records a successful write over a fault the probe holds.
func (s *Store) clearProbe() {
	p := &s.probe
	p.mu.Lock()
	if p.err != nil {
		p.at, p.err = s.now(), nil
	}
	p.mu.Unlock()
}
