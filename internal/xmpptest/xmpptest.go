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
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
)

// Server kinds accepted by Start and Available.
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

	dir          string        // private root directory (t.TempDir)
	logs         []string      // log files shown on failure, most useful first
	startTimeout time.Duration // how long start waits for the ports

	// command builds the server command line; called for every (re)start.
	command func() *exec.Cmd
	// register creates an account with the server's own admin tool.
	register func(ctx context.Context, localpart, password string) ([]byte, error)
	// sync, if set, makes the server write its data to disk before Kill.
	sync func(ctx context.Context) error

	mu   sync.Mutex
	proc *process // nil when not started or stopped

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
}

// process is one run of the server binary.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has been reaped
	err  error         // Wait's result, valid after done
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
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

// Available reports whether the binaries for the given kind of server are
// installed; nil means Start can be expected to work.
func Available(kind string) error {
	switch kind {
	case Prosody:
		_, err := prosodyBinaries()
		return err
	case Ejabberd:
		_, err := ejabberdBinaries()
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

// launch starts the server for the first time, registers the cleanup and
// waits until it is ready.
func (s *Server) launch(t testing.TB) {
	t.Helper()
	// Cleanups run last-in first-out: show the log before stopping, and stop
	// before t.TempDir's removal (registered earlier) runs.
	t.Cleanup(s.Stop)
	t.Cleanup(func() {
		if t.Failed() && !s.tailShown.Load() {
			t.Logf("xmpptest: %s log tail (%s):\n%s", s.Kind, s.dir, s.logTail())
		}
	})
	if err := s.start(); err != nil {
		s.tailShown.Store(true)
		t.Fatalf("xmpptest: start %s: %v\n%s", s.Kind, err, s.logTail())
	}
}

// start runs the server process and waits until both ports answer.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil && !s.proc.exited() {
		return errors.New("already running")
	}
	out, err := os.OpenFile(s.dir+"/stdout.log", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer out.Close() // the child has its own copy
	cmd := s.command()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	s.proc = p

	deadline := time.Now().Add(s.startTimeout)
	for {
		if p.exited() {
			return fmt.Errorf("server exited during startup after %v: %v", time.Since(begin).Round(time.Millisecond), p.err)
		}
		if s.ready() {
			return nil
		}
		if time.Now().After(deadline) {
			_ = kill(p)
			return fmt.Errorf("ports %s and %s not ready after %v", s.C2SAddr, s.ComponentAddr, s.startTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ready reports whether both listeners answer a stream header. A bare TCP
// connect would succeed as soon as the socket listens, which for ejabberd is
// before the listener accepts; a stream header proves the server is serving.
func (s *Server) ready() bool {
	return probe(s.C2SAddr, "jabber:client", s.Domain) == nil &&
		probe(s.ComponentAddr, "jabber:component:accept", s.ComponentJID) == nil
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
	if s.proc == nil || s.proc.exited() {
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
	if err := kill(s.proc); err != nil {
		t.Fatalf("xmpptest: Kill %s: %v", s.Kind, err)
	}
}

// kill SIGKILLs the process and its group and waits until it is reaped.
func kill(p *process) error {
	if p.exited() {
		return nil
	}
	pid := p.cmd.Process.Pid
	// The group: ejabberd's beam has an erl_child_setup helper.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("pid %d still alive 10s after SIGKILL", pid)
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
	p := s.proc
	if p == nil {
		return
	}
	s.proc = nil
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = kill(p)
	}
}

// Register creates the account localpart@Domain with the server's own admin
// tool (prosodyctl register, or ejabberdctl's register) against this
// instance's private configuration.
func (s *Server) Register(t testing.TB, localpart, password string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := s.register(ctx, localpart, password)
	if err != nil {
		t.Fatalf("xmpptest: register %s@%s on %s: %v\n%s", localpart, s.Domain, s.Kind, err, bytes.TrimSpace(out))
	}
}

// Login opens a client session for localpart@Domain on C2SAddr (never via
// DNS), authenticates with SCRAM-SHA-1 or PLAIN and binds a resource. An
// authentication failure is returned, not fatal, so tests can prove that an
// account or password does not work. The connection is plain TCP on
// loopback, so the session is marked secure by fiat. The session and its
// connection are closed by t.Cleanup; closing them earlier is fine.
func (s *Server) Login(t testing.TB, ctx context.Context, localpart, password string) (*xmpp.Session, error) {
	t.Helper()
	addr, err := jid.New(localpart, s.Domain, "")
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
	t.Cleanup(func() {
		_ = sess.Close()
		_ = conn.Close()
	})
	return sess, nil
}

// logTail returns the last lines of the server's logs.
func (s *Server) logTail() string {
	var b strings.Builder
	for _, name := range append(s.logs, s.dir+"/stdout.log") {
		data, err := os.ReadFile(name)
		if err != nil || len(bytes.TrimSpace(data)) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > 40 {
			lines = lines[len(lines)-40:]
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", name, strings.Join(lines, "\n"))
	}
	if b.Len() == 0 {
		return "(no log output)"
	}
	return b.String()
}

// freePorts returns n distinct free TCP ports on 127.0.0.1. The listeners
// are held until all ports are chosen so the kernel cannot hand one out
// twice.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// newServer fills in what every kind shares.
func newServer(t testing.TB, kind string, nports int) (*Server, []int) {
	t.Helper()
	ports, err := freePorts(nports)
	if err != nil {
		t.Fatalf("xmpptest: free ports: %v", err)
	}
	s := &Server{
		Kind:          kind,
		Domain:        Domain,
		ComponentJID:  "invites." + Domain,
		Secret:        randomHex(16),
		C2SAddr:       net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])),
		ComponentAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1])),
		dir:           t.TempDir(),
	}
	return s, ports
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
