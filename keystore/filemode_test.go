package keystore

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestNewDatabaseIsPrivate checks that a new database and the -wal and -shm
// files SQLite creates beside it are readable by their owner only, whatever
// the umask lets other files be.
func TestNewDatabaseIsPrivate(t *testing.T) {
	old := syscall.Umask(0o022) // the usual umask: new files 0644
	t.Cleanup(func() { syscall.Umask(old) })
	path := filepath.Join(t.TempDir(), "new.db")
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if _, _, err := s.CreateKey(context.Background(), KeyParams{Name: "k"}); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	// The WAL and shared-memory files exist while the store is open.
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("stat: %v", err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", filepath.Base(p), m)
		}
	}
}
