// Package diskfault gives tests real storage faults: a small tmpfs that
// fills up, or is remounted read-only. Mounting needs root; the tests run as
// root in CI, so without root a test fails under CI=true and is skipped
// otherwise.
package diskfault

import (
	"os"
	"os/exec"
	"testing"
)

// Tmpfs mounts a tmpfs of size (e.g. "2m") on a new temporary directory
// and returns it; the test's cleanup unmounts it.
func Tmpfs(tb testing.TB, size string) string {
	tb.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			tb.Fatal("this test mounts a tmpfs and must run as root under CI")
		}
		tb.Skip("mounting a tmpfs needs root")
	}
	dir := tb.TempDir()
	run(tb, "mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir)
	tb.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			tb.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// ReadOnly remounts the tmpfs at dir read-only. The kernel refuses while a
// file on it is open for writing, so it is for files nobody has open yet.
func ReadOnly(tb testing.TB, dir string) {
	tb.Helper()
	run(tb, "mount", "-o", "remount,ro", dir)
}

// ReadWrite remounts the tmpfs at dir read-write.
func ReadWrite(tb testing.TB, dir string) {
	tb.Helper()
	run(tb, "mount", "-o", "remount,rw", dir)
}

// Fill writes path until the file system is full; removing path frees the
// space again.
func Fill(tb testing.TB, path string) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatalf("fill disk: %v", err)
	}
	defer f.Close()
	block := make([]byte, 64<<10)
	for {
		if _, err := f.Write(block); err != nil {
			break
		}
	}
	// The last partial block too.
	for {
		if _, err := f.Write(block[:1]); err != nil {
			return
		}
	}
}

// CopyFiles copies the named files from the directory src to dst, as they
// are at this moment: a database's -wal and -shm files copied while it is
// open are what a crash leaves behind.
func CopyFiles(tb testing.TB, src, dst string, names ...string) {
	tb.Helper()
	for _, n := range names {
		b, err := os.ReadFile(src + "/" + n)
		if err != nil {
			tb.Fatalf("copy: %v", err)
		}
		if err := os.WriteFile(dst+"/"+n, b, 0o600); err != nil {
			tb.Fatalf("copy: %v", err)
		}
	}
}

func run(tb testing.TB, name string, args ...string) {
	tb.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		tb.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
}
