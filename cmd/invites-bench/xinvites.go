package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"xmpp-invites/internal/xmpptest"
)

// benchDomain is the XMPP domain of every server in the benchmark.
const benchDomain = xmpptest.Domain

// buildXMPPInvites builds cmd/xmpp-invites into dir (no -race: the
// benchmark measures the binary operators run).
func buildXMPPInvites(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "xmpp-invites")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "xmpp-invites/cmd/xmpp-invites")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build xmpp-invites: %w\n%s", err, out)
	}
	return bin, nil
}

// xiInstance is one xmpp-invites configuration: a config file, a database
// and two listen ports (public and admin), started by serve.
type xiInstance struct {
	bin, dir, config, db string
	port, adminPort      int
}

// xiOptions are the parts of the config that vary between runs.
type xiOptions struct {
	Name            string // file names: NAME.toml, NAME.db, NAME.log
	DB              string // database path; empty: DIR/NAME.db
	ComponentServer string // empty: component disabled
	ComponentSecret string
	Admins          []string
}

// newXI writes the config of an xmpp-invites instance on free ports.
func newXI(bin, dir string, o xiOptions) (*xiInstance, error) {
	ports, err := xmpptest.FreePorts(2)
	if err != nil {
		return nil, err
	}
	x := &xiInstance{bin: bin, dir: dir, port: ports[0], adminPort: ports[1], db: o.DB,
		config: filepath.Join(dir, o.Name+".toml")}
	if x.db == "" {
		x.db = filepath.Join(dir, o.Name+".db")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "domain = %s\n", strconv.Quote(benchDomain))
	fmt.Fprintf(&b, "public_url = %s\n", strconv.Quote(x.base()))
	fmt.Fprintf(&b, "database = %s\n", strconv.Quote(x.db))
	fmt.Fprintf(&b, "log_level = \"info\"\n")
	if len(o.Admins) > 0 {
		q := make([]string, len(o.Admins))
		for i, a := range o.Admins {
			q[i] = strconv.Quote(a)
		}
		fmt.Fprintf(&b, "admins = [%s]\n", strings.Join(q, ", "))
	}
	fmt.Fprintf(&b, "\n[http]\nlisten = %s\nadmin_listen = %s\n", strconv.Quote(x.addr()),
		strconv.Quote("127.0.0.1:"+strconv.Itoa(x.adminPort)))
	if o.ComponentServer != "" {
		fmt.Fprintf(&b, "\n[component]\njid = %s\nserver = %s\nsecret = %s\n",
			strconv.Quote("invites."+benchDomain), strconv.Quote(o.ComponentServer), strconv.Quote(o.ComponentSecret))
	}
	if err := os.WriteFile(x.config, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	return x, nil
}

func (x *xiInstance) addr() string { return "127.0.0.1:" + strconv.Itoa(x.port) }
func (x *xiInstance) base() string { return "http://" + x.addr() }

// adminBase is the admin listener: /metrics and the /readyz detail.
func (x *xiInstance) adminBase() string { return "http://127.0.0.1:" + strconv.Itoa(x.adminPort) }

// serve starts xmpp-invites serve and waits for the first 200 on /readyz,
// polling every millisecond: the figure is time from exec to ready.
func (x *xiInstance) serve(name string) (*xmpptest.Process, time.Duration, error) {
	cmd := exec.Command(x.bin, "--config", x.config, "serve")
	cmd.Dir, cmd.Env = x.dir, childEnv(x.dir)
	p, err := xmpptest.StartProcess(cmd, filepath.Join(x.dir, name+".log"))
	if err != nil {
		return nil, 0, err
	}
	ready, err := p.WaitReady(20*time.Second, time.Millisecond, func() bool {
		_, _, err := once(context.Background(), target{URL: x.base() + "/readyz", Want: http.StatusOK})
		return err == nil
	})
	if err != nil {
		p.Stop(stopTimeout)
		return nil, 0, fmt.Errorf("%s %w\n%s", name, err, p.LogTail())
	}
	return p, ready, nil
}

// credentialRE is what "key create" prints: ID/SECRET.
var credentialRE = regexp.MustCompile(`^[A-Za-z0-9_-]+/[A-Za-z0-9_-]+$`)

// createKey runs "xmpp-invites key create HOST NAME", as an operator would.
func (x *xiInstance) createKey(ctx context.Context, name string) (string, error) {
	cmd := exec.CommandContext(ctx, x.bin, "--config", x.config, "key", "create", benchDomain, name)
	cmd.Dir, cmd.Env = x.dir, childEnv(x.dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("xmpp-invites key create: %w: %s", err, stderr.Bytes())
	}
	key := strings.TrimSpace(stdout.String())
	if !credentialRE.MatchString(key) {
		return "", fmt.Errorf("xmpp-invites key create printed %q, want ID/SECRET", key)
	}
	return key, nil
}

// componentState returns the "component" field of the admin /readyz.
func (x *xiInstance) componentState() string {
	_, body, err := once(context.Background(), target{URL: x.adminBase() + "/readyz", Want: http.StatusOK})
	var ready struct {
		Component string `json:"component"`
	}
	if err != nil || json.Unmarshal(body, &ready) != nil {
		return ""
	}
	return ready.Component
}

// stopTimeout is how long a server gets after SIGTERM before SIGKILL.
const stopTimeout = 10 * time.Second

// childEnv is this process's environment with HOME replaced, so servers
// and their tools read no per-user configuration, and none of
// xmpp-invites' own variables.
func childEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "XMPP_INVITES_") {
			env = append(env, kv)
		}
	}
	// pgx reads ~/.pgpass for a PostgreSQL URL without a password: the
	// real one, not HOME's stand-in.
	if _, set := os.LookupEnv("PGPASSFILE"); !set {
		if h, err := os.UserHomeDir(); err == nil {
			if _, err := os.Stat(filepath.Join(h, ".pgpass")); err == nil {
				env = append(env, "PGPASSFILE="+filepath.Join(h, ".pgpass"))
			}
		}
	}
	return append(env, "HOME="+home)
}
