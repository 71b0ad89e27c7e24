// Package xmpptest starts private instances of real XMPP servers (Prosody
// 0.12 and ejabberd 23.01, as packaged by Debian bookworm) for integration
// tests of the xmpp-invites component.
//
// Every instance gets its own temporary directory (configuration, data,
// logs, pid file), its own free loopback ports and, for ejabberd, its own
// Erlang node name and cookie, so tests of different packages can run
// servers in parallel. Nothing listens on a public interface or on a default
// port: no s2s, no HTTP, no epmd (ejabberd's distribution port is fixed with
// -erl_epmd_port, so no port mapper daemon is needed or started).
//
// ejabberd runs as the current user with the flags ejabberdctl would use
// ("ejabberdctl foreground"), but without the script: run as root, the
// script re-executes itself as the ejabberd user, which cannot enter
// t.TempDir(), and as anyone else it refuses to run.
//
// Client connections are plain TCP on loopback with SASL allowed without
// TLS; that keeps tests fast and avoids certificates.
//
// When the server binaries are missing, Start skips the test, except under
// CI=true, where it fails it: CI must not go green by skipping.
//
// Register creates accounts; Login opens a client session, and Receive one
// that behaves like a person's app: it is available and collects the chat
// messages it gets (Inbox), such as the component's sign-in links.
//
// Commands use the same servers through New, which returns errors instead
// of failing a test (cmd/invites-bench runs its Prosody so).
//
// Timings seen on a 2-core container (Debian bookworm, go test -race, the
// package's eight servers running at once), from exec to both ports
// answering an XMPP stream header:
//
//   - Prosody 0.12.3: start 70-120 ms (45 ms alone), restart about 105 ms,
//     Register (prosodyctl) 50-70 ms, Stop 5 ms (1 s while clients are
//     still connected: Prosody waits for their streams to close).
//   - ejabberd 23.01: start 1.4-2.0 s, restart 1.3-1.7 s, Register 0.5-0.7 s
//     (every ejabberd_ctl call boots a small Erlang node), Kill 0.4 s (it
//     flushes Mnesia first, see Kill), Stop about 1 s.
//
// The whole package's tests take 13-21 s.
package xmpptest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
)

// Server kinds accepted by Start, New and Available.
const (
	Prosody  = "prosody"
	Ejabberd = "ejabberd"
)

// Domain is the virtual host of every test server.
const Domain = "example.test"

// Server is a running private XMPP server. The exported fields describe how
// to reach it; they do not change across Kill and Restart.
type Server struct {
	Kind          string // "prosody" or "ejabberd"
	Domain        string // virtual host, "example.test"
	ComponentJID  string // XEP-0114 component address, "invites.example.test"
	Secret        string // component secret (random per instance)
	C2SAddr       string // "127.0.0.1:PORT" for client connections
	ComponentAddr string // "127.0.0.1:PORT" for the XEP-0114 component
	HTTPAddr      string // "127.0.0.1:PORT" of Prosody's HTTP server with Options.HTTP, else ""
	// Hosts are the further virtual hosts of Options.Hosts; the component
	// is an admin of each, as of Domain.
	Hosts []string
	// MUCDomain is Prosody's group chat service (XEP-0045),
	// "conference.example.test", of which the component is an admin; ""
	// on ejabberd.
	MUCDomain string

	dir          string        // private root directory
	logs         []string      // log files shown on failure, most useful first
	startTimeout time.Duration // how long start waits for the ports

	// command builds the server command line; called for every (re)start.
	command func() *exec.Cmd
	// ctl runs the server's own admin tool against this instance.
	ctl func(ctx context.Context, args ...string) ([]byte, error)
	// sync, if set, makes the server write its data to disk before Kill.
	sync func(ctx context.Context) error

	mu   sync.Mutex
	proc *Process // nil when not started or stopped

	tailShown atomic.Bool // a t.Fatalf already showed the log tail
}

// Options select the optional parts of a server's configuration.
type Options struct {
	// Admins are bare JIDs of users that are server admins (for example
	// "admin@example.test"), in addition to the component, which always is.
	Admins []string
	// Privilege enables XEP-0356 for the component: roster "both" and
	// message "outgoing" (Prosody mod_privilege from prosody-modules,
	// ejabberd mod_privilege).
	Privilege bool
	// Hosts are further virtual hosts beside Domain (Prosody VirtualHost,
	// ejabberd hosts), configured as Domain is: the component is an admin
	// of each, so that one component link serves them all. Register,
	// Login, Dial and Receive reach their accounts as "user@host".
	Hosts []string

	// The options below are Prosody's only.

	// HTTP starts Prosody's HTTP server on a free loopback port (HTTPAddr),
	// with Domain as its default host, for HTTP modules.
	HTTP bool
	// Modules are further modules enabled on the virtual host, for example
	// "invites" and "invites_api" (prosody-modules).
	Modules []string
	// Config are further lines of global configuration, after the
	// harness's own: a line that sets an option again wins.
	Config []string
	// MUCConfig are further lines of the group chat service's
	// configuration (MUCDomain), such as
	// "muc_room_default_members_only = true".
	MUCConfig []string
}

// Start starts a private server of the given kind ("prosody" or "ejabberd");
// see StartProsody and StartEjabberd.
func Start(t testing.TB, kind string, opts Options) *Server {
	t.Helper()
	switch kind {
	case Prosody:
		return StartProsody(t, opts)
	case Ejabberd:
		return StartEjabberd(t, opts)
	}
	t.Fatalf("xmpptest: unknown server kind %q (want %q or %q)", kind, Prosody, Ejabberd)
	return nil
}

// StartProsody starts a private Prosody on free loopback ports and waits
// (at most 20 s) until its C2S and component ports answer. The component
// is a host-scoped admin of Domain, as are opts.Admins. t.Cleanup stops the
// server. Without Prosody the test is skipped (failed under CI=true).
func StartProsody(t testing.TB, opts Options) *Server {
	t.Helper()
	return start(t, Prosody, opts)
}

// StartEjabberd starts a private ejabberd on free loopback ports with its
// own Erlang node name and cookie, and waits (at most 60 s) until its C2S
// and component ports answer. The component passes the "configure" access
// rule (XEP-0133), as do opts.Admins, which also pass "admin". t.Cleanup
// stops the server. Without ejabberd the test is skipped (failed under
// CI=true).
func StartEjabberd(t testing.TB, opts Options) *Server {
	t.Helper()
	return start(t, Ejabberd, opts)
}

// start is New for a test: the server lives in t.TempDir(), t.Cleanup
// stops it and shows its log tail if the test failed.
func start(t testing.TB, kind string, opts Options) *Server {
	t.Helper()
	requireAvailable(t, kind, available(kind, opts))
	s, err := New(kind, t.TempDir(), opts)
	if err != nil {
		t.Fatalf("xmpptest: %v", err)
	}
	// Cleanups run last-in first-out: show the log before stopping, and stop
	// before t.TempDir's removal (registered earlier) runs.
	t.Cleanup(s.Stop)
	t.Cleanup(func() {
		if t.Failed() && !s.tailShown.Load() {
			t.Logf("xmpptest: %s log tail (%s):\n%s", s.Kind, s.dir, s.logTail())
		}
	})
	return s
}

// New starts a private server of the given kind in dir, which it fills with
// the server's configuration, data and logs, and waits until it is ready;
// see StartProsody and StartEjabberd. The caller stops it with Stop. An
// error that comes from the server carries the tail of its logs.
func New(kind, dir string, opts Options) (*Server, error) {
	if err := available(kind, opts); err != nil {
		return nil, err
	}
	var s *Server
	var err error
	switch kind {
	case Prosody:
		s, err = newProsody(dir, opts)
	case Ejabberd:
		s, err = newEjabberd(dir, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	if err := s.start(); err != nil {
		return nil, fmt.Errorf("start %s: %w\n%s", kind, err, s.logTail())
	}
	return s, nil
}

// Available reports whether the binaries for the given kind of server are
// installed; nil means Start can be expected to work.
func Available(kind string) error {
	return available(kind, Options{})
}

// available is Available for a server with opts.
func available(kind string, opts Options) error {
	switch kind {
	case Prosody:
		_, err := prosodyBinaries()
		if err == nil && opts.Privilege {
			err = havePrivilege()
		}
		for _, m := range opts.Modules {
			if err == nil {
				err = haveProsodyModule(m)
			}
		}
		return err
	case Ejabberd:
		_, err := ejabberdBinaries()
		if err == nil && (opts.HTTP || len(opts.Modules) > 0 || len(opts.Config) > 0) {
			err = errors.New("xmpptest: the HTTP, Modules and Config options are Prosody's only")
		}
		return err
	}
	return fmt.Errorf("xmpptest: unknown server kind %q", kind)
}

// requireAvailable skips the test when err is not nil, or fails it under
// CI=true.
func requireAvailable(t testing.TB, kind string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("xmpptest: %s is required under CI=true but not usable: %v", kind, err)
	}
	t.Skipf("xmpptest: %s not available: %v", kind, err)
}

// start runs the server process and waits until its ports answer.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil && !s.proc.Exited() {
		return errors.New("already running")
	}
	p, err := StartProcess(s.command(), s.dir+"/stdout.log")
	if err != nil {
		return err
	}
	s.proc = p
	if _, err := p.WaitReady(s.startTimeout, 50*time.Millisecond, s.ready); err != nil {
		return fmt.Errorf("server %w", err)
	}
	return nil
}

// ready reports whether both listeners answer a stream header, and the
// HTTP server, if there is one, an HTTP request. A bare TCP connect would
// succeed as soon as the socket listens, which for ejabberd is before the
// listener accepts; a stream header proves the server is serving.
func (s *Server) ready() bool {
	if probe(s.C2SAddr, "jabber:client", s.Domain) != nil ||
		probe(s.ComponentAddr, "jabber:component:accept", s.ComponentJID) != nil {
		return false
	}
	if s.HTTPAddr == "" {
		return true
	}
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := c.Get("http://" + s.HTTPAddr + "/")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

// probe opens a stream on addr and waits for the server's stream header.
func probe(addr, ns, to string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	_, err = fmt.Fprintf(conn, "<?xml version='1.0'?><stream:stream xmlns='%s' xmlns:stream='http://etherx.jabber.org/streams' to='%s' version='1.0'>", ns, to)
	if err != nil {
		return err
	}
	d := xml.NewDecoder(conn)
	for {
		tok, err := d.RawToken()
		if err != nil {
			return err
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local == "stream" {
				return nil
			}
			return fmt.Errorf("unexpected <%s:%s>", se.Name.Space, se.Name.Local)
		}
	}
}

// PID is the server's process ID, 0 when it is not running.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil || s.proc.Exited() {
		return 0
	}
	return s.proc.PID()
}

// Kill sends SIGKILL to the server process (and its process group) and waits
// until it is gone: connections drop without a stream close, as in a crash.
// Restart brings the server back.
//
// For ejabberd, Kill first flushes Mnesia's write-behind caches (about
// 0.5 s): ejabberd keeps accounts in dets files that cache writes for up to
// 3 s, and a real SIGKILL would lose an account created just before. Tests
// of the component's reconnection should not depend on that race.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil || s.proc.Exited() {
		t.Fatalf("xmpptest: Kill: %s is not running", s.Kind)
	}
	if s.sync != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := s.sync(ctx)
		cancel()
		if err != nil {
			t.Fatalf("xmpptest: Kill %s: %v", s.Kind, err)
		}
	}
	if err := s.proc.Kill(); err != nil {
		t.Fatalf("xmpptest: Kill %s: %v", s.Kind, err)
	}
}

// Restart starts the server again with the same configuration, data and
// ports, and waits until the C2S and component ports answer. A server that
// is still running is stopped gracefully first.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		s.tailShown.Store(true)
		t.Fatalf("xmpptest: restart %s: %v\n%s", s.Kind, err, s.logTail())
	}
}

// Stop stops the server gracefully with SIGTERM and SIGKILLs it if it has
// not exited after 15 s. It is safe to call more than once; Start registers
// it with t.Cleanup.
//
// SIGTERM is graceful for both servers: Prosody shuts down as for
// "prosodyctl stop", and the Erlang VM (OTP 20+) runs init:stop(), the same
// path as "ejabberdctl stop" (the log shows "ejabberd ... is stopped"). For
// ejabberd it takes about 1 s, against 2.4 s for ejabberd_ctl stop, which
// has to boot an Erlang node first.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.proc.Stop(15 * time.Second)
		s.proc = nil
	}
}

// Ctl runs the server's own admin tool against this instance: prosodyctl
// with its private configuration, or for ejabberd what "ejabberdctl ARGS"
// runs. It returns the tool's combined output.
func (s *Server) Ctl(ctx context.Context, args ...string) ([]byte, error) {
	return s.ctl(ctx, args...)
}

// Register creates the account localpart@Domain with the server's own admin
// tool (prosodyctl register, or ejabberdctl's register) against this
// instance's private configuration. localpart may also be "user@host" for
// a host of Options.Hosts.
func (s *Server) Register(t testing.TB, localpart, password string) {
	t.Helper()
	addr, err := s.address(localpart)
	if err != nil {
		t.Fatalf("xmpptest: register: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := s.Ctl(ctx, "register", addr.Localpart(), addr.Domainpart(), password)
	if err != nil {
		t.Fatalf("xmpptest: register %s on %s: %v\n%s", addr, s.Kind, err, bytes.TrimSpace(out))
	}
}

// address is the bare JID of an account: localpart@Domain, or "user@host"
// as given for a host of the server.
func (s *Server) address(localpart string) (jid.JID, error) {
	user, host, ok := strings.Cut(localpart, "@")
	if !ok {
		host = s.Domain
	} else if host != s.Domain && !slices.Contains(s.Hosts, host) {
		return jid.JID{}, fmt.Errorf("%s is not a host of this %s (Domain or Options.Hosts)", host, s.Kind)
	}
	return jid.New(user, host, "")
}

// Login opens a client session for localpart@Domain (see Dial). An
// authentication failure is returned, not fatal, so tests can prove that an
// account or password does not work. The session and its connection are
// closed by t.Cleanup; closing them earlier is fine.
func (s *Server) Login(t testing.TB, ctx context.Context, localpart, password string) (*xmpp.Session, error) {
	t.Helper()
	sess, err := s.Dial(ctx, localpart, password)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		_ = sess.Close()
		_ = sess.Conn().Close()
	})
	return sess, nil
}

// Dial opens a client session for localpart@Domain (or "user@host" for a
// host of Options.Hosts) on C2SAddr (never via DNS), authenticates with
// SCRAM-SHA-1 or PLAIN and binds a resource. The connection is plain TCP
// on loopback, so the session is marked secure by fiat. The caller closes
// the session and its connection (sess.Conn()).
func (s *Server) Dial(ctx context.Context, localpart, password string) (*xmpp.Session, error) {
	addr, err := s.address(localpart)
	if err != nil {
		return nil, fmt.Errorf("xmpptest: login: %w", err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.C2SAddr)
	if err != nil {
		return nil, fmt.Errorf("xmpptest: login %s: %w", addr, err)
	}
	features := []xmpp.StreamFeature{
		xmpp.SASL("", password, sasl.ScramSha1, sasl.Plain),
		xmpp.BindResource(),
	}
	sess, err := xmpp.NewSession(ctx, addr.Domain(), addr, conn, xmpp.Secure,
		xmpp.NewNegotiator(func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
			return xmpp.StreamConfig{Features: features}
		}))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("xmpptest: login %s: %w", addr, err)
	}
	return sess, nil
}

// logTail returns the last lines of the server's logs.
func (s *Server) logTail() string {
	var b strings.Builder
	for _, name := range append(s.logs, s.dir+"/stdout.log") {
		if t := tail(name); t != "" {
			fmt.Fprintf(&b, "--- %s\n%s\n", name, t)
		}
	}
	if b.Len() == 0 {
		return "(no log output)"
	}
	return b.String()
}

// newServer fills in what every kind shares.
func newServer(dir, kind string, nports int) (*Server, []int, error) {
	ports, err := FreePorts(nports)
	if err != nil {
		return nil, nil, fmt.Errorf("free ports: %w", err)
	}
	s := &Server{
		Kind:          kind,
		Domain:        Domain,
		ComponentJID:  "invites." + Domain,
		Secret:        randomHex(16),
		C2SAddr:       net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])),
		ComponentAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1])),
		dir:           dir,
	}
	return s, ports, nil
}

// hosts checks Options.Hosts: domains, none twice, none Domain.
func hosts(extra []string) ([]string, error) {
	seen := map[string]bool{Domain: true}
	for _, h := range extra {
		j, err := jid.Parse(h)
		if err != nil || j.Localpart() != "" || j.Resourcepart() != "" || j.String() != h || seen[h] {
			return nil, fmt.Errorf("xmpptest: host %q is not a new lowercase domain beside %s", h, Domain)
		}
		seen[h] = true
	}
	return slices.Clone(extra), nil
}

// randomHex returns n random bytes, hex encoded.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails on Linux (Go 1.24+ panics instead)
	return hex.EncodeToString(b)
}

// quote returns s as a double-quoted string literal valid in both Lua and
// YAML (backslash and double quote escaped; test paths and JIDs contain no
// control characters).
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

// filteredEnv returns the environment without variables that would change
// how the servers behave, plus extra.
func filteredEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "ERL_") || strings.HasPrefix(kv, "EJABBERD") ||
			strings.HasPrefix(kv, "HOME=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}
