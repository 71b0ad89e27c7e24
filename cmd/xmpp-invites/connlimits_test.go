package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestDeriveConnLimits(t *testing.T) {
	for _, tc := range []struct {
		name                string
		nofile              uint64
		max, perClient      int
		wantMax, wantClient int
		errOption           string
	}{
		{"systemd 524288", 524288, 0, 0, 4096, 256, ""},
		{"unknown", 0, 0, 0, 4096, 256, ""},
		{"infinity", ^uint64(0), 0, 0, 4096, 256, ""},
		{"4096", 4096, 0, 0, 3072, 192, ""},
		{"1024", 1024, 0, 0, 768, 48, ""},
		{"300", 300, 0, 0, 44, 8, ""},
		{"260", 260, 0, 0, 4, 4, ""},
		{"256", 256, 0, 0, 0, 0, "http.max_connections"},
		{"10", 10, 0, 0, 0, 0, "http.max_connections"},
		{"configured", 4096, 1000, 10, 1000, 10, ""},
		{"configured max, derived per client", 4096, 1000, 0, 1000, 62, ""},
		{"configured per client, derived max", 4096, 0, 500, 3072, 500, ""},
		{"configured max above room", 4096, 3073, 0, 0, 0, "http.max_connections"},
		{"configured max at room", 4096, 3072, 0, 3072, 192, ""},
		{"configured max high, limit high", 524288, 100000, 0, 100000, 6250, ""},
		{"per client above derived max", 1024, 0, 769, 0, 0, "http.max_connections_per_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lim, err := deriveConnLimits(tc.nofile, tc.max, tc.perClient)
			if tc.errOption != "" {
				var ce *configError
				if !errors.As(err, &ce) || ce.option != tc.errOption {
					t.Fatalf("err = %v, want a config error naming %s", err, tc.errOption)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if lim.Max != tc.wantMax || lim.PerClient != tc.wantClient {
				t.Fatalf("limits %d total, %d per client; want %d, %d", lim.Max, lim.PerClient, tc.wantMax, tc.wantClient)
			}
			if err := lim.Validate(); err != nil {
				t.Fatalf("derived limits invalid: %v", err)
			}
		})
	}
}

func TestConnLimitOptions(t *testing.T) {
	for _, tc := range []struct {
		name, http string
		option     string
	}{
		{"negative max", "max_connections = -1\n", "http.max_connections"},
		{"negative per client", "max_connections_per_client = -1\n", "http.max_connections_per_client"},
		{"per client above max", "max_connections = 10\nmax_connections_per_client = 11\n", "http.max_connections_per_client"},
		{"not a number", "max_connections = \"many\"\n", "http.max_connections"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfig(writeFile(t, "c.toml", minimalConfig+"[http]\n"+tc.http), mapEnv(nil), overrides{})
			var ce *configError
			if !errors.As(err, &ce) || ce.option != tc.option {
				t.Fatalf("err = %v, want a config error naming %s", err, tc.option)
			}
		})
	}
	cfg, err := loadConfig(writeFile(t, "c.toml", minimalConfig), mapEnv(map[string]string{
		"XMPP_INVITES_HTTP_MAX_CONNECTIONS":            "100",
		"XMPP_INVITES_HTTP_MAX_CONNECTIONS_PER_CLIENT": "100",
	}), overrides{})
	if err != nil || cfg.MaxConns != 100 || cfg.MaxConnsPerAddr != 100 {
		t.Fatalf("from the environment: %d, %d, %v; want 100, 100", cfg.MaxConns, cfg.MaxConnsPerAddr, err)
	}
	ex, err := loadConfig("../../configs/xmpp-invites.toml", mapEnv(nil), overrides{})
	if err != nil || ex.MaxConns != 0 || ex.MaxConnsPerAddr != 0 {
		t.Fatalf("example config: %d, %d, %v; want the defaults 0, 0", ex.MaxConns, ex.MaxConnsPerAddr, err)
	}
}

func TestCheckShowsConnLimits(t *testing.T) {
	e := newCLIEnv(t)
	lim, nofile, err := connLimits(Config{})
	if err != nil {
		t.Fatal(err)
	}
	out := e.ok("check")
	want := fmt.Sprintf("http: at most %d connections, %d per client address (file-descriptor limit %d)\n", lim.Max, lim.PerClient, nofile)
	if !strings.Contains(out, want) {
		t.Fatalf("check printed %q, want a line %q", out, want)
	}
	// A cap the descriptor limit cannot hold is a config error.
	e.env["XMPP_INVITES_HTTP_MAX_CONNECTIONS"] = fmt.Sprint(nofile)
	if _, errs, code := e.run("check"); code != exitUsage || !strings.Contains(errs, "http.max_connections") {
		t.Fatalf("check with max_connections = the descriptor limit %d: exit %d, %q; want exit 2 naming the option", nofile, code, errs)
	}
}

// floodConns is how many connections one address opens against a server
// whose file-descriptor limit is floodFDLimit.
const (
	floodConns   = 6000
	floodFDLimit = 4096
)

// TestConnectionFlood: a server under a descriptor limit of 4096 whose one
// client holds 6000 keep-alive connections still answers /healthz and the
// API for other clients.
func TestConnectionFlood(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("prlimit (util-linux) is missing")
		}
		t.Skip("prlimit (util-linux) is missing")
	}
	raiseFDLimit(t, floodConns+1000)

	in := newInstance(t, "")
	cred, errs, code := in.cli("key", "create", "example.com", "flood")
	if code != 0 {
		t.Fatalf("key create: %d %s", code, errs)
	}
	cred = strings.TrimSpace(cred)
	in.wrap = []string{prlimit, "--nofile=" + fmt.Sprint(floodFDLimit) + ":" + fmt.Sprint(floodFDLimit), "--"}
	in.start()
	http.DefaultClient.CloseIdleConnections()
	want, err := deriveConnLimits(floodFDLimit, 0, 0)
	if err != nil {
		t.Fatal(err)
	}

	// One address, 127.0.0.1, opens the connections and sends a keep-alive
	// request on each; the server's answers leave them idle.
	conns := make([]net.Conn, 0, floodConns)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	d := net.Dialer{Timeout: time.Second}
	refused, dialErrs := 0, 0
	t0 := time.Now()
	for range floodConns {
		c, err := d.Dial("tcp", in.addr)
		switch {
		case errors.Is(err, syscall.ECONNRESET):
			refused++ // closed by the server before connect returned
			continue
		case err != nil:
			if dialErrs++; dialErrs == 5 {
				t.Fatalf("dial: %v (after %d connections)", err, len(conns)+refused)
			}
			continue
		}
		conns = append(conns, c)
		c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
	}
	t.Logf("%d connections from 127.0.0.1: %d refused at once, %d opened (%v)", floodConns, refused, len(conns), time.Since(t0))
	deadline := time.Now().Add(10 * time.Second)
	served := 0
	for _, c := range conns {
		c.SetReadDeadline(deadline)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				served++
			}
		}
	}
	t.Logf("%d of them answered (%v)", served, time.Since(t0))

	for _, probe := range []struct {
		from, method, path, auth string
		want                     int
	}{
		{"127.0.0.2", "GET", "/healthz", "", 200},
		{"127.0.0.3", "POST", "/invites_api", "Bearer " + cred, 201},
	} {
		client := &http.Client{
			Timeout: 10 * time.Second,
			Transport: &http.Transport{DialContext: (&net.Dialer{
				LocalAddr: &net.TCPAddr{IP: net.ParseIP(probe.from)}}).DialContext},
		}
		req, _ := http.NewRequest(probe.method, "http://"+in.addr+probe.path, nil)
		if probe.auth != "" {
			req.Header.Set("Authorization", probe.auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s from %s during the flood: %v\nserver log ends: %s", probe.method, probe.path, probe.from, err, logTail(in.stderr.String()))
		}
		resp.Body.Close()
		client.CloseIdleConnections()
		if resp.StatusCode != probe.want {
			t.Fatalf("%s %s from %s during the flood: %d, want %d", probe.method, probe.path, probe.from, resp.StatusCode, probe.want)
		}
	}
	if served == 0 || served > want.PerClient {
		t.Errorf("%d connections from one address were served, want 1 to %d (max_connections_per_client)", served, want.PerClient)
	}
	logs := in.stderr.String()
	if !strings.Contains(logs, "max_connections_per_client="+fmt.Sprint(want.PerClient)) || !strings.Contains(logs, "fd_limit="+fmt.Sprint(floodFDLimit)) {
		t.Errorf("the log does not show the limits derived from %d descriptors: %s", floodFDLimit, logTail(logs))
	}
	if !strings.Contains(logs, "refusing connections over a limit") {
		t.Errorf("the log does not warn about refused connections: %s", logTail(logs))
	}
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	if code := in.stop(); code != 0 {
		t.Fatalf("serve exit status %d after SIGTERM: %s", code, logTail(in.stderr.String()))
	}
}

// raiseFDLimit makes sure this process may open n descriptors, until the
// test ends.
func raiseFDLimit(t *testing.T, n uint64) {
	t.Helper()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	if old.Cur >= n {
		return
	}
	lim := old
	lim.Cur = max(lim.Cur, min(n, lim.Max))
	if lim.Cur < n {
		lim.Cur, lim.Max = n, n // root only
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("RLIMIT_NOFILE %d:%d, need %d descriptors: %v", old.Cur, old.Max, n, err)
		}
		t.Skipf("RLIMIT_NOFILE %d:%d, need %d descriptors: %v", old.Cur, old.Max, n, err)
	}
	t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
}

// logTail is the end of a server log, for failure messages.
func logTail(s string) string {
	if len(s) > 3000 {
		return "…" + s[len(s)-3000:]
	}
	return s
}
