package httpapi

import (
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// maxTrackedClients bounds the failure table: at most this many client
// addresses (IPv6: /64 prefixes) are remembered at once, whatever an attacker
// sends. With the default limit of 20 failures an entry is under 1 KiB.
const maxTrackedClients = 50_000

// evictSample is how many entries are looked at to choose one to forget when
// the table is full.
const evictSample = 16

// maxForwardedHops bounds how far X-Forwarded-For is walked.
const maxForwardedHops = 32

// failureLimiter counts failed authentications per client in a sliding
// window. A client with more than max failures in the window is blocked
// until enough of them age out. Only the newest max+1 failures of a client
// are kept: that is all the decision needs, and it bounds each entry.
type failureLimiter struct {
	max      int
	window   time.Duration
	capacity int

	mu        sync.Mutex
	clients   map[netip.Addr][]time.Time // oldest first, never empty
	lastSweep time.Time
}

// AuthLimiter counts failed API authentications per client address; the
// servers of several domains on one listener share one (WithAuthLimiter),
// so that a client guessing keys gets max failures in all, not max on each
// domain.
type AuthLimiter struct{ l *failureLimiter }

// NewAuthLimiter returns a limiter that blocks a client address (IPv6: its
// /64) after more than max failed authentications in AuthWindow; max <= 0
// disables it.
func NewAuthLimiter(max int) *AuthLimiter {
	return &AuthLimiter{newFailureLimiter(max, AuthWindow, maxTrackedClients)}
}

// newFailureLimiter returns a limiter that blocks a client after more than
// limit failures in window; limit <= 0 disables it.
func newFailureLimiter(limit int, window time.Duration, capacity int) *failureLimiter {
	return &failureLimiter{max: limit, window: window, capacity: max(capacity, 1),
		clients: make(map[netip.Addr][]time.Time)}
}

func (l *failureLimiter) enabled() bool { return l != nil && l.max > 0 }

// recent drops c's failures that have aged out and returns the rest.
// l.mu is held.
func (l *failureLimiter) recent(c netip.Addr, now time.Time) []time.Time {
	ts := l.clients[c]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= l.window {
		i++
	}
	if i == len(ts) {
		delete(l.clients, c)
		return nil
	}
	if i > 0 {
		ts = append(ts[:0], ts[i:]...)
		l.clients[c] = ts
	}
	return ts
}

// Blocked reports whether client c (a clientKey) is over the limit and, if
// so, how long until it is not.
func (l *failureLimiter) Blocked(c netip.Addr, now time.Time) (time.Duration, bool) {
	if !l.enabled() {
		return 0, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ts := l.recent(c, now)
	if len(ts) <= l.max {
		return 0, false
	}
	// Enough failures must age out to leave max; ts holds at most max+1.
	return ts[len(ts)-l.max-1].Add(l.window).Sub(now), true
}

// Fail records a failed authentication of client c and reports whether it
// has just put c over the limit.
func (l *failureLimiter) Fail(c netip.Addr, now time.Time) bool {
	if !l.enabled() {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	ts := l.recent(c, now)
	if ts == nil && len(l.clients) >= l.capacity {
		l.evict()
	}
	before := len(ts)
	ts = append(ts, now)
	if len(ts) > l.max+1 {
		ts = append(ts[:0], ts[len(ts)-l.max-1:]...)
	}
	l.clients[c] = ts
	return before == l.max
}

// sweep forgets every aged-out failure, once a window, or once a second
// while the table is full, so a flood of addresses costs bounded work.
// l.mu is held.
func (l *failureLimiter) sweep(now time.Time) {
	since := now.Sub(l.lastSweep)
	if since < l.window && (len(l.clients) < l.capacity || since < time.Second) {
		return
	}
	l.lastSweep = now
	for c := range l.clients {
		l.recent(c, now)
	}
}

// evict forgets one client to make room: among a few, one that is not
// blocked if there is one (forgetting a blocked client would unblock it),
// and of those the one whose last failure is oldest. l.mu is held.
func (l *failureLimiter) evict() {
	var (
		victim   netip.Addr
		found    bool
		vBlocked bool
		vLast    time.Time
		n        int
	)
	for c, ts := range l.clients {
		blocked := len(ts) > l.max
		last := ts[len(ts)-1]
		if !found || (vBlocked && !blocked) || (vBlocked == blocked && last.Before(vLast)) {
			victim, found, vBlocked, vLast = c, true, blocked, last
		}
		if n++; n == evictSample {
			break
		}
	}
	if found {
		delete(l.clients, victim)
	}
}

// Len reports how many clients are tracked.
func (l *failureLimiter) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}

// clientKey groups addresses as the limit counts them: an IPv4 address on
// its own, an IPv6 address by its /64, since one host commonly holds a whole
// /64. An invalid address (an unparsable peer) stays the zero Addr: all such
// clients share one entry.
func clientKey(a netip.Addr) netip.Addr {
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, err := a.Prefix(64)
		if err == nil {
			return p.Addr()
		}
	}
	return a
}

// clientString prints a clientKey for logs.
func clientString(c netip.Addr) string {
	switch {
	case !c.IsValid():
		return "unknown"
	case c.Is6():
		return c.String() + "/64"
	}
	return c.String()
}

// clientAddr returns the address a request comes from: the TCP peer, or,
// when the peer is a trusted proxy, the rightmost X-Forwarded-For entry that
// is not a trusted proxy itself (entries further left are whatever the
// client claimed).
func clientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := parseHostAddr(r.RemoteAddr)
	if !peer.IsValid() || !isTrusted(peer, trusted) {
		return peer
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	addr := peer
	for i, n := len(hops)-1, 0; i >= 0 && n < maxForwardedHops; i, n = i-1, n+1 {
		h := parseHostAddr(hops[i])
		if !h.IsValid() {
			// A broken chain: the last hop we could read answers for it.
			break
		}
		addr = h
		if !isTrusted(h, trusted) {
			break
		}
	}
	return addr
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHostAddr reads "1.2.3.4", "1.2.3.4:5", "2001:db8::1", "[2001:db8::1]"
// or "[2001:db8::1]:5"; anything else is the zero Addr.
func parseHostAddr(s string) netip.Addr {
	s = strings.TrimSpace(s)
	if len(s) > 64 {
		return netip.Addr{}
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone("")
	}
	return netip.Addr{}
}
