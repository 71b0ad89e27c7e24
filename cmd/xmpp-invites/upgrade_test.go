package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"xmpp-invites/keystore"
)

// nextBinary builds xmpp-invites with a synthetic next schema version
// (-tags schemanext): a newer release, as far as the database can tell.
func nextBinary(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "xmpp-invites-next")
	if out, err := exec.Command("go", "build", "-tags", "schemanext", "-o", path, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -tags schemanext: %v\n%s", err, out)
	}
	return path
}

// runWith runs bin with the instance's config.
func (in *instance) runWith(bin string, args ...string) (string, string, int) {
	in.t.Helper()
	cmd := exec.Command(bin, append([]string{"--config", in.config}, args...)...)
	out, err := cmd.Output()
	code, stderr := 0, ""
	if ee, ok := err.(*exec.ExitError); ok {
		code, stderr = ee.ExitCode(), string(ee.Stderr)
	} else if err != nil {
		in.t.Fatal(err)
	}
	return string(out), stderr, code
}

// TestUpgradeUnderLoad upgrades a database to a newer schema while invites
// are being created: the newer binary's CLI leaves the running older serve's
// database alone, migrate refuses while serve runs, and after the switch to
// the newer serve (which copies the database, then migrates) every invite
// acknowledged with 201 by either serve is there.
func TestUpgradeUnderLoad(t *testing.T) {
	next := nextBinary(t)
	in := newInstance(t, "")
	cred, _, code := in.cli("key", "create", "example.com")
	if code != 0 {
		t.Fatal("key create failed")
	}
	cred = strings.TrimSpace(cred)
	var mu sync.Mutex
	var acked []string
	ack := func(tok string) { mu.Lock(); acked = append(acked, tok); mu.Unlock() }

	in.start()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var n atomic.Int64
	wg := driveInvites(ctx, in.addr, cred, 4, func(tok string) { ack(tok); n.Add(1) })
	for n.Load() < 50 {
		time.Sleep(5 * time.Millisecond)
	}
	// The newer binary under the running older serve.
	if _, errs, code := in.runWith(next, "key", "list", "example.com"); code != 2 || !strings.Contains(errs, "xmpp-invites migrate") {
		t.Fatalf("newer binary's key list on the older schema: exit %d %q, want 2 naming migrate", code, errs)
	}
	if _, errs, code := in.runWith(next, "migrate"); code != 1 || !strings.Contains(errs, "in use by a running serve (pid") {
		t.Fatalf("migrate while serve runs: exit %d %q, want 1 naming the running serve", code, errs)
	}
	if _, errs, code := in.runWith(next, "check"); code != 2 || !strings.Contains(errs, "migrate") {
		t.Fatalf("newer binary's check on the older schema: exit %d %q, want 2 naming migrate", code, errs)
	}
	before := n.Load()
	for n.Load() < before+50 {
		time.Sleep(5 * time.Millisecond) // the older serve still creates invites
	}
	// The switch: stop the older serve, start the newer one.
	if code := in.stop(); code != 0 {
		t.Fatalf("serve exited %d on SIGTERM", code)
	}
	wg.Wait()
	in.bin = next
	in.start()
	wg = driveInvites(ctx, in.addr, cred, 4, func(tok string) { ack(tok); n.Add(1) })
	before = n.Load()
	for n.Load() < before+50 {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if !strings.Contains(in.stderr.String(), "upgrading the database schema") {
		t.Errorf("the newer serve did not log its upgrade:\n%s", in.stderr)
	}
	backups, _ := filepath.Glob(filepath.Join(in.dir, "invites.db.schema*.bak"))
	if len(backups) != 1 {
		t.Errorf("copies made before migrating: %v, want one", backups)
	}
	missing := 0
	client := &http.Client{Timeout: 5 * time.Second}
	for _, tok := range acked {
		resp, err := client.Get("http://" + in.addr + "/invite?" + tok)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			missing++
		}
	}
	t.Logf("%d invites acknowledged across the upgrade; copy at %v", len(acked), backups)
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged invites lost in the upgrade", missing, len(acked))
	}
	// The older binary on the newer schema refuses, and says what to do.
	if _, errs, code := in.cli("key", "list", "example.com"); code != 2 || !strings.Contains(errs, "newer") {
		t.Fatalf("older binary on the newer schema: exit %d %q, want 2", code, errs)
	}
	in.stop()
}

// TestServeStopsOnNewerSchema: a serve that finds the schema upgraded
// under it stops with exit status 2 instead of misreading the database.
func TestServeStopsOnNewerSchema(t *testing.T) {
	in := newInstance(t, "")
	in.start()
	db, err := sql.Open("sqlite3", filepath.Join(in.dir, "invites.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version = %d", keystore.SchemaVersion()+1)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-in.exited:
	case <-time.After(4 * schemaWatchEvery):
		t.Fatalf("serve still running %s after the schema became newer:\n%s", 4*schemaWatchEvery, in.stderr)
	}
	if code := in.cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(in.stderr.String(), "newer schema") {
		t.Fatalf("serve exited %d, want 2 with a log line naming the newer schema:\n%s", code, in.stderr)
	}
}

// TestMigrateCommand: migrate on a current database does nothing and says
// so; a second serve on the same database is refused.
func TestMigrateCommand(t *testing.T) {
	in := newInstance(t, "")
	out, errs, code := in.cli("migrate")
	if code != 0 || !strings.Contains(out, "nothing to do") {
		t.Fatalf("migrate on a new database: exit %d out %q err %q", code, out, errs)
	}
	in.start()
	second := exec.Command(binary(t), "--config", in.config, "serve")
	outb, err := second.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(outb), "running serve") {
		t.Fatalf("second serve on the same database: %v %s, want exit 2 naming the running serve", err, outb)
	}
	if _, err := os.Stat(keystore.LockPath(filepath.Join(in.dir, "invites.db"))); err != nil {
		t.Fatalf("lock file: %v", err)
	}
	in.stop()
}
