package keystore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"xmpp-invites/internal/diskfault"
	"xmpp-invites/internal/pgtest"
)

func wantFault(t *testing.T, what string, err error, kind string) {
	t.Helper()
	if !errors.Is(err, ErrUnavailable) || FaultKind(err) != kind {
		t.Fatalf("%s: %v, want ErrUnavailable of kind %q", what, err, kind)
	}
}

func tryCreate(s *Store, c *clock) error {
	_, _, err := s.CreateInvite(context.Background(), InviteParams{Type: TypeAccount, Creator: "cli",
		MaxUses: 1, Expires: c.Now().Add(time.Hour)})
	return err
}

// TestDiskFull fills the file system under a running store: writes and the
// probe report ErrUnavailable ("full"), and both work again once space is
// freed, without reopening the store.
func TestDiskFull(t *testing.T) {
	dir := diskfault.Tmpfs(t, "2m")
	c := newClock()
	s, err := Open(context.Background(), filepath.Join(dir, "db"), Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Writable(context.Background()); err != nil {
		t.Fatalf("Writable on a fresh store: %v", err)
	}
	filler := filepath.Join(dir, "filler")
	diskfault.Fill(t, filler)
	c.Add(2 * probeEvery)
	// The probe alone (no other write) finds the full disk.
	wantFault(t, "Writable on a full disk", s.Writable(context.Background()), FaultFull)
	wantFault(t, "CreateInvite on a full disk", tryCreate(s, c), FaultFull)
	if err := tryCreate(s, c); !strings.Contains(err.Error(), filepath.Join(dir, "db")) {
		t.Errorf("storage error %q does not name the database file", err)
	}
	if _, err := s.ListInvites(context.Background(), ListOptions{All: true}); err != nil {
		t.Errorf("reads fail on a full disk: %v", err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	c.Add(2 * probeEvery)
	if err := s.Writable(context.Background()); err != nil {
		t.Fatalf("Writable after space was freed: %v", err)
	}
	if err := tryCreate(s, c); err != nil {
		t.Fatalf("CreateInvite after space was freed: %v", err)
	}
}

// TestReadOnlyRecovers opens a database left with its WAL in a directory
// that is read-only (a crash, then a read-only remount): SQLite opens it
// read-only, so writes and the probe fail with "readonly". Once the file
// system is writable again, writes work without reopening the store (the
// read-only connections are replaced), and readers see them.
func TestReadOnlyRecovers(t *testing.T) {
	c := newClock()
	srcDir := t.TempDir()
	src, err := Open(context.Background(), filepath.Join(srcDir, "db"), Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	newInvite(t, src, c, InviteParams{})
	dir := diskfault.Tmpfs(t, "2m")
	// A copy of the open database, WAL and shared memory included: what a
	// crash leaves behind.
	diskfault.CopyFiles(t, srcDir, dir, "db", "db-wal", "db-shm")
	diskfault.ReadOnly(t, dir)
	s, err := Open(context.Background(), filepath.Join(dir, "db"), Options{Now: c.Now})
	if err != nil {
		t.Fatalf("Open on a read-only file system with a leftover WAL: %v", err)
	}
	defer s.Close()
	wantFault(t, "Writable read-only", s.Writable(context.Background()), FaultReadonly)
	wantFault(t, "CreateInvite read-only", tryCreate(s, c), FaultReadonly)
	diskfault.ReadWrite(t, dir)
	if err := tryCreate(s, c); err != nil {
		t.Fatalf("CreateInvite after the remount: %v", err)
	}
	c.Add(2 * probeEvery)
	if err := s.Writable(context.Background()); err != nil {
		t.Fatalf("Writable after the remount: %v", err)
	}
	inv, tok := newInvite(t, s, c, InviteParams{Note: "after"})
	got, err := s.InviteByToken(context.Background(), tok)
	if err != nil || got.ID != inv.ID {
		t.Fatalf("InviteByToken after recovery: %+v, %v; want %s", got, err, inv.ID)
	}
	if list, err := s.ListInvites(context.Background(), ListOptions{All: true}); err != nil || len(list) != 3 {
		t.Fatalf("ListInvites after recovery: %d invites, %v; want 3", len(list), err)
	}
}

// TestWritableShared checks that a flood of probes costs one write
// transaction a second, shared by concurrent callers.
func TestWritableShared(t *testing.T) {
	var commits atomic.Int64
	c := newClock()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "db"), Options{Now: c.Now,
		Committed: func(int, time.Duration, error) { commits.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	probeAll := func() {
		var wg sync.WaitGroup
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.Writable(context.Background()); err != nil {
					t.Errorf("Writable: %v", err)
				}
			}()
		}
		wg.Wait()
	}
	probeAll()
	probeAll()
	if n := commits.Load(); n != 1 {
		t.Errorf("100 probes within a second made %d transactions, want 1", n)
	}
	c.Add(probeEvery)
	probeAll()
	if n := commits.Load(); n != 2 {
		t.Errorf("after a second: %d transactions, want 2", n)
	}
}

func TestClassify(t *testing.T) {
	s, c, _ := openTest(t)
	// A constraint violation is the request's fault, not the storage's.
	_, tok := newInvite(t, s, c, InviteParams{})
	if _, err := s.GetInvite(context.Background(), tok+"x"); errors.Is(err, ErrUnavailable) {
		t.Errorf("not found classified as a fault: %v", err)
	}
	if classify(nil) != nil || classify(ErrNotFound) != ErrNotFound {
		t.Error("classify changes errors that are no storage fault")
	}
	ue := &UnavailableError{Kind: FaultFull, Err: errors.New("x")}
	if classify(ue) != error(ue) {
		t.Error("classify wraps an error twice")
	}
}

// TestWritableProbe: the write probe commits on a healthy database, on
// either engine (PostgreSQL has no writer queue for it to wait on).
func TestWritableProbe(t *testing.T) {
	s, _, _ := openTest(t)
	if err := s.Writable(context.Background()); err != nil {
		t.Fatalf("Writable: %v", err)
	}
}

// TestWritableProbeTimesOutOnPostgres: with the server hung (every process
// of a private cluster stopped), the write probe answers "timeout" instead
// of waiting for the server, and a second probe does not start another
// write beside the hung one.
func TestWritableProbeTimesOutOnPostgres(t *testing.T) {
	cl := pgtest.Start(t)
	ctx := context.Background()
	url, err := cl.CreateDatabase(ctx, "hung")
	if err != nil {
		t.Fatal(err)
	}
	c := newClock()
	s, err := Open(ctx, url, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Writable(ctx); err != nil {
		t.Fatalf("Writable: %v", err)
	}
	if err := cl.Pause(); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		c.Add(time.Minute) // past the result's reuse
		if err := s.Writable(ctx); FaultKind(err) != FaultTimeout {
			t.Fatalf("probe %d on a hung server: %v, want %s", i, err, FaultTimeout)
		}
	}
	if err := cl.Resume(); err != nil {
		t.Fatal(err)
	}
	s.Close()
}
