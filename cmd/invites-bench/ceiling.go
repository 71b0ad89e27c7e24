package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// landingBody is what the ceiling's landing page answers: a trivial page.
const landingBody = "<!doctype html><title>Invite</title><p>ok</p>\n"

// runCeiling is the child process started with -ceiling ADDR SYNCFILE: the
// trivial net/http handler that bounds what any Go HTTP service can do on
// this machine with this load generator. Same http.Server settings as
// xmpp-invites serve; no routing beyond its few paths, no work. Its
// /invites_api_synced is the same handler answering only after a group
// fdatasync of SYNCFILE (see groupSync): the bound for a server that makes
// each write durable before it answers, as xmpp-invites does. With
// envCeilingPG set, /invites_api_pg answers after a PostgreSQL commit.
func runCeiling(addr, syncPath string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	gs, err := openGroupSync(syncPath)
	if err != nil {
		return err
	}
	defer gs.close()
	created := func(w http.ResponseWriter) {
		w.Header().Set("Location", "http://127.0.0.1/invite?AAAAAAAAAAAAAAAAAAAAAAAA")
		w.WriteHeader(http.StatusCreated)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/invites_api", func(w http.ResponseWriter, r *http.Request) { created(w) })
	mux.HandleFunc("/invites_api_synced", func(w http.ResponseWriter, r *http.Request) {
		if err := gs.sync(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		created(w)
	})
	// /invites_api_pg: the same handler answering only after one row is
	// committed on the PostgreSQL database of -database (envCeilingPG).
	if u := os.Getenv(envCeilingPG); u != "" {
		pg, err := openPGCeiling(u)
		if err != nil {
			return err
		}
		defer pg.db.Close()
		mux.HandleFunc("/invites_api_pg", func(w http.ResponseWriter, r *http.Request) {
			if err := pg.commit(r.Context()); err != nil {
				http.Error(w, "commit: "+err.Error(), http.StatusInternalServerError)
				return
			}
			created(w)
		})
	}
	mux.HandleFunc("/invite", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(landingBody))
	})
	// /static?bytes=N: a fixed page of N bytes, for telling the cost of
	// sending a page of the landing page's size from the cost of making it.
	var bodies sync.Map // int → []byte
	mux.HandleFunc("/static", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("bytes"))
		if err != nil || n < 0 || n > 1<<20 {
			http.Error(w, "bytes must be 0..1048576", http.StatusBadRequest)
			return
		}
		b, ok := bodies.Load(n)
		if !ok {
			b, _ = bodies.LoadOrStore(n, bytes.Repeat([]byte("x"), n))
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(b.([]byte))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// syncBlocks is how many 4 KiB blocks groupSync's file holds; it writes
// them in turn, so the file is overwritten in place and never grows, like
// a WAL that is reused after each checkpoint.
const syncBlocks = 256

// groupSync is the least a server can do to make a write durable before it
// answers: callers that arrive while a sync is in flight share the next one
// (group commit, as xmpp-invites' store does), and each group costs one
// 4 KiB write and one fdatasync. No database, no other work.
type groupSync struct {
	f     *os.File
	reqs  chan chan error
	done  chan struct{}
	syncs atomic.Int64 // groups synced so far
}

func openGroupSync(path string) (*groupSync, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(make([]byte, syncBlocks*4096)); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	g := &groupSync{f: f, reqs: make(chan chan error, 256), done: make(chan struct{})}
	go g.run()
	return g, nil
}

// sync returns once a write and fdatasync that began after the call have
// finished, with their error.
func (g *groupSync) sync() error {
	c := make(chan error, 1)
	select {
	case g.reqs <- c:
	case <-g.done:
		return errGroupSyncClosed
	}
	// After close, run may have gone without taking c.
	select {
	case err := <-c:
		return err
	case <-g.done:
		return errGroupSyncClosed
	}
}

var errGroupSyncClosed = errors.New("group sync closed")

func (g *groupSync) close() {
	close(g.done)
}

func (g *groupSync) run() {
	defer g.f.Close()
	block := make([]byte, 4096)
	group := make([]chan error, 0, 128)
	for n := int64(0); ; n++ {
		select {
		case c := <-g.reqs:
			group = append(group[:0], c)
		case <-g.done:
			return
		}
	gather:
		for len(group) < cap(group) {
			select {
			case c := <-g.reqs:
				group = append(group, c)
			default:
				break gather
			}
		}
		block[0] = byte(n) // a different block content each time
		_, err := g.f.WriteAt(block, n%syncBlocks*4096)
		if err == nil {
			err = syscall.Fdatasync(int(g.f.Fd()))
		}
		g.syncs.Add(1)
		for _, c := range group {
			c <- err
		}
	}
}
