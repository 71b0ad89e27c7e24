package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// landingBody is what the ceiling's landing page answers: a trivial page.
const landingBody = "<!doctype html><title>Invite</title><p>ok</p>\n"

// runCeiling is the child process started with -ceiling ADDR: the trivial
// net/http handler that bounds what any Go HTTP service can do on this
// machine with this load generator. Same http.Server settings as
// xmpp-invites serve; no routing beyond the two paths, no work.
func runCeiling(addr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	mux := http.NewServeMux()
	mux.HandleFunc("/invites_api", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "http://127.0.0.1/invite?AAAAAAAAAAAAAAAAAAAAAAAA")
		w.WriteHeader(http.StatusCreated)
	})
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
