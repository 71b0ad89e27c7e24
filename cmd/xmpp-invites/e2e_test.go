package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"xmpp-invites/internal/pgtest"
	"xmpp-invites/keystore"
)

// The xmpp-invites binary, built once, on first use, for the end-to-end
// tests (fuzzing and unit tests do not pay for the build).
var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

func binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "xmpp-invites-bin")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "xmpp-invites")
		out, err := exec.Command("go", "build", "-race", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// instance is a configured xmpp-invites on its own port and database.
type instance struct {
	t      testing.TB
	dir    string
	config string
	addr   string
	admin  string // the admin listener's address
	cmd    *exec.Cmd
	wrap   []string // command line the binary runs under, such as prlimit
	stderr *syncBuffer
	exited chan struct{}
	bin    string // the binary to run; empty: binary(t)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func newInstance(t testing.TB, extra string) *instance {
	t.Helper()
	return newInstanceFor(t, "example.com", extra)
}

// newInstanceFor configures an instance for domain; extra is TOML inserted
// before the [http] section.
func newInstanceFor(t testing.TB, domain, extra string) *instance {
	t.Helper()
	dir := t.TempDir()
	addr, admin := freePort(t), freePort(t)
	cfg := filepath.Join(dir, "xmpp-invites.toml")
	content := fmt.Sprintf(`domain = "%s"
public_url = "http://%s"
database = "%s"
log_level = "debug"
%s
[http]
listen = "%s"
admin_listen = "%s"
`, domain, addr, filepath.Join(dir, "invites.db"), extra, addr, admin)
	if err := os.WriteFile(cfg, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return &instance{t: t, dir: dir, config: cfg, addr: addr, admin: admin}
}

// cli runs the binary with the instance's config.
func (in *instance) cli(args ...string) (string, string, int) {
	in.t.Helper()
	cmd := exec.Command(binary(in.t), append([]string{"--config", in.config}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		in.t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// start runs serve and waits for /healthz.
func (in *instance) start() {
	in.t.Helper()
	bin := in.bin
	if bin == "" {
		bin = binary(in.t)
	}
	args := append(append([]string{}, in.wrap...), bin, "--config", in.config, "serve")
	in.cmd = exec.Command(args[0], args[1:]...)
	in.stderr = &syncBuffer{}
	in.cmd.Stderr = in.stderr
	if err := in.cmd.Start(); err != nil {
		in.t.Fatal(err)
	}
	in.exited = make(chan struct{})
	cmd := in.cmd
	go func() { cmd.Wait(); close(in.exited) }()
	exited := in.exited
	in.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + in.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case <-in.exited:
			in.t.Fatalf("serve exited early: %s", in.stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	in.t.Fatalf("serve not healthy in time: %s", in.stderr)
}

// stop sends SIGTERM and returns the exit status.
func (in *instance) stop() int {
	in.t.Helper()
	in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.exited:
	case <-time.After(20 * time.Second):
		in.t.Fatalf("serve did not stop on SIGTERM: %s", in.stderr)
	}
	return in.cmd.ProcessState.ExitCode()
}

func (in *instance) createInvite(cred string) (*http.Response, map[string]any) {
	in.t.Helper()
	req, _ := http.NewRequest("POST", "http://"+in.addr+"/invites_api", nil)
	req.Header.Set("Authorization", "Bearer "+cred)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return resp, body
}

func TestEndToEnd(t *testing.T) {
	in := newInstance(t, "")
	cred, errs, code := in.cli("key", "create", "example.com", "e2e key")
	if code != 0 {
		t.Fatalf("key create: %d %s", code, errs)
	}
	cred = strings.TrimSpace(cred)
	in.start()
	if !strings.Contains(in.stderr.String(), "component is disabled") {
		t.Errorf("no warning about the disabled component in %q", in.stderr)
	}
	var locations []string
	for i := 0; i < 3; i++ {
		resp, body := in.createInvite(cred)
		if resp.StatusCode != 201 {
			t.Fatalf("create invite: %d %v", resp.StatusCode, body)
		}
		loc := resp.Header.Get("Location")
		if !strings.HasPrefix(loc, "http://"+in.addr+"/invite?") || body["landing_url"] != loc {
			t.Fatalf("Location %q body %v", loc, body)
		}
		locations = append(locations, loc)
	}
	page, err := http.Get(locations[0])
	if err != nil {
		t.Fatal(err)
	}
	page.Body.Close()
	if page.StatusCode != 200 {
		t.Fatalf("landing page %s: %d", locations[0], page.StatusCode)
	}
	// /metrics is on the admin listener only; /readyz on both, with the
	// detail on the admin one.
	if code, _ := httpGet(t, "http://"+in.addr+"/metrics"); code != http.StatusNotFound {
		t.Errorf("public /metrics: %d, want 404", code)
	}
	if code, body := httpGet(t, "http://"+in.addr+"/readyz"); code != http.StatusOK || body != `{"status":"ok"}`+"\n" {
		t.Errorf("public /readyz: %d %q", code, body)
	}
	if code, body := httpGet(t, "http://"+in.admin+"/readyz"); code != http.StatusOK ||
		!strings.Contains(body, fmt.Sprintf(`"database":"writable","database_engine":"sqlite","database_reachable":true,"database_schema":%d,"component":"disabled","account_creation":"unknown","warnings":[]`, keystore.SchemaVersion())) {
		t.Errorf("admin /readyz: %d %q", code, body)
	}
	code, metricsText := httpGet(t, "http://"+in.admin+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("admin /metrics: %d", code)
	}
	for _, want := range []string{
		`xmpp_invites_invites_created_total{domain="example.com",source="http",type="account"} 3`,
		`xmpp_invites_component_up{domain="example.com"} 0`,
		`xmpp_invites_http_request_duration_seconds_count{code="201",domain="example.com",route="/invites_api"} 3`,
	} {
		if !strings.Contains(metricsText, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The three invites committed in one or more group commits.
	if m := regexp.MustCompile(`(?m)^xmpp_invites_store_transaction_writes_sum (\d+)$`).FindStringSubmatch(metricsText); m == nil {
		t.Errorf("/metrics lacks xmpp_invites_store_transaction_writes_sum")
	} else if n, _ := strconv.Atoi(m[1]); n < 3 {
		t.Errorf("xmpp_invites_store_transaction_writes_sum %d, want at least the 3 invites", n)
	}
	// The CLI works while the server runs.
	list, _, _ := in.cli("key", "list", "example.com")
	if !strings.Contains(list, cred[:12]+"\te2e key") {
		t.Fatalf("key list = %q", list)
	}
	invs, _, _ := in.cli("invite", "list", "example.com")
	if n := strings.Count(invs, "\n"); n != 3 {
		t.Fatalf("invite list shows %d invites, want 3: %q", n, invs)
	}
	if _, errs, code := in.cli("key", "delete", "example.com", cred[:12]); code != 0 {
		t.Fatalf("key delete: %d %s", code, errs)
	}
	resp, body := in.createInvite(cred)
	if resp.StatusCode != 401 {
		t.Fatalf("after key delete: %d %v, want 401", resp.StatusCode, body)
	}
	if code := in.stop(); code != 0 {
		t.Fatalf("serve exit status %d after SIGTERM: %s", code, in.stderr)
	}
	logs := in.stderr.String()
	_, secret, _ := strings.Cut(cred, "/")
	token := locations[0][strings.Index(locations[0], "?")+1:]
	if strings.Contains(logs, secret) || strings.Contains(logs, token) {
		t.Fatal("a key secret or an invite token reached the log")
	}
}

// httpGet returns the status and body of a GET.
func httpGet(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestBadConfigExitsTwo(t *testing.T) {
	in := newInstance(t, "colour = \"blue\"")
	_, errs, code := in.cli("serve")
	if code != 2 || !strings.Contains(errs, "colour") {
		t.Fatalf("serve with unknown key: exit %d stderr %q, want 2 naming colour", code, errs)
	}
}

// TestCrashSafety kills the server with SIGKILL in the middle of a load
// several times and checks that every invite acknowledged with 201 survived.
func TestCrashSafety(t *testing.T) {
	in := newInstance(t, "")
	cred, _, code := in.cli("key", "create", "example.com")
	if code != 0 {
		t.Fatal("key create failed")
	}
	cred = strings.TrimSpace(cred)
	var acked []string
	var mu sync.Mutex
	for round := 0; round < 4; round++ {
		in.start()
		ctx, cancel := context.WithCancel(context.Background())
		var n atomic.Int64
		wg := driveInvites(ctx, in.addr, cred, 8, func(token string) {
			mu.Lock()
			acked = append(acked, token)
			mu.Unlock()
			n.Add(1)
		})
		// Let some invites through, then kill mid-load.
		for n.Load() < 50 {
			time.Sleep(5 * time.Millisecond)
		}
		in.cmd.Process.Kill()
		<-in.exited
		cancel()
		wg.Wait()
	}
	st, err := keystore.Open(context.Background(), filepath.Join(in.dir, "invites.db"), keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st = st.ForDomain("example.com")
	missing := 0
	for _, tok := range acked {
		inv, err := st.InviteByToken(context.Background(), tok)
		if err != nil || inv.State(time.Now()) != keystore.StatePending {
			missing++
		}
	}
	t.Logf("%d invites acknowledged across 4 SIGKILLs", len(acked))
	if missing > 0 || len(acked) < 200 {
		t.Fatalf("%d of %d acknowledged invites missing or invalid after SIGKILL", missing, len(acked))
	}
}

// TestOnlineBackup runs the backup recipes of docs/operations.md against a live database
// under write load and opens the copies.
func TestOnlineBackup(t *testing.T) {
	in := newInstance(t, "")
	cred, _, code := in.cli("key", "create", "example.com")
	if code != 0 {
		t.Fatal("key create failed")
	}
	cred = strings.TrimSpace(cred)
	in.start()
	ctx, cancel := context.WithCancel(context.Background())
	var acked atomic.Int64
	wg := driveInvites(ctx, in.addr, cred, 4, func(string) { acked.Add(1) })
	defer func() { cancel(); wg.Wait() }()
	for acked.Load() < 100 {
		time.Sleep(5 * time.Millisecond)
	}
	db := filepath.Join(in.dir, "invites.db")
	copies := map[string]func(dst string) error{}
	if sqlite, err := exec.LookPath("sqlite3"); err == nil {
		copies["sqlite3 .backup"] = func(dst string) error {
			out, err := exec.Command(sqlite, db, ".backup '"+dst+"'").CombinedOutput()
			if err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		}
	} else if os.Getenv("CI") == "true" {
		t.Fatal("sqlite3 is not installed: the backup recipe of docs/operations.md cannot be tested")
	} else {
		t.Log("sqlite3 not installed: only VACUUM INTO is tested")
	}
	copies["VACUUM INTO"] = func(dst string) error {
		return vacuumInto(db, dst)
	}
	for name, backup := range copies {
		before := acked.Load()
		dst := filepath.Join(t.TempDir(), "backup.db")
		if err := backup(dst); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		st, err := keystore.Open(context.Background(), dst, keystore.Options{})
		if err != nil {
			t.Fatalf("%s: open copy: %v", name, err)
		}
		list, err := st.ForDomain("example.com").ListInvites(context.Background(), keystore.ListOptions{All: true})
		st.Close()
		if err != nil || int64(len(list)) < before {
			t.Fatalf("%s: copy holds %d invites (%v), want at least the %d acknowledged before the backup", name, len(list), err, before)
		}
		t.Logf("%s: copy holds %d invites while the server kept writing", name, len(list))
	}
}

// driveInvites creates invites over /invites_api from workers goroutines
// until ctx ends or the server goes away, and calls ack with the token of
// every invite acknowledged with 201.
func driveInvites(ctx context.Context, addr, cred string, workers int, ack func(token string)) *sync.WaitGroup {
	client := &http.Client{Timeout: 5 * time.Second}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+addr+"/invites_api", nil)
				req.Header.Set("Authorization", "Bearer "+cred)
				resp, err := client.Do(req)
				if err != nil {
					return // the server is gone, or ctx ended
				}
				var body struct{ Token string }
				json.NewDecoder(resp.Body).Decode(&body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusCreated {
					ack(body.Token)
				}
			}
		}()
	}
	return &wg
}
