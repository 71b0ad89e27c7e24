package keystore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"xmpp-invites/internal/pgtest"
)

// TestRedactMultiHost: a URL listing several hosts, as for failover, is
// redacted like any other and accepted by Open's parser.
// IPv6 literals in a list of hosts, which Go's URL parser refuses, too.
func TestRedactMultiHost(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://invites:s3cret@db1.example:5432,db2.example:5433/invites?sslmode=require&target_session_attrs=read-write": "postgres://invites:xxxxx@db1.example:5432,db2.example:5433/invites?sslmode=require&target_session_attrs=read-write",
		"postgres://invites:s3cret@[2001:db8::1]:5432,[2001:db8::2]:5432/invites?target_session_attrs=read-write":             "postgres://invites:xxxxx@[2001:db8::1]:5432,[2001:db8::2]:5432/invites?target_session_attrs=read-write",
		"postgresql://[::1],[::2]/invites?user=invites&password=s3cret":                                                       "postgresql://[::1],[::2]/invites?password=xxxxx&user=invites",
		"postgres://invites:s3cret@[::1],[::2]":                                                                               "postgres://invites:xxxxx@[::1],[::2]",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
		if got := pgPassword(in); got != "s3cret" {
			t.Errorf("pgPassword(%q) = %q, want s3cret", Redact(in), got)
		}
		if _, err := pgx.ParseConfig(in); err != nil {
			t.Errorf("pgx refuses %s: %v", Redact(in), err)
		}
	}
}

// failoverHang bounds any one call during the failover: a call that takes
// longer is stuck, not slow (they take milliseconds).
const failoverHang = 10 * time.Second

// TestPostgresFailover: a listening Store on a URL that lists a primary and
// its synchronous standby (target_session_attrs=read-write) creates invites
// from several goroutines; the primary is killed (SIGKILL to every one of
// its processes). While no primary exists, every write fails at once with
// ErrUnavailable (conn or readonly). Once the standby is promoted, the same
// Store writes again, every invite acknowledged before the kill is there,
// and its listening connection is back on the new primary: the key cache
// was flushed, and a key deleted there by another handle is refused.
func TestPostgresFailover(t *testing.T) {
	pair := pgtest.StartPair(t, true)
	ctx := context.Background()
	if _, err := pair.Primary.CreateDatabase(ctx, "failover"); err != nil {
		t.Fatal(err)
	}
	url := pair.URL("failover")
	listened := make(chan struct{}, 8)
	notified := make(chan string, 64)
	var lost atomic.Int32
	// A clock that stands still: the write probe's result is reused until
	// something newer replaces it, so Writable shows what the store knows.
	c := newClock()
	s, err := Open(ctx, url, Options{Listen: true, Now: c.Now,
		ListenLost: func(error) { lost.Add(1) },
		onListen:   func() { listened <- struct{}{} },
		onNotify:   func(id string) { notified <- id }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wait := func(what string, ch <-chan struct{}) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(failoverHang):
			t.Fatalf("no %s within %v", what, failoverHang)
		}
	}
	wait("listening connection", listened)

	k, cred, err := s.CreateKey(ctx, KeyParams{Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if _, c, err := s.AuthenticateToCreate(ctx, cred); err != nil || c {
		t.Fatalf("first AuthenticateToCreate: cached %v, %v", c, err)
	}
	if _, c, err := s.AuthenticateToCreate(ctx, cred); err != nil || !c {
		t.Fatalf("second AuthenticateToCreate: cached %v, %v; want the key remembered", c, err)
	}
	const jid = "invites.example.test"
	release, err := s.HoldName(ctx, jid, true)
	if err != nil {
		t.Fatal(err)
	}

	// Load: writers create invites until told to stop, recording each
	// acknowledged invite and each error with when it came.
	type failure struct {
		err   error
		phase int32 // when the call started
	}
	var (
		mu       sync.Mutex
		acked    []string
		failures []failure
		longest  time.Duration
	)
	var phase atomic.Int32 // 0 before the kill, 1 killed, 2 promoted
	var ackedAfterPromote atomic.Int32
	var wrongBeforeKill atomic.Int32
	stop := make(chan struct{})
	var wg sync.WaitGroup
	p := InviteParams{Type: TypeAccount, Creator: k.Creator(), MaxUses: 1, Expires: c.Now().Add(time.Hour)}
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				started := phase.Load()
				begin := time.Now()
				inv, _, err := s.CreateInvite(ctx, p)
				took := time.Since(begin)
				mu.Lock()
				longest = max(longest, took)
				if err == nil {
					acked = append(acked, inv.ID)
					if started == 2 {
						ackedAfterPromote.Add(1)
					}
				} else {
					if started == 0 && phase.Load() == 0 {
						wrongBeforeKill.Add(1)
					}
					failures = append(failures, failure{err, started})
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(5 * time.Millisecond) // as a client told to retry would
				}
			}
		}()
	}
	stopLoad := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopLoad()
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	deadline := time.Now().Add(failoverHang)
	for count() < 200 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d invites created in %v before the kill", count(), failoverHang)
		}
		time.Sleep(5 * time.Millisecond)
	}

	killed := time.Now()
	phase.Store(1)
	if err := pair.Primary.Kill(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	ackedBeforeKill := len(acked)
	mu.Unlock()

	// No primary: writes fail at once, as storage faults.
	time.Sleep(time.Second)
	begin := time.Now()
	_, _, err = s.CreateInvite(ctx, p)
	if !errors.Is(err, ErrUnavailable) || (FaultKind(err) != FaultConn && FaultKind(err) != FaultReadonly) {
		t.Errorf("CreateInvite without a primary: %v; want ErrUnavailable, kind conn or readonly", err)
	}
	t.Logf("without a primary: CreateInvite failed in %v (%s)", time.Since(begin).Round(time.Millisecond), FaultKind(err))
	if err := s.Writable(ctx); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Writable without a primary: %v, want ErrUnavailable", err)
	}
	if err := s.Ping(ctx); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Ping without a primary: %v, want ErrUnavailable", err)
	}
	mu.Lock()
	duringOutage := len(failures)
	mu.Unlock()

	promoting := time.Now()
	if err := pair.Standby.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	phase.Store(2)
	promoted := time.Now()
	// The same Store writes again on the new primary.
	deadline = time.Now().Add(failoverHang)
	for ackedAfterPromote.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no invite created within %v of the promotion", failoverHang)
		}
		time.Sleep(5 * time.Millisecond)
	}
	recovered := time.Since(promoted)
	for ackedAfterPromote.Load() < 100 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	stopLoad()

	kinds := map[string]int{}
	afterPromote := 0
	for _, f := range failures {
		if f.phase == 2 {
			afterPromote++
		}
		if !errors.Is(f.err, ErrUnavailable) || (FaultKind(f.err) != FaultConn && FaultKind(f.err) != FaultReadonly) {
			t.Errorf("write during the failover: %v; want ErrUnavailable, kind conn or readonly", f.err)
		}
		kinds[FaultKind(f.err)]++
	}
	if n := wrongBeforeKill.Load(); n > 0 {
		t.Errorf("%d writes failed before the kill", n)
	}
	if longest > failoverHang {
		t.Errorf("a CreateInvite took %v", longest)
	}
	t.Logf("%d invites acknowledged before the kill; %d failed writes during %v without a primary (%v), longest call %v; promotion took %v, first write %v after it (%d failed writes begun after it); %d invites acknowledged in all",
		ackedBeforeKill, duringOutage, promoting.Sub(killed).Round(time.Millisecond), kinds, longest.Round(time.Millisecond),
		promoted.Sub(promoting).Round(time.Millisecond), recovered.Round(time.Millisecond), afterPromote, len(acked))

	// Every acknowledged invite is on the new primary, read through
	// another handle that names it alone.
	cli, err := Open(ctx, pair.Standby.URL("failover"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	missing := 0
	for _, id := range acked {
		if _, err := cli.GetInvite(ctx, id); err != nil {
			missing++
			if missing <= 5 {
				t.Errorf("acknowledged invite %s after the failover: %v", id, err)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged invites lost in the failover", missing, len(acked))
	}
	for i := range 20 {
		if _, _, err := s.CreateInvite(ctx, p); err != nil {
			t.Fatalf("CreateInvite %d after recovery: %v", i, err)
		}
	}
	if err := s.Writable(ctx); err != nil {
		t.Errorf("Writable after the failover: %v", err)
	}

	// The listening connection is back, on the new primary: the cache
	// was flushed, and a key deleted there is refused at once.
	wait("listening connection on the new primary", listened)
	t.Logf("listening again %v after the promotion", time.Since(promoted).Round(time.Millisecond))
	if lost.Load() == 0 {
		t.Error("the listening connection's loss was not reported")
	}
	if _, c, err := s.AuthenticateToCreate(ctx, cred); err != nil || c {
		t.Errorf("AuthenticateToCreate after the failover: cached %v, %v; want a database answer (cache flushed)", c, err)
	}
	k2, cred2, err := cli.CreateKey(ctx, KeyParams{Name: "app"})
	if err != nil {
		t.Fatal(err)
	}
	if _, c, err := s.AuthenticateToCreate(ctx, cred2); err != nil || c {
		t.Fatalf("first AuthenticateToCreate of a new key: cached %v, %v", c, err)
	}
	if _, c, err := s.AuthenticateToCreate(ctx, cred2); err != nil || !c {
		t.Fatalf("second AuthenticateToCreate of a new key: cached %v, %v; want it remembered", c, err)
	}
	if _, err := cli.DeleteKey(ctx, k2.ID, false); err != nil {
		t.Fatal(err)
	}
	got := make(chan struct{})
	go func() {
		for id := range notified {
			if id == k2.ID {
				close(got)
				return
			}
		}
	}()
	wait("notification of the key deleted on the new primary", got)
	if _, c, err := s.AuthenticateToCreate(ctx, cred2); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("AuthenticateToCreate of a key deleted on the new primary: cached %v, %v; want ErrUnauthorized", c, err)
	}

	// Session advisory locks stay with the dead primary's sessions: the
	// component JID is free on the new primary (serve takes it afresh
	// only when restarted), and the purge lock is taken there.
	if _, err := cli.HoldName(ctx, jid, false); err != nil {
		t.Errorf("HoldName on the new primary: %v; want the JID free (its lock went with the old primary)", err)
	}
	release() // its connection is gone: nothing to give back, no hang
	if _, err := s.Purge(ctx, c.Now().Add(-time.Hour)); err != nil {
		t.Errorf("Purge after the failover: %v", err)
	}
}

// TestPgFaultKindClosedConn: the errors of a connection whose server went
// away mid-transaction are storage faults (conn), not request errors.
func TestPgFaultKindClosedConn(t *testing.T) {
	for _, err := range []error{
		fmt.Errorf("commit: %w", pgconn.ErrConnClosed),
		fmt.Errorf("begin: failed to receive message: %w", io.ErrUnexpectedEOF),
		fmt.Errorf("begin: %w", sql.ErrConnDone),
	} {
		if got := FaultKind(classify(err)); got != FaultConn {
			t.Errorf("FaultKind(%v) = %q, want %q", err, got, FaultConn)
		}
	}
}
