package component

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

// testLogger writes the component's log to the test log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(&testWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	t  *testing.T
	mu sync.Mutex
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// logBuffer collects log output for assertions.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// fakeMinter records requests and returns a fixed invite, or err; sign-in
// links likewise (signIns holds "JID from").
type fakeMinter struct {
	mu      sync.Mutex
	reqs    []invites.Request
	persons []invites.Person // who each CreateFor was for
	err     error
	signIns []string

	stored   []keystore.Invite // for ListFor and RevokeFor
	listOpts []keystore.ListOptions
	expires  time.Time // of created invites; zero: testExpiry
	// allowNever is allow_never_expiring; Create and CreateFor refuse
	// never-expiring invites as invites.Service does (invites/never_test.go).
	allowNever bool
}

// CreateFor records who asked; the rules themselves are invites'
// (invites/policy_test.go).
func (f *fakeMinter) CreateFor(ctx context.Context, p invites.Person, r invites.Request) (invites.Created, error) {
	f.mu.Lock()
	f.persons = append(f.persons, p)
	f.mu.Unlock()
	r.Creator = "xmpp:" + p.JID
	if r.Never && !p.Admin {
		return invites.Created{}, &invites.NotAllowedError{Rule: invites.RuleAdminOnly}
	}
	if r.Type == keystore.TypeContact && r.Username == "" {
		r.Username, _, _ = strings.Cut(p.JID, "@")
	}
	return f.Create(ctx, r)
}

func (f *fakeMinter) people() []invites.Person {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]invites.Person(nil), f.persons...)
}

const testSignInLink = "https://example.test/login/confirm?SIGNIN0123456789abcdefghijklmnopqrstuvwxyz-_"

func (f *fakeMinter) SignInLink(_ context.Context, jid, from string, binding []byte) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.signIns = append(f.signIns, jid+" "+from)
	if binding != nil {
		f.signIns[len(f.signIns)-1] += " bound"
	}
	if f.err != nil {
		return "", f.err
	}
	return testSignInLink, nil
}

func (f *fakeMinter) signInRequests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.signIns...)
}

var testExpiry = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func (f *fakeMinter) Create(_ context.Context, r invites.Request) (invites.Created, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, r)
	if f.err != nil {
		return invites.Created{}, f.err
	}
	const token = "TOKEN0123456789abcdefghi"
	expires := testExpiry
	if !f.expires.IsZero() {
		expires = f.expires
	}
	if r.Never {
		switch {
		case !f.allowNever:
			return invites.Created{}, &invites.ValidationError{Field: "ttl", Msg: "never-expiring invites are off: [invites] allow_never_expiring = false"}
		case r.Type == keystore.TypeReset:
			return invites.Created{}, &invites.ValidationError{Field: "ttl", Msg: "a reset invite always expires"}
		}
		expires = keystore.Never
	}
	uri := "xmpp:example.test?register;preauth=" + token
	if r.Type == keystore.TypeContact {
		uri = "xmpp:" + r.Username + "@example.test?roster;preauth=" + token
	}
	return invites.Created{
		Invite: keystore.Invite{ID: "inv12345", Type: r.Type, Username: r.Username, Creator: r.Creator,
			Expires: expires, MaxUses: max(r.Uses, 1)},
		Token: token, URI: uri, LandingURL: "https://example.test/invite?" + token,
	}, nil
}

func (f *fakeMinter) requests() []invites.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]invites.Request(nil), f.reqs...)
}

func (f *fakeMinter) setErr(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

// running is a Component whose Run goroutine the test controls.
type running struct {
	c      *Component
	cancel context.CancelFunc
	done   chan error
}

// startRun starts c.Run and stops it at cleanup, failing the test if Run
// returns an error or does not return.
func startRun(t *testing.T, c *Component) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{c: c, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Run did not return within 10s of cancel")
		}
	})
	return r
}

// stop cancels Run and returns its result.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- nil // for the cleanup
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of cancel")
		return nil
	}
}

// connect builds a component for fs, runs it and waits until it is up.
func connect(t *testing.T, fs *fakeServer, m Minter, tweak func(*Component)) (*Component, *fakeConn) {
	t.Helper()
	if m == nil {
		m = &fakeMinter{}
	}
	c, err := New(fs.config(), m, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if tweak != nil {
		tweak(c)
	}
	startRun(t, c)
	fc := fs.nextConn(t)
	waitUp(t, c)
	return c, fc
}

func waitUp(t *testing.T, c *Component) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitUp(ctx); err != nil {
		t.Fatalf("component not up: %v", err)
	}
}

// ctxT returns a context that ends after d or with the test.
func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds or 10 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testConfig is the fake's invite rules.
var testConfig = invites.Config{Domain: "example.test", DefaultTTL: 168 * time.Hour, MaxTTL: 720 * time.Hour, ResetTTL: 24 * time.Hour}

func (f *fakeMinter) Config() invites.Config {
	f.mu.Lock()
	defer f.mu.Unlock()
	cfg := testConfig
	cfg.AllowNeverExpiring = f.allowNever
	return cfg
}

// ListFor returns the fake's invites that p may see (the rule is
// invites'; invites/manage_test.go tests it) and records the options.
func (f *fakeMinter) ListFor(_ context.Context, p invites.Person, o keystore.ListOptions) ([]keystore.Invite, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.persons = append(f.persons, p)
	f.listOpts = append(f.listOpts, o)
	if f.err != nil {
		return nil, f.err
	}
	var out []keystore.Invite
	for _, inv := range f.stored {
		if (p.Admin || inv.Creator == "xmpp:"+p.JID) && inv.Revoked.IsZero() {
			out = append(out, inv)
		}
	}
	if o.Limit > 0 && len(out) > o.Limit {
		out = out[:o.Limit]
	}
	return out, nil
}

// RevokeFor revokes one of the fake's invites as invites.Service does.
func (f *fakeMinter) RevokeFor(_ context.Context, p invites.Person, id string) (keystore.Invite, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.persons = append(f.persons, p)
	if f.err != nil {
		return keystore.Invite{}, f.err
	}
	for i, inv := range f.stored {
		if inv.ID != id || (!p.Admin && inv.Creator != "xmpp:"+p.JID) {
			continue
		}
		if !inv.Revoked.IsZero() {
			return keystore.Invite{}, keystore.ErrRevoked
		}
		f.stored[i].Revoked = time.Now()
		return f.stored[i], nil
	}
	return keystore.Invite{}, keystore.ErrNotFound
}

// store gives the fake invites to list and revoke.
func (f *fakeMinter) store(invs ...keystore.Invite) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stored = append(f.stored, invs...)
}
