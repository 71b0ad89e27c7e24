package httpapi

import (
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"
)

func TestFailureLimiterWindow(t *testing.T) {
	l := newFailureLimiter(3, time.Minute, 100)
	c := netip.MustParseAddr("192.0.2.1")
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		if l.Fail(c, t0.Add(time.Duration(i)*time.Second)) {
			t.Fatalf("failure %d reported going over a limit of 3", i+1)
		}
		if _, blocked := l.Blocked(c, t0.Add(time.Duration(i)*time.Second)); blocked {
			t.Fatalf("blocked after %d failures, limit 3", i+1)
		}
	}
	if !l.Fail(c, t0.Add(10*time.Second)) {
		t.Fatal("the fourth failure did not report going over")
	}
	if l.Fail(c, t0.Add(11*time.Second)) {
		t.Fatal("a fifth failure reported going over again")
	}
	tests := []struct {
		at      time.Duration
		blocked bool
		wait    time.Duration
	}{
		// Kept: the newest 4 failures, at 1s, 2s, 10s, 11s.
		{12 * time.Second, true, 49 * time.Second},
		{60*time.Second + 999*time.Millisecond, true, time.Millisecond},
		{61 * time.Second, false, 0},
	}
	for _, tt := range tests {
		wait, blocked := l.Blocked(c, t0.Add(tt.at))
		if blocked != tt.blocked || wait != tt.wait {
			t.Errorf("at %v: blocked %v wait %v, want %v %v", tt.at, blocked, wait, tt.blocked, tt.wait)
		}
	}
	if _, blocked := l.Blocked(netip.MustParseAddr("192.0.2.2"), t0.Add(12*time.Second)); blocked {
		t.Error("another client is blocked")
	}
	if got := retrySeconds(time.Millisecond); got != 1 {
		t.Errorf("Retry-After of 1ms is %d, want 1", got)
	}
	if got := retrySeconds(49*time.Second + time.Millisecond); got != 50 {
		t.Errorf("Retry-After of 49.001s is %d, want 50", got)
	}
}

func TestFailureLimiterDisabled(t *testing.T) {
	for _, l := range []*failureLimiter{nil, newFailureLimiter(0, time.Minute, 10), newFailureLimiter(-1, time.Minute, 10)} {
		c := netip.MustParseAddr("192.0.2.1")
		now := time.Now()
		for range 100 {
			l.Fail(c, now)
		}
		if _, blocked := l.Blocked(c, now); blocked || l.Len() != 0 {
			t.Errorf("disabled limiter %+v blocks or tracks", l)
		}
	}
}

func TestFailureLimiterMemoryBound(t *testing.T) {
	const capacity = 100
	l := newFailureLimiter(2, time.Minute, capacity)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	victim := netip.MustParseAddr("198.51.100.1")
	for range 3 {
		l.Fail(victim, now)
	}
	// A flood of fresh addresses, each failing once, as fast as it can.
	for i := range 20_000 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		l.Fail(a, now.Add(time.Duration(i)*time.Microsecond))
		if n := l.Len(); n > capacity {
			t.Fatalf("tracking %d clients, capacity %d", n, capacity)
		}
	}
	// The flood did not evict the blocked client: that would unblock it.
	if _, blocked := l.Blocked(victim, now.Add(time.Second)); !blocked {
		t.Fatal("a flood of addresses unblocked a blocked client")
	}
	// Each entry keeps at most max+1 failures.
	for range 1000 {
		l.Fail(victim, now.Add(time.Second))
	}
	l.mu.Lock()
	n := len(l.clients[victim])
	l.mu.Unlock()
	if n != 3 {
		t.Fatalf("a client keeps %d failures, want 3", n)
	}
	// A window later, the next failure sweeps everything that aged out.
	l.Fail(netip.MustParseAddr("192.0.2.99"), now.Add(3*time.Minute))
	if n := l.Len(); n != 1 {
		t.Fatalf("%d clients tracked after the sweep, want 1", n)
	}
}

func TestFailureLimiterSweepsIdleClients(t *testing.T) {
	l := newFailureLimiter(5, time.Minute, 1000)
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10 {
		l.Fail(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), t0)
	}
	l.Fail(netip.MustParseAddr("198.51.100.1"), t0.Add(30*time.Second))
	if n := l.Len(); n != 11 {
		t.Fatalf("%d clients tracked, want 11", n)
	}
	// Clients that never come back are forgotten within a window or two,
	// though the table is far from full.
	l.Fail(netip.MustParseAddr("198.51.100.2"), t0.Add(2*time.Minute))
	if n := l.Len(); n != 1 {
		t.Fatalf("%d clients tracked after two windows, want 1", n)
	}
}

func TestFailureLimiterConcurrent(t *testing.T) {
	l := newFailureLimiter(5, time.Minute, 50)
	now := time.Now()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				a := netip.AddrFrom4([4]byte{192, 0, byte(g), byte(i % 64)})
				l.Fail(a, now.Add(time.Duration(i)*time.Millisecond))
				l.Blocked(a, now.Add(time.Duration(i)*time.Millisecond))
			}
		}()
	}
	wg.Wait()
	if n := l.Len(); n > 50 {
		t.Fatalf("tracking %d clients, capacity 50", n)
	}
}

func TestClientKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::"},
		{"2001:db8:1:2::1", "2001:db8:1:2::"},
		{"fe80::1%eth0", "fe80::"},
	}
	for _, tt := range tests {
		if got := clientKey(netip.MustParseAddr(tt.in)); got.String() != tt.want {
			t.Errorf("clientKey(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if got := clientKey(netip.Addr{}); got.IsValid() {
		t.Errorf("clientKey(invalid) = %s", got)
	}
	if got := clientString(clientKey(netip.MustParseAddr("2001:db8::1"))); got != "2001:db8::/64" {
		t.Errorf("clientString = %q", got)
	}
}

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string // "" : invalid
	}{
		{"plain peer", "192.0.2.1:1234", nil, "192.0.2.1"},
		{"IPv6 peer", "[2001:db8::1]:1234", nil, "2001:db8::1"},
		{"peer without port", "192.0.2.1", nil, "192.0.2.1"},
		{"unparsable peer", "pipe", nil, ""},
		{"untrusted peer ignores XFF", "192.0.2.1:1", []string{"198.51.100.1"}, "192.0.2.1"},
		{"trusted peer, one hop", "10.1.2.3:1", []string{"198.51.100.1"}, "198.51.100.1"},
		{"trusted peer, spoofed left", "10.1.2.3:1", []string{"1.1.1.1, 198.51.100.1"}, "198.51.100.1"},
		{"trusted chain", "10.1.2.3:1", []string{"198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"several headers", "10.1.2.3:1", []string{"1.1.1.1", "198.51.100.1, 10.0.0.5"}, "198.51.100.1"},
		{"all trusted", "10.1.2.3:1", []string{"10.0.0.7, 10.0.0.8"}, "10.0.0.7"},
		{"garbage rightmost", "10.1.2.3:1", []string{"198.51.100.1, junk"}, "10.1.2.3"},
		{"empty header", "10.1.2.3:1", []string{""}, "10.1.2.3"},
		{"IPv6 proxy and client", "[fd00::1]:1", []string{"[2001:db8::5]:999"}, "2001:db8::5"},
		{"mapped client", "10.1.2.3:1", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			got := clientAddr(r, trusted)
			if (tt.want == "" && got.IsValid()) || (tt.want != "" && got.String() != tt.want) {
				t.Errorf("clientAddr = %v, want %q", got, tt.want)
			}
		})
	}
}
