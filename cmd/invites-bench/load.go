package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// target is one kind of HTTP request that a load run repeats.
type target struct {
	Method string
	URL    string
	Host   string // Host header; empty: from URL (Prosody routes by it)
	Header http.Header
	Want   int // the status every request must get
	// MetricsURL, when set, is the server's /metrics: its group-commit
	// histograms are read before and after each measurement.
	MetricsURL string
}

// httpResult is one measurement: one server, one test, one number of
// connections.
type httpResult struct {
	Server     string  `json:"server"`
	Test       string  `json:"test"`
	Conns      int     `json:"conns"`
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

// newClient returns a client with its own keep-alive transport holding one
// connection: each load goroutine is one client connection.
func newClient() *http.Client {
	tr := &http.Transport{
		Proxy:                 nil, // loopback only, never through a proxy from the environment
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:          1,
		MaxIdleConnsPerHost:   1,
		IdleConnTimeout:       time.Minute,
		ResponseHeaderTimeout: 30 * time.Second,
		DisableCompression:    true,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   30 * time.Second,
		// 303s and 201s with Location are answers, not hops to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// newRequest builds t's request. One request per goroutine is reused for
// every iteration: the body is nil and the previous response is closed
// before the next Do.
func (t target) newRequest(ctx context.Context) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, t.Method, t.URL, nil)
	if err != nil {
		return nil, err
	}
	if t.Host != "" {
		req.Host = t.Host
	}
	for k, v := range t.Header {
		req.Header[k] = append([]string(nil), v...)
	}
	return req, nil
}

// do sends req and reads the whole response, so the connection is reused.
func do(c *http.Client, req *http.Request, want int) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("status %d, want %d", resp.StatusCode, want)
	}
	return nil
}

// errorPause keeps a worker whose requests fail (a dead server) from
// spinning on a CPU the servers need.
const errorPause = 10 * time.Millisecond

// measure drives t with conns connections for warmup (discarded) plus dur
// and records the latency of every request that started and ended inside
// the measurement window. Throughput is those requests over the window.
func measure(ctx context.Context, t target, conns int, warmup, dur time.Duration) (httpResult, error) {
	res := httpResult{Conns: conns, Seconds: dur.Seconds()}
	if conns < 1 {
		return res, errors.New("measure: conns must be at least 1")
	}
	begin := time.Now()
	from := begin.Add(warmup)
	until := from.Add(dur)
	type worker struct {
		lat    []time.Duration
		errs   int
		first  error
		client *http.Client
	}
	ws := make([]worker, conns)
	var wg sync.WaitGroup
	for i := range ws {
		w := &ws[i]
		w.client = newClient()
		w.lat = make([]time.Duration, 0, 4096)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer w.client.CloseIdleConnections()
			req, err := t.newRequest(ctx)
			if err != nil {
				w.errs, w.first = 1, err
				return
			}
			for ctx.Err() == nil {
				t0 := time.Now()
				if t0.After(until) {
					return
				}
				err := do(w.client, req, t.Want)
				t1 := time.Now()
				if err != nil {
					w.errs++
					if w.first == nil {
						w.first = err
					}
					time.Sleep(errorPause)
					continue
				}
				if !t0.Before(from) && !t1.After(until) {
					w.lat = append(w.lat, t1.Sub(t0))
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return res, err
	}
	var all []time.Duration
	for _, w := range ws {
		all = append(all, w.lat...)
		res.Errors += w.errs
		if w.first != nil && res.FirstError == "" {
			res.FirstError = w.first.Error()
		}
	}
	res.OK = len(all)
	res.PerSecond = float64(res.OK) / dur.Seconds()
	res.Latency = summarize(all)
	return res, nil
}

// fill sends t with conns connections until n requests have succeeded or
// limit has passed, and returns how many succeeded.
func fill(ctx context.Context, t target, conns, n int, limit time.Duration) (int, error) {
	var remaining, okCount, errCount atomic.Int64
	remaining.Store(int64(n))
	deadline := time.Now().Add(limit)
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient()
			defer c.CloseIdleConnections()
			req, err := t.newRequest(ctx)
			if err != nil {
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			for ctx.Err() == nil && time.Now().Before(deadline) && remaining.Add(-1) >= 0 {
				if err := do(c, req, t.Want); err != nil {
					remaining.Add(1) // not done: someone must still send it
					if errCount.Add(1) > 100 {
						firstErr.CompareAndSwap(nil, err.Error())
						return
					}
					time.Sleep(errorPause)
					continue
				}
				okCount.Add(1)
			}
		}()
	}
	wg.Wait()
	done := int(okCount.Load())
	if err := ctx.Err(); err != nil {
		return done, err
	}
	if msg, _ := firstErr.Load().(string); msg != "" {
		return done, fmt.Errorf("after %d requests: %s", done, msg)
	}
	if done < n {
		return done, fmt.Errorf("only %d of %d requests done in %v", done, n, limit)
	}
	return done, nil
}

// once sends t's request one time and returns the response's status,
// headers and body, for showing that a server answers as expected.
func once(ctx context.Context, t target) (*http.Response, []byte, error) {
	req, err := t.newRequest(ctx)
	if err != nil {
		return nil, nil, err
	}
	c := newClient()
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp, nil, err
	}
	if resp.StatusCode != t.Want {
		return resp, body, fmt.Errorf("%s %s: status %d, want %d: %.300s", t.Method, t.URL, resp.StatusCode, t.Want, body)
	}
	return resp, body, nil
}

// httpReady reports whether GET url answers with status want.
func httpReady(url, host string, want int) bool {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	if host != "" {
		req.Host = host
	}
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == want
}
