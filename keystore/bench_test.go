package keystore

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// BenchmarkCreateInvite measures invite creation with group commit under
// synchronous=FULL (what serve uses: every acknowledged invite survives power
// loss) and NORMAL (WAL commits without fsync), with 1 writer and with 16
// concurrent writers, as 1 and 16 HTTP connections would drive it. The
// database lives in b.TempDir(): point TMPDIR at the disk to measure, not
// at a tmpfs, where fsync costs nothing.
//
//	go test -run '^$' -bench CreateInvite -benchtime 3s ./keystore/
//
// invites/s is the figure to compare; ns/op is the time per invite, not the
// latency of one call when writers run in parallel.
func BenchmarkCreateInvite(b *testing.B) {
	for _, mode := range []string{"FULL", "NORMAL"} {
		for _, writers := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/writers=%d", mode, writers), func(b *testing.B) {
				ctx := context.Background()
				s, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"), Options{Synchronous: mode})
				if err != nil {
					b.Fatalf("Open: %v", err)
				}
				defer s.Close()
				// A real key, as serve's invites have: their insert
				// checks that it exists.
				key, _, err := s.CreateKey(ctx, KeyParams{Name: "bench"})
				if err != nil {
					b.Fatalf("CreateKey: %v", err)
				}
				p := InviteParams{Type: TypeAccount, Creator: key.Creator(), MaxUses: 1,
					Expires: time.Now().Add(7 * 24 * time.Hour)}
				if writers == 1 {
					// One writer: a plain loop. RunParallel always starts
					// at least GOMAXPROCS goroutines.
					for b.Loop() {
						if _, _, err := s.CreateInvite(ctx, p); err != nil {
							b.Fatalf("CreateInvite: %v", err)
						}
					}
				} else {
					// SetParallelism(n) starts n×GOMAXPROCS goroutines:
					// round up so that at least `writers` run.
					procs := runtime.GOMAXPROCS(0)
					b.SetParallelism((writers + procs - 1) / procs)
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if _, _, err := s.CreateInvite(ctx, p); err != nil {
								b.Errorf("CreateInvite: %v", err)
								return
							}
						}
					})
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "invites/s")
			})
		}
	}
}
