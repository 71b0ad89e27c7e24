package httpapi

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// ConnLimits caps the connections one HTTP listener holds, so that a client
// cannot use up the process's file descriptors (and the memory each
// connection costs) by opening connections and leaving them idle.
type ConnLimits struct {
	// Max is the most connections open at once. From three quarters of it
	// on, each new connection closes the longest-idle keep-alive connection;
	// at Max, a new connection that finds no idle one to displace is closed
	// at once.
	Max int
	// PerClient is the most connections open at once from one client
	// address (IPv6: one /64); a connection beyond it is closed at once.
	PerClient int
	// TrustedProxies are exempt from PerClient: a reverse proxy carries
	// everyone's connections. They count towards Max.
	TrustedProxies []netip.Prefix
}

// Validate reports limits LimitConns cannot work with.
func (l ConnLimits) Validate() error {
	switch {
	case l.Max < 1:
		return errors.New("the connection limit must be at least 1")
	case l.PerClient < 1:
		return errors.New("the per-client connection limit must be at least 1")
	case l.PerClient > l.Max:
		return errors.New("the per-client connection limit exceeds the connection limit")
	}
	return nil
}

// refuseLogEvery spaces the warnings about refused connections: a flood
// would otherwise write one log line per connection.
const refuseLogEvery = 10 * time.Second

// LimitConns wraps ln so that the connections it hands out stay within lim,
// and returns the wrapped listener and the hook to set as the
// http.Server's ConnState, which tells the limiter which connections are
// idle. A connection over a limit is accepted and closed at once (with a
// reset, leaving no TIME_WAIT behind), so the kernel's backlog never fills
// and new clients keep being served. lim must be valid.
//
// golang.org/x/net/netutil.LimitListener is not used: it blocks Accept at
// the limit, which leaves new connections waiting in the backlog, and it
// knows neither clients nor idle connections.
func LimitConns(ln net.Listener, lim ConnLimits, log *slog.Logger) (net.Listener, func(net.Conn, http.ConnState)) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &connLimiter{
		Listener:  ln,
		lim:       lim,
		highWater: lim.Max * 3 / 4,
		log:       log,
		byClient:  make(map[netip.Addr]int),
	}
	return l, l.connState
}

// Refusal reasons, as logged.
const (
	overClient = "per-client connection limit"
	overTotal  = "connection limit"
)

// connLimiter counts the open connections in total and per client, and
// keeps the idle ones in a list, longest idle first.
type connLimiter struct {
	net.Listener
	lim       ConnLimits
	highWater int
	log       *slog.Logger

	mu       sync.Mutex
	open     int
	byClient map[netip.Addr]int // clients not exempt; no zero entries
	idleHead *limitedConn       // longest idle
	idleTail *limitedConn
	idleLen  int
	refused  int // since the last warning
	lastWarn time.Time
}

// limitedConn is a connection the limiter counts; closing it frees its
// place.
type limitedConn struct {
	net.Conn
	l       *connLimiter
	client  netip.Addr // a clientKey
	counted bool       // counted in byClient (not a trusted proxy)

	// Guarded by l.mu.
	released   bool
	idle       bool
	prev, next *limitedConn
}

// Accept returns the next connection within the limits, closing those over
// them.
func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		lc, victim, reason := l.admit(c)
		if victim != nil {
			// Under pressure: an idle keep-alive connection gives way. Its
			// server goroutine sees the close and ends.
			victim.Conn.Close()
		}
		if lc != nil {
			return lc, nil
		}
		l.refuse(c, reason)
	}
}

// admit counts c in, or returns why not. victim, if not nil, is an idle
// connection already released that the caller must close.
func (l *connLimiter) admit(c net.Conn) (lc, victim *limitedConn, reason string) {
	peer := peerAddr(c)
	lc = &limitedConn{Conn: c, l: l, client: clientKey(peer), counted: !isTrusted(peer, l.lim.TrustedProxies)}
	l.mu.Lock()
	defer l.mu.Unlock()
	if lc.counted && l.byClient[lc.client] >= l.lim.PerClient {
		return nil, nil, overClient
	}
	if l.open >= l.highWater {
		victim = l.idleHead
		if victim == nil && l.open >= l.lim.Max {
			return nil, nil, overTotal
		}
		if victim != nil {
			l.release(victim)
		}
	}
	l.open++
	if lc.counted {
		l.byClient[lc.client]++
	}
	return lc, victim, ""
}

// release frees c's place, once. l.mu is held.
func (l *connLimiter) release(c *limitedConn) {
	if c.released {
		return
	}
	c.released = true
	l.open--
	if c.counted {
		if n := l.byClient[c.client] - 1; n > 0 {
			l.byClient[c.client] = n
		} else {
			delete(l.byClient, c.client)
		}
	}
	l.unidle(c)
}

// unidle takes c off the idle list if it is on it. l.mu is held.
func (l *connLimiter) unidle(c *limitedConn) {
	if !c.idle {
		return
	}
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		l.idleHead = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		l.idleTail = c.prev
	}
	c.prev, c.next, c.idle = nil, nil, false
	l.idleLen--
}

// connState follows the server's view of each connection: only a
// connection waiting for its next request (StateIdle) may be closed early.
func (l *connLimiter) connState(nc net.Conn, st http.ConnState) {
	if tc, ok := nc.(interface{ NetConn() net.Conn }); ok {
		nc = tc.NetConn() // TLS
	}
	c, ok := nc.(*limitedConn)
	if !ok || c.l != l {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.released {
		return
	}
	l.unidle(c)
	if st == http.StateIdle {
		c.idle = true
		c.prev = l.idleTail
		if l.idleTail != nil {
			l.idleTail.next = c
		} else {
			l.idleHead = c
		}
		l.idleTail = c
		l.idleLen++
	}
}

// refuse closes a connection over a limit and warns, at most once per
// refuseLogEvery with the count since the last warning.
func (l *connLimiter) refuse(c net.Conn, reason string) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	peer := peerAddr(c)
	c.Close()
	now := time.Now()
	l.mu.Lock()
	l.refused++
	n, open := l.refused, l.open
	warn := now.Sub(l.lastWarn) >= refuseLogEvery
	if warn {
		l.refused, l.lastWarn = 0, now
	}
	l.mu.Unlock()
	if warn {
		l.log.Warn("refusing connections over a limit", "reason", reason, "client", clientString(clientKey(peer)),
			"refused", n, "open", open, "max_connections", l.lim.Max, "max_connections_per_client", l.lim.PerClient)
	}
}

// Close frees the connection's place and closes it.
func (c *limitedConn) Close() error {
	c.l.mu.Lock()
	c.l.release(c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

// CloseWrite half-closes the connection when it can: net/http uses it to
// let the client read an error response before the connection goes.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom keeps the connection's own ReadFrom (sendfile for files) that
// net/http looks for.
func (c *limitedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// peerAddr is the connection's remote IP address; the zero Addr if it has
// none.
func peerAddr(c net.Conn) netip.Addr {
	switch a := c.RemoteAddr().(type) {
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap().WithZone("")
	case nil:
		return netip.Addr{}
	default:
		return parseHostAddr(a.String())
	}
}
