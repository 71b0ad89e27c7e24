package main

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestGroupSync checks the synced ceiling's commit: every caller gets an
// answer, concurrent callers share syncs, the file is overwritten in place
// (it never grows past its blocks), and after close callers get an error
// rather than hang.
func TestGroupSync(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sync")
	g, err := openGroupSync(path)
	if err != nil {
		t.Fatal(err)
	}
	const callers, each = 32, 40
	var wg sync.WaitGroup
	errs := make(chan error, callers*each)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				errs <- g.sync()
			}
		}()
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if err != nil {
			t.Fatalf("sync: %v", err)
		}
		n++
	}
	if n != callers*each {
		t.Fatalf("%d answers, want %d", n, callers*each)
	}
	if syncs := g.syncs.Load(); syncs < 1 || syncs >= callers*each {
		t.Errorf("%d syncs for %d answers: concurrent callers should share them", syncs, n)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != syncBlocks*4096 {
		t.Errorf("file is %d bytes, want %d: it should be overwritten in place", fi.Size(), syncBlocks*4096)
	}
	g.close()
	if err := g.sync(); err == nil {
		t.Error("sync after close: no error")
	}
}
