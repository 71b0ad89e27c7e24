package httpapi

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// fakeConn is a connection from a given address that records its close;
// the limiter's bookkeeping uses nothing else.
type fakeConn struct {
	net.Conn
	remote net.Addr
	closed atomic.Bool
}

func (c *fakeConn) RemoteAddr() net.Addr { return c.remote }
func (c *fakeConn) Close() error         { c.closed.Store(true); return nil }

func from(addr string) *fakeConn {
	return &fakeConn{remote: net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(addr), 40000))}
}

func newTestLimiter(t *testing.T, lim ConnLimits) *connLimiter {
	t.Helper()
	if err := lim.Validate(); err != nil {
		t.Fatal(err)
	}
	ln, _ := LimitConns(nil, lim, nil)
	return ln.(*connLimiter)
}

// admitted admits a connection from addr and fails unless it gets in.
func admitted(t *testing.T, l *connLimiter, addr string) *limitedConn {
	t.Helper()
	lc, victim, reason := l.admit(from(addr))
	if lc == nil {
		t.Fatalf("a connection from %s was refused (%s) with %d open, want it admitted", addr, reason, l.open)
	}
	if victim != nil {
		t.Fatalf("a connection from %s displaced one from %s, want no displacement", addr, victim.RemoteAddr())
	}
	return lc
}

func refused(t *testing.T, l *connLimiter, addr, want string) {
	t.Helper()
	lc, _, reason := l.admit(from(addr))
	if lc != nil || reason != want {
		t.Fatalf("a connection from %s: admitted %v, reason %q; want refused for the %s", addr, lc != nil, reason, want)
	}
}

func TestConnLimitsPerClient(t *testing.T) {
	l := newTestLimiter(t, ConnLimits{Max: 100, PerClient: 2,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("192.0.2.9/32")}})
	first := admitted(t, l, "192.0.2.1")
	admitted(t, l, "192.0.2.1")
	refused(t, l, "192.0.2.1", overClient)
	refused(t, l, "::ffff:192.0.2.1", overClient) // the same address, IPv4-mapped
	admitted(t, l, "192.0.2.2")

	// IPv6: one /64 is one client.
	admitted(t, l, "2001:db8::1")
	admitted(t, l, "2001:db8::2")
	refused(t, l, "2001:db8::3", overClient)
	admitted(t, l, "2001:db8:0:1::1")

	// A trusted proxy carries many clients.
	for range 10 {
		admitted(t, l, "192.0.2.9")
	}
	if l.open != 16 {
		t.Fatalf("%d connections counted open, want 16", l.open)
	}

	// Closing frees a place, once.
	first.Close()
	first.Close()
	if !first.Conn.(*fakeConn).closed.Load() {
		t.Fatal("Close did not close the connection")
	}
	admitted(t, l, "192.0.2.1")
	refused(t, l, "192.0.2.1", overClient)
	if l.open != 16 {
		t.Fatalf("%d connections counted open, want 16", l.open)
	}
}

func TestConnLimitsIdleFirst(t *testing.T) {
	// High-water mark: 3 of 4.
	l := newTestLimiter(t, ConnLimits{Max: 4, PerClient: 4})
	a := admitted(t, l, "192.0.2.1")
	b := admitted(t, l, "192.0.2.2")
	c := admitted(t, l, "192.0.2.3")
	for _, s := range []struct {
		c  *limitedConn
		st http.ConnState
	}{
		{a, http.StateNew}, {b, http.StateNew}, {c, http.StateNew},
		{b, http.StateActive}, {b, http.StateIdle}, // b idle first
		{a, http.StateActive}, {a, http.StateIdle},
		{c, http.StateActive},
	} {
		l.connState(s.c, s.st)
	}

	// At the high-water mark, each new connection displaces the
	// longest-idle one.
	for _, want := range []*limitedConn{b, a} {
		d, victim, _ := l.admit(from("192.0.2.4"))
		if d == nil || victim != want {
			t.Fatalf("admitted %v displacing %v, want admitted displacing %s", d != nil, victim, want.RemoteAddr())
		}
		victim.Conn.Close()
	}
	if l.open != 3 || l.idleLen != 0 {
		t.Fatalf("%d open, %d idle; want 3, 0", l.open, l.idleLen)
	}
	// A displaced connection's late state changes count for nothing.
	l.connState(a, http.StateIdle)
	a.Close()
	if l.open != 3 || l.idleLen != 0 {
		t.Fatalf("after the late state change and close: %d open, %d idle; want 3, 0", l.open, l.idleLen)
	}

	// Without idle connections: up to Max, then refused.
	admitted(t, l, "192.0.2.5")
	refused(t, l, "192.0.2.6", overTotal)
	// An active connection is never displaced; one that turns idle is.
	l.connState(c, http.StateIdle)
	l.connState(c, http.StateActive)
	refused(t, l, "192.0.2.6", overTotal)
	l.connState(c, http.StateIdle)
	if d, victim, _ := l.admit(from("192.0.2.6")); d == nil || victim != c {
		t.Fatalf("admitted %v displacing %v, want admitted displacing the idle %s", d != nil, victim, c.RemoteAddr())
	}
	// A hijacked connection leaves the idle list but stays counted until
	// closed.
	l = newTestLimiter(t, ConnLimits{Max: 4, PerClient: 4})
	h := admitted(t, l, "192.0.2.1")
	l.connState(h, http.StateIdle)
	l.connState(h, http.StateHijacked)
	if l.open != 1 || l.idleLen != 0 {
		t.Fatalf("hijacked: %d open, %d idle; want 1, 0", l.open, l.idleLen)
	}
	h.Close()
	if l.open != 0 {
		t.Fatalf("hijacked and closed: %d open, want 0", l.open)
	}
}

// TestConnLimitsServe runs a real http.Server behind the limiter on
// loopback.
func TestConnLimitsServe(t *testing.T) {
	serve := func(t *testing.T, lim ConnLimits) (string, chan struct{}) {
		t.Helper()
		idle := make(chan struct{}, 16)
		inner, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, hook := LimitConns(inner, lim, nil)
		srv := &http.Server{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
			ConnState: func(c net.Conn, st http.ConnState) {
				hook(c, st)
				if st == http.StateIdle {
					idle <- struct{}{}
				}
			},
		}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		return ln.Addr().String(), idle
	}
	// get sends one keep-alive request from the loopback address src on a
	// new connection and returns the connection, or nil if the server
	// closed it without an answer.
	get := func(t *testing.T, addr, src string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			return nil // reset before connect returned
		}
		t.Cleanup(func() { c.Close() })
		c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return nil
		}
		resp.Body.Close()
		return c
	}

	t.Run("per client", func(t *testing.T) {
		addr, _ := serve(t, ConnLimits{Max: 10, PerClient: 2})
		for i := range 2 {
			if get(t, addr, "127.0.0.1") == nil {
				t.Fatalf("connection %d from 127.0.0.1 got no answer, want one (limit 2)", i+1)
			}
		}
		if get(t, addr, "127.0.0.1") != nil {
			t.Fatal("a third connection from 127.0.0.1 got an answer, want it closed (limit 2)")
		}
		if get(t, addr, "127.0.0.2") == nil {
			t.Fatal("127.0.0.2 got no answer while 127.0.0.1 is at its limit")
		}
	})

	t.Run("idle first", func(t *testing.T) {
		// High-water mark: 3 of 4.
		addr, idle := serve(t, ConnLimits{Max: 4, PerClient: 4})
		var held []net.Conn
		for i := range 3 {
			c := get(t, addr, "127.0.0.1")
			if c == nil {
				t.Fatalf("connection %d got no answer", i+1)
			}
			held = append(held, c)
			<-idle
		}
		// At the high-water mark, with idle keep-alive connections: a new
		// client displaces the longest idle.
		if get(t, addr, "127.0.0.2") == nil {
			t.Fatal("a new client got no answer while the places were held by idle connections")
		}
		held[0].SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := held[0].Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Fatalf("reading the longest-idle connection: %v, want EOF (closed by the server)", err)
		}
		// The others still serve.
		held[1].SetReadDeadline(time.Now().Add(10 * time.Second))
		held[1].Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		if resp, err := http.ReadResponse(bufio.NewReader(held[1]), nil); err != nil || resp.StatusCode != 200 {
			t.Fatalf("the second idle connection: %v, want it still served", err)
		}
	})
}

func TestConnLimitsValidate(t *testing.T) {
	for _, lim := range []ConnLimits{{0, 1, nil}, {1, 0, nil}, {2, 3, nil}, {-1, -1, nil}} {
		if lim.Validate() == nil {
			t.Errorf("%+v valid, want an error", lim)
		}
	}
	if err := (ConnLimits{Max: 1, PerClient: 1}).Validate(); err != nil {
		t.Errorf("1, 1: %v", err)
	}
}
