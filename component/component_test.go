package component

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"xmpp-invites/invites"
	"xmpp-invites/metrics"
)

func TestNewValidates(t *testing.T) {
	ok := Config{JID: "invites.example.com", Server: "127.0.0.1:5347", Secret: "s", Domain: "example.com",
		Admins: []string{"Admin@Example.com"}}
	if _, err := New(ok, &fakeMinter{}, nil, nil); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"empty jid", func(c *Config) { c.JID = "" }, "jid"},
		{"jid with localpart", func(c *Config) { c.JID = "bot@invites.example.com" }, "jid"},
		{"jid with resource", func(c *Config) { c.JID = "invites.example.com/r" }, "jid"},
		{"jid equals domain", func(c *Config) { c.JID = "example.com" }, "differ"},
		{"empty domain", func(c *Config) { c.Domain = "" }, "domain"},
		{"domain with localpart", func(c *Config) { c.Domain = "a@example.com" }, "domain"},
		{"server without port", func(c *Config) { c.Server = "127.0.0.1" }, "host:port"},
		{"empty secret", func(c *Config) { c.Secret = "" }, "secret"},
		{"negative ping", func(c *Config) { c.PingInterval = -time.Second }, "ping"},
		{"negative quota", func(c *Config) { c.UserInvitesPerDay = -1 }, "per day"},
		{"admin without localpart", func(c *Config) { c.Admins = []string{"example.com"} }, "admin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.edit(&cfg)
			_, err := New(cfg, &fakeMinter{}, nil, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error about %q", err, tc.want)
			}
		})
	}
	if _, err := New(ok, nil, nil, nil); err == nil {
		t.Error("New accepted a nil minter")
	}
	c, _ := New(ok, &fakeMinter{}, nil, nil)
	if !c.admins["admin@example.com"] {
		t.Errorf("admin JID not normalized: %v", c.admins)
	}
	if c.cfg.PingInterval != 60*time.Second {
		t.Errorf("default ping interval %v", c.cfg.PingInterval)
	}
}

func TestConfigLogValueHidesSecret(t *testing.T) {
	var buf logBuffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "cfg", Config{JID: "a.b", Secret: "hunter2"})
	if strings.Contains(buf.String(), "hunter2") {
		t.Errorf("secret logged: %s", buf.String())
	}
}

func TestBackoffDelays(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name   string
		jitter float64
		factor float64
	}{
		{"no jitter", 0.5, 1}, {"low", 0, 0.8}, {"high", 0.999999, 1.2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := backoff{jitter: func() float64 { return tc.jitter }}
			for i, base := range []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 2000 * ms, 2000 * ms} {
				got, want := b.delay(), time.Duration(float64(base)*tc.factor)
				if d := got - want; d < -ms || d > ms {
					t.Errorf("delay %d = %v, want %v", i, got, want)
				}
			}
			b.reset()
			if got := b.delay(); got < 79*ms || got > 121*ms {
				t.Errorf("after reset: %v, want 100ms ±20%%", got)
			}
		})
	}
}

// recorder replaces the component's sleep: it records each delay and
// returns at once, so reconnect tests run fast and assert the schedule
// without timing.
type recorder struct {
	delays chan time.Duration
}

func newRecorder() *recorder { return &recorder{delays: make(chan time.Duration, 1000)} }

func (r *recorder) sleep(ctx context.Context, d time.Duration) bool {
	select {
	case r.delays <- d:
	default:
	}
	return ctx.Err() == nil
}

func (r *recorder) next(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-r.delays:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("no reconnect delay within 10s")
		return 0
	}
}

// fakeClock is a settable clock.
type fakeClock struct{ off atomic.Int64 }

var clockBase = time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC)

func (f *fakeClock) now() time.Time          { return clockBase.Add(time.Duration(f.off.Load())) }
func (f *fakeClock) advance(d time.Duration) { f.off.Add(int64(d)) }

func noJitter() float64 { return 0.5 }

func TestReconnectSchedule(t *testing.T) {
	ms := time.Millisecond
	t.Run("refused connections double to the cap", func(t *testing.T) {
		fs := newFakeServer(t)
		fs.set(func(fs *fakeServer) { fs.mode = func(int) connMode { return modeDrop } })
		rec := newRecorder()
		c, _ := New(fs.config(), &fakeMinter{}, testLogger(t), nil)
		c.sleep, c.jitter = rec.sleep, noJitter
		startRun(t, c)
		for i, want := range []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 2000 * ms, 2000 * ms} {
			if got := rec.next(t); got != want {
				t.Errorf("delay %d = %v, want %v", i, got, want)
			}
		}
	})
	t.Run("accept and drop after the handshake is no storm", func(t *testing.T) {
		fs := newFakeServer(t)
		fs.set(func(fs *fakeServer) { fs.mode = func(int) connMode { return modeClose } })
		rec := newRecorder()
		c, _ := New(fs.config(), &fakeMinter{}, testLogger(t), nil)
		c.sleep, c.jitter = rec.sleep, noJitter
		startRun(t, c)
		for i, want := range []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 2000 * ms} {
			if got := rec.next(t); got != want {
				t.Errorf("delay %d = %v, want %v", i, got, want)
			}
		}
	})
	t.Run("reset only after a healthy link", func(t *testing.T) {
		fs := newFakeServer(t)
		// 1, 2: refused; 3: healthy; 4: refused; 5: up for a short while; 6: refused.
		fs.set(func(fs *fakeServer) {
			fs.mode = func(n int) connMode {
				if n == 3 || n == 5 || n >= 7 {
					return modeOK
				}
				return modeDrop
			}
		})
		rec := newRecorder()
		clock := &fakeClock{}
		c, _ := New(fs.config(), &fakeMinter{}, testLogger(t), nil)
		c.sleep, c.jitter, c.now = rec.sleep, noJitter, clock.now
		startRun(t, c)
		expect := func(want time.Duration) {
			t.Helper()
			if got := rec.next(t); got != want {
				t.Errorf("delay %v, want %v", got, want)
			}
		}
		expect(100 * ms)
		expect(200 * ms)
		fc := fs.nextConn(t) // 3
		waitUp(t, c)
		clock.advance(31 * time.Second)
		fc.conn.Close()
		expect(100 * ms)    // healthy for 31 s: start over
		expect(200 * ms)    // 4 refused
		fc = fs.nextConn(t) // 5
		waitUp(t, c)
		clock.advance(29 * time.Second)
		fc.conn.Close()
		expect(400 * ms) // 29 s is not healthy enough: keep growing
		expect(800 * ms) // 6 refused
		fs.nextConn(t)
	})
}

func TestReconnects(t *testing.T) {
	for _, tc := range []struct {
		name string
		lose func(fc *fakeConn)
	}{
		{"server closes the stream", func(fc *fakeConn) { fc.send("</stream:stream>") }},
		{"TCP drop", func(fc *fakeConn) { fc.conn.Close() }},
		{"conflict", func(fc *fakeConn) {
			fc.send("<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>")
		}},
		{"system-shutdown", func(fc *fakeConn) {
			fc.send("<stream:error><system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>")
			fc.conn.Close()
		}},
		{"garbage", func(fc *fakeConn) { fc.send("<iq><unclosed></iq>") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeServer(t)
			rec := newRecorder()
			c, fc := connect(t, fs, nil, func(c *Component) { c.sleep = rec.sleep })
			first := c.cur.Load()
			tc.lose(fc)
			fc2 := fs.nextConn(t)
			eventually(t, "the new link", func() bool { l := c.cur.Load(); return l != nil && l != first })
			wantType(t, iqFrom(t, fc2, alice, "get", "after", "<ping xmlns='urn:xmpp:ping'/>"), "result")
			if n := fs.accepts.Load(); n != 2 {
				t.Errorf("%d connections, want 2", n)
			}
		})
	}
}

func TestNotAuthorizedIsFatal(t *testing.T) {
	for _, tc := range []struct {
		name   string
		secret string
		mode   connMode
	}{
		{"wrong secret", "wrong", modeOK},
		{"server refuses", "", modeReject},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeServer(t)
			fs.set(func(fs *fakeServer) { fs.mode = func(int) connMode { return tc.mode } })
			cfg := fs.config()
			if tc.secret != "" {
				cfg.Secret = tc.secret
			}
			rec := newRecorder()
			c, _ := New(cfg, &fakeMinter{}, testLogger(t), nil)
			c.sleep = rec.sleep
			done := make(chan error, 1)
			go func() { done <- c.Run(context.Background()) }()
			select {
			case err := <-done:
				if !errors.Is(err, ErrNotAuthorized) || !strings.Contains(err.Error(), "component.secret") {
					t.Errorf("Run: %v, want ErrNotAuthorized naming component.secret", err)
				}
				if strings.Contains(err.Error(), cfg.Secret) {
					t.Errorf("error shows the secret: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run kept retrying a rejected secret")
			}
			if n := fs.accepts.Load(); n != 1 {
				t.Errorf("%d connection attempts, want 1", n)
			}
			if c.State() != "down" {
				t.Errorf("state %q", c.State())
			}
		})
	}
}

func TestRunTwice(t *testing.T) {
	fs := newFakeServer(t)
	c, _ := connect(t, fs, nil, nil)
	if err := c.Run(context.Background()); err == nil {
		t.Error("a second Run was allowed")
	}
}

func TestGracefulShutdown(t *testing.T) {
	fs := newFakeServer(t)
	m := metrics.New()
	c, err := New(fs.config(), &fakeMinter{}, testLogger(t), m)
	if err != nil {
		t.Fatal(err)
	}
	if c.State() != "down" {
		t.Errorf("state before Run %q", c.State())
	}
	r := startRun(t, c)
	fc := fs.nextConn(t)
	waitUp(t, c)
	if c.State() != "up" || !strings.Contains(scrape(t, m), `xmpp_invites_component_up{domain="example.test"} 1`) {
		t.Errorf("state %q / metrics after connect", c.State())
	}
	if err := r.stop(t); err != nil {
		t.Errorf("Run after cancel: %v, want nil", err)
	}
	select {
	case <-fc.done:
	case <-time.After(5 * time.Second):
		t.Fatal("connection still open after Run returned")
	}
	if !fc.gotClose.Load() {
		t.Error("the component did not close the stream with </stream:stream>")
	}
	if c.State() != "down" || !strings.Contains(scrape(t, m), `xmpp_invites_component_up{domain="example.test"} 0`) {
		t.Errorf("state %q / metrics after stop", c.State())
	}
}

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

func TestShutdownWithSilentServer(t *testing.T) {
	// A server that never answers </stream:stream> must not hold Run.
	fs := newFakeServer(t)
	fs.set(func(fs *fakeServer) { fs.silentClose = true })
	c, err := New(fs.config(), &fakeMinter{}, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.closeWait = 200 * time.Millisecond
	r := startRun(t, c)
	fc := fs.nextConn(t)
	waitUp(t, c)
	begin := time.Now()
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("Run took %v to return", d)
	}
	eventually(t, "the close", fc.gotClose.Load)
}

func TestPingFailureReconnects(t *testing.T) {
	fs := newFakeServer(t)
	// The first connection goes silent: pings are not answered.
	fs.set(func(fs *fakeServer) {
		fs.handle = func(fc *fakeConn, e *element) bool { return fc.n == 1 && e.child(nsPing, "ping") != nil }
	})
	rec := newRecorder()
	c, _ := connect(t, fs, nil, func(c *Component) {
		c.cfg.PingInterval = 20 * time.Millisecond
		c.pingTimeout = 300 * time.Millisecond
		c.sleep = rec.sleep
	})
	fs.nextConn(t)                     // the unanswered ping dropped the first link
	time.Sleep(200 * time.Millisecond) // several answered pings
	if got := fs.accepts.Load(); got != 2 {
		t.Errorf("%d connections, want 2: the second link answers pings", got)
	}
	waitUp(t, c)
}

func TestPingErrorReplyKeepsLink(t *testing.T) {
	fs := newFakeServer(t)
	fs.set(func(fs *fakeServer) {
		fs.handle = func(fc *fakeConn, e *element) bool {
			if e.child(nsPing, "ping") == nil {
				return false
			}
			fc.reply(e, "error", "<error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>")
			return true
		}
	})
	connect(t, fs, nil, func(c *Component) { c.cfg.PingInterval = 10 * time.Millisecond })
	time.Sleep(200 * time.Millisecond)
	if n := fs.accepts.Load(); n != 1 {
		t.Errorf("%d connections: an error answer to a ping is still an answer", n)
	}
}

func TestGoroutinesFlat(t *testing.T) {
	fs := newFakeServer(t)
	rec := newRecorder()
	c, fc := connect(t, fs, nil, func(c *Component) { c.sleep = rec.sleep })
	settle := func() int {
		time.Sleep(50 * time.Millisecond)
		return runtime.NumGoroutine()
	}
	before := settle()
	for i := 0; i < 50; i++ {
		old := c.cur.Load()
		if i%2 == 0 {
			fc.send("</stream:stream>")
		} else {
			fc.conn.Close()
		}
		fc = fs.nextConn(t)
		eventually(t, "reconnect", func() bool { l := c.cur.Load(); return l != nil && l != old })
		// Exercise the link a little.
		wantType(t, iqFrom(t, fc, alice, "get", "p", "<ping xmlns='urn:xmpp:ping'/>"), "result")
	}
	var after int
	deadline := time.Now().Add(5 * time.Second)
	for {
		after = settle()
		if after <= before+3 || time.Now().After(deadline) {
			break
		}
	}
	if after > before+3 {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines: %d before 50 reconnects, %d after\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
	t.Logf("goroutines: %d before 50 reconnects, %d after", before, after)
}

func TestLinkDownFailsFast(t *testing.T) {
	c, err := New(Config{JID: "invites.example.test", Server: "127.0.0.1:1", Secret: "x", Domain: "example.test"},
		&fakeMinter{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 10*time.Second)
	begin := time.Now()
	_, existsErr := c.AccountExists(ctx, "bob")
	for name, err := range map[string]error{
		"CreateAccount":     c.CreateAccount(ctx, "bob", "password"),
		"ChangePassword":    c.ChangePassword(ctx, "bob", "password"),
		"DeleteAccount":     c.DeleteAccount(ctx, "bob"),
		"AccountExists":     existsErr,
		"AddMutualContacts": c.AddMutualContacts(ctx, "a@example.test", "b@example.test"),
		"Notify":            c.Notify(ctx, "a@example.test", "hi"),
		"NotifyJoined":      c.NotifyJoined(ctx, "a@example.test", "b@example.test"),
	} {
		if !errors.Is(err, invites.ErrLinkDown) {
			t.Errorf("%s while down: %v, want ErrLinkDown", name, err)
		}
	}
	if d := time.Since(begin); d > time.Second {
		t.Errorf("took %v: must not wait for the link", d)
	}
}

func TestLinkLostDuringRequest(t *testing.T) {
	fs := newFakeServer(t)
	got := make(chan *element, 1)
	fs.set(func(fs *fakeServer) {
		fs.handle = func(fc *fakeConn, e *element) bool {
			if e.child(nsCommands, "command") == nil {
				return false
			}
			got <- e // and never answer
			return true
		}
	})
	c, fc := connect(t, fs, nil, func(c *Component) { c.sleep = newRecorder().sleep })
	done := make(chan error, 1)
	go func() { done <- c.CreateAccount(ctxT(t, 10*time.Second), "bob", "password") }()
	<-got
	fc.conn.Close()
	select {
	case err := <-done:
		// Unknown outcome: the server may have created the account.
		if !errors.Is(err, invites.ErrLinkDown) || !errors.Is(err, context.Canceled) {
			t.Errorf("CreateAccount: %v, want ErrLinkDown and context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("CreateAccount kept waiting after the link ended")
	}
}

func TestConnectLog(t *testing.T) {
	for _, tc := range []struct {
		name     string
		commands []string
		priv     string
		want     []string
	}{
		{"admin and privileges", []string{nodeAddUser, nodeChangePassword},
			"<message from='example.test' to='invites.example.test'><privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='both'/></privilege></message>",
			[]string{"level=INFO", `msg="component link up"`, "create_accounts=true", `privileges="roster=both"`, "privilege_ns=urn:xmpp:privilege:2"}},
		{"no admin grant", nil, "",
			[]string{"level=WARN", "does not let invites.example.test create accounts", "create_accounts=false", "privileges=none"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeServer(t)
			fs.set(func(fs *fakeServer) { fs.commands, fs.privilege = tc.commands, tc.priv })
			var buf logBuffer
			c, err := New(fs.config(), &fakeMinter{}, slog.New(slog.NewTextHandler(&buf, nil)), nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := c.Rights(); ok {
				t.Error("Rights known before any connect")
			}
			startRun(t, c)
			fs.nextConn(t)
			eventually(t, "the connect log line", func() bool { return strings.Contains(buf.String(), "component link up") })
			// Kept for the admin listener's /readyz.
			if rep, ok := c.Rights(); !ok || rep.CanCreateAccounts != (len(tc.commands) > 0) {
				t.Errorf("Rights() = %+v, %v; want CanCreateAccounts %v", rep, ok, len(tc.commands) > 0)
			}
			out := buf.String()
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("log lacks %q:\n%s", w, out)
				}
			}
			if strings.Count(out, "component link up") != 1 {
				t.Errorf("want one connect line:\n%s", out)
			}
			if strings.Contains(out, fs.secret) {
				t.Errorf("secret in the log:\n%s", out)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	fs := newFakeServer(t)
	fs.set(func(fs *fakeServer) {
		fs.commands = []string{nodeAddUser, nodeDeleteUser}
		fs.privilege = "<message from='example.test' to='invites.example.test'><privilege xmlns='urn:xmpp:privilege:1'><perm access='roster' type='both'/><perm access='message' type='outgoing'/></privilege></message>"
	})
	rep, err := Check(ctxT(t, 10*time.Second), fs.config(), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.CanCreateAccounts || rep.CanChangePasswords || rep.PrivilegeNS != nsPrivilege1 ||
		rep.Privileges["roster"] != "both" || rep.Privileges["message"] != "outgoing" || len(rep.ServerCommands) != 2 {
		t.Errorf("report %+v", rep)
	}
	if n := fs.accepts.Load(); n != 1 {
		t.Errorf("%d connections", n)
	}

	cfg := fs.config()
	cfg.Secret = "wrong"
	if _, err := Check(ctxT(t, 10*time.Second), cfg, nil); !errors.Is(err, ErrNotAuthorized) {
		t.Errorf("Check with a wrong secret: %v, want ErrNotAuthorized", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Server = ln.Addr().String()
	ln.Close()
	if _, err := Check(ctxT(t, 10*time.Second), cfg, nil); err == nil || errors.Is(err, ErrNotAuthorized) {
		t.Errorf("Check against a closed port: %v", err)
	}
}
