// Package pgtest starts private PostgreSQL 15 clusters (Debian's
// postgresql package) for tests, on free loopback ports.
//
// Each cluster gets its own data directory under os.TempDir(), made by
// initdb and owned by the postgres user when the test runs as root (initdb
// and postgres refuse to run as root; the harness execs them with the
// postgres user's credentials directly, so the process it stops is the
// postmaster itself, not a runuser wrapper). It listens on 127.0.0.1 only,
// on a free port (Debian's own cluster may hold 5432, and is never touched),
// with no Unix socket, and trusts every connection from 127.0.0.1 and
// nothing else. Durability is off (fsync, synchronous_commit,
// full_page_writes): the data are thrown away with the directory.
// NewWith can keep it on and put the directory on another disk, for
// benchmarks (cmd/invites-bench -database pgtest).
//
// Stop ends the postmaster by its PID (SIGINT, fast shutdown; SIGKILL to its
// process group after a timeout). The kernel kills it too if the test
// binary dies first (Pdeathsig).
//
// When the binaries are missing, Start and Shared skip the test, except
// under CI=true, where they fail it, like internal/xmpptest.
//
// Timings on a 2-core container: initdb about 1 s, start 0.2-0.4 s, a new
// database 30-80 ms, Stop about 0.1 s.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// BinDir holds Debian's PostgreSQL 15 server binaries.
const BinDir = "/usr/lib/postgresql/15/bin"

// Cluster is a running private PostgreSQL cluster. Its superuser is
// "postgres", reachable without a password from 127.0.0.1.
type Cluster struct {
	Port int
	Dir  string // the temporary directory holding the data directory and the log

	cmd  *exec.Cmd
	done chan struct{}
	err  error
	once sync.Once
}

// Available reports why no cluster can be started here, or nil.
func Available() error {
	for _, b := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(BinDir, b)); err != nil {
			return fmt.Errorf("%s: %w (Debian package postgresql)", b, err)
		}
	}
	return nil
}

// Start starts a cluster for t and stops it when t ends. Without
// PostgreSQL the test is skipped (failed under CI=true).
func Start(t testing.TB) *Cluster {
	t.Helper()
	if err := Available(); err != nil {
		missing(t, err)
	}
	c, err := New()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(c.Stop)
	return c
}

func missing(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("pgtest: PostgreSQL is required under CI=true but not usable: %v", err)
	}
	t.Skipf("pgtest: PostgreSQL not available: %v", err)
}

var shared struct {
	mu sync.Mutex
	c  *Cluster
	// err is the failure of the first start, reported to every later test.
	err error
}

// Shared returns the test binary's one shared cluster, started by the first
// test that asks; Main stops it. Tests that share it each make their own
// database (NewDatabase). Without PostgreSQL the test is skipped (failed
// under CI=true).
func Shared(t testing.TB) *Cluster {
	t.Helper()
	if err := Available(); err != nil {
		missing(t, err)
	}
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.c == nil && shared.err == nil {
		shared.c, shared.err = New()
	}
	if shared.err != nil {
		t.Fatalf("pgtest: %v", shared.err)
	}
	return shared.c
}

// Main runs the tests of a package that uses Shared, then stops the shared
// cluster. Use it as TestMain's body: os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	shared.mu.Lock()
	if shared.c != nil {
		shared.c.Stop()
	}
	shared.mu.Unlock()
	return code
}

// New starts a cluster and returns it once it accepts connections; the
// caller stops it.
func New() (*Cluster, error) { return NewWith(Options{}) }

// Options change how NewWith starts a cluster; the zero value is New's.
type Options struct {
	// Parent is the directory the cluster's directory is made in (empty:
	// os.TempDir()). Run as root, the postgres user must be able to
	// traverse it.
	Parent string
	// Durable keeps PostgreSQL's own durability settings (fsync,
	// synchronous_commit and full_page_writes on) instead of turning them
	// off: for measuring what a commit costs on Parent's disk.
	Durable bool
}

// NewWith starts a cluster as o says and returns it once it accepts
// connections; the caller stops it. It needs no *testing.T: commands such
// as invites-bench use it too.
func NewWith(o Options) (*Cluster, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(o.Parent, "pgtest-")
	if err != nil {
		return nil, err
	}
	cred, err := credential(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(BinDir, "initdb"), "-D", data, "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	initdb.Dir = dir
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v: %s", err, strings.TrimSpace(string(out)))
	}
	// Only TCP from 127.0.0.1, trusted but for PasswordRole; nothing else
	// (no Unix socket).
	hba := "host all " + PasswordRole + " 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 trust\n"
	if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(filepath.Join(data, "pg_hba.conf"), int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	// The port is free when chosen and may be taken before postgres binds
	// it: try a few.
	var last error
	for range 3 {
		c, err := start(dir, data, cred, o.Durable)
		if err == nil {
			return c, nil
		}
		last = err
	}
	os.RemoveAll(dir)
	return nil, last
}

// credential makes dir the postgres user's when running as root, and
// returns the credential to run the server binaries with (nil: as the
// current user).
func credential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and no postgres user to run the server as: %w", err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

func start(dir, data string, cred *syscall.Credential, durable bool) (*Cluster, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	logPath := filepath.Join(dir, "postgres.log")
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o666)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	args := []string{"-D", data,
		"-c", "listen_addresses=127.0.0.1", "-c", "port=" + strconv.Itoa(port),
		"-c", "unix_socket_directories=", "-c", "max_connections=200", "-c", "shared_buffers=32MB"}
	if !durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	cmd := exec.Command(filepath.Join(BinDir, "postgres"), args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	c := &Cluster{Port: port, Dir: dir, cmd: cmd, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		if err == nil {
			conn.Close(ctx)
			cancel()
			return c, nil
		}
		cancel()
		select {
		case <-c.done:
			return nil, fmt.Errorf("postgres exited during startup: %v\n%s", c.err, tail(logPath))
		default:
		}
		if time.Now().After(deadline) {
			c.kill()
			return nil, fmt.Errorf("postgres not ready after 30s: %v\n%s", err, tail(logPath))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// URL is the connection URL of database db, as the superuser.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, db)
}

// CreateDatabase creates an empty database and returns its URL.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) (string, error) {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return c.URL(name), nil
}

// NewDatabase creates an empty database with a unique name for t and
// returns its URL. It is left in place: the cluster goes with its directory.
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	url, err := c.CreateDatabase(context.Background(), "t_"+hex.EncodeToString(b))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return url
}

// PasswordRole is the one role that must give its password (SCRAM); every
// other role is trusted. NewPasswordDatabase creates it.
const PasswordRole = "pgtest_password"

// NewPasswordDatabase gives PasswordRole the password and a new database of
// its own, and returns the database's URL without the password.
func (c *Cluster) NewPasswordDatabase(t testing.TB, password string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer conn.Close(ctx)
	lit := "'" + strings.ReplaceAll(password, "'", "''") + "'"
	for _, q := range []string{
		`DO $$ BEGIN CREATE ROLE ` + PasswordRole + ` LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`,
		`ALTER ROLE ` + PasswordRole + ` PASSWORD ` + lit,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("pgtest: %v", err)
		}
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "p_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name+" OWNER "+PasswordRole); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", PasswordRole, c.Port, name)
}

// Stop shuts the cluster down by its PID (fast shutdown; SIGKILL to its
// process group after 10 s) and removes its directory. It is safe to call
// more than once.
func (c *Cluster) Stop() {
	c.once.Do(func() {
		_ = c.Resume() // a paused cluster would not shut down
		_ = c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			c.kill()
		}
		os.RemoveAll(c.Dir)
	})
}

// PID is the postmaster's process ID.
func (c *Cluster) PID() int { return c.cmd.Process.Pid }

// Running reports whether the postmaster is still running.
func (c *Cluster) Running() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// Pause stops every process of the cluster (SIGSTOP to the postmaster and
// its children, which are each a process group of their own): connections
// stay open and nothing answers, as with a hung server. Resume continues
// them; Stop resumes a paused cluster first. Linux only (/proc).
func (c *Cluster) Pause() error { return c.signalAll(syscall.SIGSTOP) }

// Resume continues a paused cluster.
func (c *Cluster) Resume() error { return c.signalAll(syscall.SIGCONT) }

func (c *Cluster) signalAll(sig syscall.Signal) error {
	pm := c.cmd.Process.Pid
	pids := []int{pm}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split
		// after its closing parenthesis.
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pm) {
			pids = append(pids, pid)
		}
	}
	if sig == syscall.SIGCONT {
		slices.Reverse(pids) // the children first, the postmaster last
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, sig); err != nil && pid == pm {
			return err
		}
	}
	return nil
}

func (c *Cluster) kill() {
	pid := c.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
	}
}

// tail returns the last lines of a log file.
func tail(name string) string {
	data, err := os.ReadFile(name)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}
