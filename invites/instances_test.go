package invites

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"xmpp-invites/internal/pgtest"
	"xmpp-invites/keystore"
)

// Tests of several instances on one database run on SQLite and again as
// TestPostgres/NAME on a fresh database of the package's shared
// PostgreSQL cluster, with one store handle per instance, as separate
// serve processes have.

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// testDatabase returns a new SQLite file, or under TestPostgres a new
// PostgreSQL database's URL.
func testDatabase(t *testing.T) string {
	if strings.HasPrefix(t.Name(), "TestPostgres/") {
		return pgtest.Shared(t).NewDatabase(t)
	}
	return filepath.Join(t.TempDir(), "db")
}

// TestPostgres reruns the tests of several instances on PostgreSQL.
// Without PostgreSQL it is skipped (failed under CI=true).
func TestPostgres(t *testing.T) {
	pgtest.RunSuite(t, []pgtest.Test{
		{Name: "TestStoppedOwnersReservationsAreClaimed", Fn: TestStoppedOwnersReservationsAreClaimed},
		{Name: "TestTreeLimitUnderRace", Fn: TestTreeLimitUnderRace},
	})
}

// TestTreeLimitUnderRace races max_invite_tree (docs/chains.md: checked
// when an invite is created) on two instances: racers each create an
// account invite as alice, the root of a tree, and register an account
// through it, again and again until the tree is full. The tree grows to
// the limit and stops there, but for the registrations of invites whose
// creation raced the one that filled it: at most one per other racer,
// since every creation after the fill is refused.
func TestTreeLimitUnderRace(t *testing.T) {
	ctx := context.Background()
	const limit, racers = 6, 8
	database := testDatabase(t)
	var svcs []*Service
	for range 2 {
		st, err := keystore.Open(ctx, database, keystore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		svcs = append(svcs, New(st, Config{
			Domain: "example.com", PublicURL: "https://example.com/join/",
			DefaultTTL: time.Hour, MaxTTL: 720 * time.Hour, ResetTTL: time.Hour, PasswordMinLength: 8,
			AllowUserInvites: true, MaxInviteTree: limit,
		}, nil))
	}
	acc := &fakeAccounts{accounts: map[string]string{}}
	alice := Person{JID: "alice@example.com"}
	var created atomic.Int32
	var member atomic.Pointer[string] // an account alice's tree holds
	var wg sync.WaitGroup
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := svcs[i%2]
			// A racer that is never refused stops after as many rounds
			// as the tree could ever hold, and fails the size check.
			for round := range limit + racers {
				c, err := s.CreateFor(ctx, alice, Request{Type: keystore.TypeAccount})
				var na *NotAllowedError
				if errors.As(err, &na) && na.Rule == RuleTreeFull {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				created.Add(1)
				user := fmt.Sprintf("r%dn%d", i, round)
				if _, err := s.Redeem(ctx, c.Token, reg(user), acc); err != nil {
					t.Error(err)
					return
				}
				member.CompareAndSwap(nil, &user)
			}
		}()
	}
	wg.Wait()
	tree, err := svcs[0].Store().InviteTree(ctx, alice.JID, nil, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if tree.Root != alice.JID || tree.Size < limit || tree.Size > limit+racers-1 {
		t.Fatalf("tree %+v after the race, want alice's with %d to %d accounts", tree, limit, limit+racers-1)
	}
	if int(created.Load()) != tree.Size-1 {
		t.Fatalf("%d invites created, %d accounts below alice; want one account per invite", created.Load(), tree.Size-1)
	}
	// Full: alice and the accounts she invited are refused on either
	// instance. (Which racers made accounts depends on the race.)
	for i, p := range []Person{alice, {JID: *member.Load() + "@example.com"}} {
		_, err := svcs[i%2].CreateFor(ctx, p, Request{Type: keystore.TypeAccount})
		refusedBy(t, err, RuleTreeFull)
	}
}
