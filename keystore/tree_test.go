package keystore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// addAccounts records accounts made through invites: jid → inviter, all
// at created.
func addAccounts(t *testing.T, s *Store, created time.Time, pairs ...string) {
	t.Helper()
	err := s.write(context.Background(), func(tx *sql.Tx) error {
		for i := 0; i+1 < len(pairs); i += 2 {
			if _, err := tx.Exec(`DELETE FROM accounts WHERE jid = ?`, pairs[i]); err != nil {
				return err
			}
			if _, err := tx.Exec(`INSERT INTO accounts (jid, created_at, invite_id, invite_type, inviter) VALUES (?, ?, 'AAAAAAAA', 'account', ?)`,
				pairs[i], created.Unix(), pairs[i+1]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestInviteTree walks trees up to their roots and counts them down.
func TestInviteTree(t *testing.T) {
	ctx := context.Background()
	s, c, _ := openTest(t)
	addAccounts(t, s, c.Now(),
		// root@x was not made through us: b and c are below it, d below b.
		"b@x", "xmpp:root@x",
		"c@x", "xmpp:root@x",
		"d@x", "xmpp:b@x",
		// boss@x, an admin made through an invite of b, starts a tree of
		// its own: e is below it.
		"boss@x", "xmpp:b@x",
		"e@x", "xmpp:boss@x",
		// k was made through an API key's invite: the root of f.
		"k@x", "key:ABCDEFGHIJKL",
		"f@x", "xmpp:k@x",
		// g and h invited each other (one was deleted and made again):
		// a circle, with i below it.
		"g@x", "xmpp:h@x",
		"h@x", "xmpp:g@x",
		"i@x", "xmpp:g@x",
		// j made again through its own invite.
		"j@x", "xmpp:j@x",
	)
	admins := []string{"boss@x"}
	for _, tc := range []struct {
		jid  string
		root string
		size int
	}{
		{"d@x", "root@x", 4},
		{"root@x", "root@x", 4},
		{"c@x", "root@x", 4},
		{"e@x", "boss@x", 2},
		{"boss@x", "boss@x", 2},
		{"f@x", "k@x", 2},
		{"stranger@x", "stranger@x", 1},
		{"i@x", "", 3},
		{"g@x", "", 3},
		{"j@x", "", 1},
	} {
		tree, err := s.InviteTree(ctx, tc.jid, admins, 100)
		if err != nil || tree.Root != tc.root || tree.Size != tc.size {
			t.Errorf("InviteTree(%s) = %+v, %v; want root %q, size %d", tc.jid, tree, err, tc.root, tc.size)
		}
	}
	// Without the admin, boss and e belong to root's tree.
	if tree, err := s.InviteTree(ctx, "e@x", nil, 100); err != nil || tree.Root != "root@x" || tree.Size != 6 {
		t.Errorf("InviteTree(e@x) without admins = %+v, %v; want root@x, 6", tree, err)
	}
	// Counting stops at the maximum.
	if tree, err := s.InviteTree(ctx, "d@x", admins, 2); err != nil || tree.Size != 2 {
		t.Errorf("InviteTree(d@x) up to 2 = %+v, %v; want 2", tree, err)
	}
	for _, bad := range []struct {
		jid string
		max int
	}{{"", 10}, {"a@x", 0}, {"a@x", -1}} {
		if _, err := s.InviteTree(ctx, bad.jid, nil, bad.max); err == nil {
			t.Errorf("InviteTree(%q, max %d): no error", bad.jid, bad.max)
		}
	}
}

// TestInviteTreeLarge counts a tree of a few thousand accounts: a deep
// chain and a wide level, and stops early at a smaller maximum.
func TestInviteTreeLarge(t *testing.T) {
	ctx := context.Background()
	s, c, _ := openTest(t)
	var pairs []string
	// A chain of 1000 below top@x, then 2000 invited by its last account.
	prev := "top@x"
	for i := range 1000 {
		j := fmt.Sprintf("chain%d@x", i)
		pairs = append(pairs, j, "xmpp:"+prev)
		prev = j
	}
	for i := range 2000 {
		pairs = append(pairs, fmt.Sprintf("wide%d@x", i), "xmpp:"+prev)
	}
	// Another tree beside it.
	for i := range 500 {
		pairs = append(pairs, fmt.Sprintf("other%d@x", i), "xmpp:elsewhere@x")
	}
	addAccounts(t, s, c.Now(), pairs...)
	tree, err := s.InviteTree(ctx, "wide1999@x", nil, 10000)
	if err != nil || tree.Root != "top@x" || tree.Size != 3001 {
		t.Fatalf("InviteTree = %+v, %v; want root top@x, 3001 accounts", tree, err)
	}
	if tree, err := s.InviteTree(ctx, "chain500@x", nil, 1000); err != nil || tree.Size != 1000 {
		t.Fatalf("InviteTree up to 1000 = %+v, %v; want 1000", tree, err)
	}
	if tree, err := s.InviteTree(ctx, "other3@x", nil, 10000); err != nil || tree.Root != "elsewhere@x" || tree.Size != 501 {
		t.Fatalf("InviteTree(other3) = %+v, %v; want elsewhere@x, 501", tree, err)
	}
}

// TestInviteTreePlan checks that the walk down finds accounts through the
// index on inviter rather than reading the whole table at each level.
func TestInviteTreePlan(t *testing.T) {
	s, _, _ := openTest(t)
	rows, err := s.r.Query("EXPLAIN QUERY PLAN "+treeSQL, "a@x", "[]", 10, "x")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	for _, line := range plan {
		if strings.HasPrefix(line, "SCAN a") || strings.HasPrefix(line, "SCAN accounts") {
			t.Errorf("the tree query scans the accounts table: %s\n%s", line, strings.Join(plan, "\n"))
		}
	}
	if !strings.Contains(strings.Join(plan, "\n"), "accounts_inviter") {
		t.Errorf("the walk down does not use accounts_inviter:\n%s", strings.Join(plan, "\n"))
	}
}

func TestAccount(t *testing.T) {
	ctx := context.Background()
	s, c, _ := openTest(t)
	addAccounts(t, s, c.Now(), "b@x", "xmpp:a@x")
	a, err := s.Account(ctx, "b@x")
	if err != nil || a.JID != "b@x" || a.Inviter != "xmpp:a@x" || !a.Created.Equal(c.Now()) || a.InviteType != TypeAccount {
		t.Errorf("Account(b@x) = %+v, %v", a, err)
	}
	if _, err := s.Account(ctx, "a@x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Account(a@x) = %v, want ErrNotFound", err)
	}
}
