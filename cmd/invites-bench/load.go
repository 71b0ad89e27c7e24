package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// result is one measurement: one server, one test, one number of
// connections (HTTP) or client sessions (XMPP), in one round.
type result struct {
	Server     string  `json:"server"`
	Test       string  `json:"test"`
	Conns      int     `json:"conns"`
	Round      int     `json:"round"`
	Seconds    float64 `json:"seconds"`
	OK         int     `json:"ok"`
	Errors     int     `json:"errors"`
	PerSecond  float64 `json:"per_second"`
	Latency    latency `json:"latency"`
	CPU        cpuUse  `json:"cpu"`
	FirstError string  `json:"first_error,omitempty"`
	// Commits are xmpp-invites' database transactions during the warm-up
	// and the measurement.
	Commits *commitStats `json:"commits,omitempty"`
}

// errorPause keeps a worker whose requests fail (a dead server) from
// spinning on a CPU the servers need.
const errorPause = 10 * time.Millisecond

// graceTime bounds how long a request may stay unanswered after the end of
// a measurement.
const graceTime = 30 * time.Second

// drive runs workers closed loops of do for warmup (discarded) plus dur and
// records the latency of every call that started and ended inside the
// measurement window; the rate is those calls over the window. Every call
// gets one context that ends graceTime after the window, not a context of
// its own: mellium's Session.Send arms a goroutine per write that breaks
// the connection's next write when the write's context ends late.
func drive(ctx context.Context, workers int, warmup, dur time.Duration, do func(ctx context.Context, worker int) error) (result, error) {
	res := result{Conns: workers, Seconds: dur.Seconds()}
	from := time.Now().Add(warmup)
	until := from.Add(dur)
	mctx, cancel := context.WithDeadline(ctx, until.Add(graceTime))
	defer cancel()
	lats := make([][]time.Duration, workers)
	errs := make([]int, workers)
	firsts := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for mctx.Err() == nil && errs[i] <= 100 {
				t0 := time.Now()
				if t0.After(until) {
					return
				}
				err := do(mctx, i)
				t1 := time.Now()
				if err != nil {
					errs[i]++
					if firsts[i] == nil {
						firsts[i] = err
					}
					time.Sleep(errorPause)
					continue
				}
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
	for i := range workers {
		all = append(all, lats[i]...)
		res.Errors += errs[i]
		if firsts[i] != nil && res.FirstError == "" {
			res.FirstError = firsts[i].Error()
		}
	}
	res.OK = len(all)
	res.PerSecond = float64(res.OK) / dur.Seconds()
	res.Latency = summarize(all)
	return res, nil
}

// target is one kind of HTTP request that a load run repeats.
type target struct {
	URL  string // GET
	Host string // Host header; empty: from URL (Prosody routes by it)
	Want int    // the status every request must get
}

// newClient returns a client with its own keep-alive transport holding one
// connection: each load worker is one client connection.
func newClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil, // loopback only, never through a proxy from the environment
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConnsPerHost:   1,
			ResponseHeaderTimeout: graceTime,
			DisableCompression:    true,
		},
		Timeout: graceTime,
		// 303s and 201s with Location are answers, not hops to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// get sends t's request on c and reads the whole response, so that the
// connection is reused; with keep, it returns the body (at most 1 MiB),
// else it discards it: a load generator that keeps 18 KB pages takes the
// CPU the server needs.
func (t target) get(ctx context.Context, c *http.Client, keep bool) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Host = t.Host
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	var body []byte
	if keep || resp.StatusCode != t.Want {
		body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	} else {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	if err != nil {
		return resp, nil, fmt.Errorf("read body: %w", err)
	}
	if resp.StatusCode != t.Want {
		return resp, body, fmt.Errorf("GET %s: status %d, want %d: %.300s", redactToken(t.URL), resp.StatusCode, t.Want, body)
	}
	return resp, body, nil
}

// measureHTTP drives t with conns keep-alive connections.
func measureHTTP(ctx context.Context, t target, conns int, warmup, dur time.Duration) (result, error) {
	clients := make([]*http.Client, conns)
	for i := range clients {
		clients[i] = newClient()
		defer clients[i].CloseIdleConnections()
	}
	return drive(ctx, conns, warmup, dur, func(ctx context.Context, i int) error {
		_, _, err := t.get(ctx, clients[i], false)
		return err
	})
}

// fill sends t with conns connections until n requests have succeeded or
// limit has passed.
func fill(ctx context.Context, t target, conns, n int, limit time.Duration) error {
	var remaining, failed atomic.Int64
	remaining.Store(int64(n))
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient()
			defer c.CloseIdleConnections()
			for ctx.Err() == nil && remaining.Add(-1) >= 0 {
				if _, _, err := t.get(ctx, c, false); err != nil {
					remaining.Add(1) // not done: someone must still send it
					firstErr.CompareAndSwap(nil, err)
					if failed.Add(1) > 100 {
						return
					}
					time.Sleep(errorPause)
				}
			}
		}()
	}
	wg.Wait()
	if left := remaining.Load(); left > 0 {
		err, _ := firstErr.Load().(error)
		return fmt.Errorf("%d of %d requests not done (%v): %v", left, n, ctx.Err(), err)
	}
	return nil
}

// once sends t's request once, for a sample answer.
func once(ctx context.Context, t target) (*http.Response, []byte, error) {
	c := newClient()
	defer c.CloseIdleConnections()
	return t.get(ctx, c, true)
}
