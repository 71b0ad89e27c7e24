package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"xmpp-invites/keystore"
)

// storeResult is keystore.CreateInvite measured in this process, without
// HTTP: what the database and its group commit can do on this disk.
type storeResult struct {
	Synchronous string  `json:"synchronous"`
	Writers     int     `json:"writers"`
	OK          int     `json:"ok"`
	PerSecond   float64 `json:"per_second"`
	Latency     latency `json:"latency"`
}

// measureStore runs writers goroutines that each create invites in a loop
// on a fresh database in dir with the given synchronous mode.
func measureStore(ctx context.Context, dir, mode string, writers int, warmup, dur time.Duration) (storeResult, error) {
	res := storeResult{Synchronous: mode, Writers: writers}
	path := filepath.Join(dir, fmt.Sprintf("store-%s-%d.db", mode, writers))
	st, err := keystore.Open(ctx, path, keystore.Options{Synchronous: mode})
	if err != nil {
		return res, err
	}
	defer func() {
		st.Close()
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(path + suffix)
		}
	}()
	// A real key, as serve's invites have: their insert checks that it exists.
	key, _, err := st.CreateKey(ctx, keystore.KeyParams{Name: "bench"})
	if err != nil {
		return res, err
	}
	p := keystore.InviteParams{
		Type: keystore.TypeAccount, Creator: key.Creator(), MaxUses: 1,
		Expires: time.Now().Add(7 * 24 * time.Hour),
	}
	from := time.Now().Add(warmup)
	until := from.Add(dur)
	lats := make([][]time.Duration, writers)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				t0 := time.Now()
				if t0.After(until) {
					return
				}
				if _, _, err := st.CreateInvite(ctx, p); err != nil {
					errs[i] = err
					return
				}
				t1 := time.Now()
				if !t0.Before(from) && !t1.After(until) {
					lats[i] = append(lats[i], t1.Sub(t0))
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return res, err
	}
	var all []time.Duration
	for i := range writers {
		if errs[i] != nil {
			return res, fmt.Errorf("store %s with %d writers: %w", mode, writers, errs[i])
		}
		all = append(all, lats[i]...)
	}
	res.OK = len(all)
	res.PerSecond = float64(len(all)) / dur.Seconds()
	res.Latency = summarize(all)
	return res, nil
}
