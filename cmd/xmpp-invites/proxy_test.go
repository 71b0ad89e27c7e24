package main

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"xmpp-invites/internal/xmpptest"
)

// TestBehindProxy runs the nginx and Caddy configurations of docs/proxy.md,
// as written there (ports, paths and TLS swapped for the test's), in front
// of a real xmpp-invites attached to a private Prosody, with public_url's
// path /join and trusted_proxies 127.0.0.1. Through each proxy it creates an
// invite, opens the landing page, follows its link to the registration form
// and registers as a browser would; the new account then logs in to
// Prosody. The proxies' logs must hold no token and no key.
//
// Both proxies front the same xmpp-invites, whose public_url names the nginx
// port: links are followed through Caddy by swapping the address.
func TestBehindProxy(t *testing.T) {
	t.Parallel()
	nginx, caddy := proxyTool(t, "nginx"), proxyTool(t, "caddy")
	srv := xmpptest.Start(t, xmpptest.Prosody, xmpptest.Options{})
	nginxAddr := freePort(t)
	public := "http://" + nginxAddr + "/join"
	in := newInstanceFor(t, srv.Domain, fmt.Sprintf(`[component]
jid = "%s"
server = "%s"
secret = "%s"
`, srv.ComponentJID, srv.ComponentAddr, srv.Secret))
	b, err := os.ReadFile(in.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), `public_url = "http://`+in.addr+`"`, `public_url = "`+public+`"`, 1)
	cfg += "trusted_proxies = [\"127.0.0.1\"]\n" // [http] is the last section
	if err := os.WriteFile(in.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cred, errs, code := in.cli("key", "create", srv.Domain, "proxy")
	if code != 0 {
		t.Fatalf("key create: %s", errs)
	}
	in.start()
	a := &attached{instance: in, srv: srv, cred: strings.TrimSpace(cred)}
	a.waitComponent(t, "up", 30*time.Second)

	// Both proxies run until the end of the test: the last check needs them
	// with xmpp-invites stopped.
	nginxDir, caddyDir := t.TempDir(), t.TempDir()
	caddyAddr := freePort(t)
	var caddyLog *syncBuffer
	if nginx != "" {
		site := docExample(t, "nginx", []docEdit{
			{`listen 443 ssl;`, "listen " + nginxAddr + ";"},
			{`\n\s*listen \[::\]:443 ssl;`, ""},
			{`\n\s*ssl_certificate\S*\s+\S+;`, ""},
			{`/var/log/nginx/`, nginxDir + "/"},
			{`127\.0\.0\.1:5380`, in.addr},
		})
		startNginx(t, nginx, nginxDir, site, nginxAddr)
	}
	if caddy != "" {
		// The global options keep this Caddy private: no admin endpoint, no
		// automatic HTTPS, its state in its directory, and only loopback.
		site := docExample(t, "caddy", []docEdit{
			{`^\{\n`, "{\n\tadmin off\n\tauto_https off\n\tstorage file_system " + filepath.Join(caddyDir, "data") + "\n"},
			{`example\.com \{`, "http://" + caddyAddr + " {\n\tbind 127.0.0.1"},
			{`/var/log/caddy/`, caddyDir + "/"},
			{`127\.0\.0\.1:5380`, in.addr},
		})
		caddyLog = startCaddy(t, caddy, caddyDir, site, caddyAddr)
	}

	t.Run("nginx", func(t *testing.T) {
		if nginx == "" {
			t.Skip("nginx is not installed")
		}
		logs := []string{filepath.Join(nginxDir, "xmpp-invites.access.log"), filepath.Join(nginxDir, "error.log")}
		proxyOnboarding(t, a, "http://"+nginxAddr, public, "viaginx", logs)
	})
	t.Run("caddy", func(t *testing.T) {
		if caddy == "" {
			t.Skip("caddy is not installed")
		}
		logs := []string{filepath.Join(caddyDir, "xmpp-invites.log")}
		proxyOnboarding(t, a, "http://"+caddyAddr, public, "viacaddy", logs)
		if strings.Contains(caddyLog.String(), a.cred[strings.IndexByte(a.cred, '/')+1:]) || strings.Contains(caddyLog.String(), "/join/invite?") {
			t.Errorf("Caddy's own log holds the key's secret or a token:\n%s", caddyLog)
		}
	})

	// trusted_proxies lists the proxies' address: no warning about them.
	if code, body := httpGet(t, "http://"+in.admin+"/readyz"); code != 200 || !strings.Contains(body, `"warnings":[]`) {
		t.Errorf("admin /readyz: %d %s", code, body)
	}
	if strings.Contains(in.stderr.String(), "reverse proxy") {
		t.Errorf("xmpp-invites warned about the proxy although trusted_proxies lists it:\n%s", in.stderr)
	}

	// With xmpp-invites stopped, each proxy logs the failed request. Caddy's
	// own log is filtered by the example; nginx's error log cannot be, and
	// holds the token, as docs/proxy.md warns.
	if code := in.stop(); code != 0 {
		t.Fatalf("serve exit status %d", code)
	}
	const token = "Tok3nOfAnInviteWhileDown" // 24 characters, like a token
	if nginx != "" {
		if code, _ := httpGet(t, "http://"+nginxAddr+"/join/invite?"+token); code != http.StatusBadGateway {
			t.Errorf("nginx without xmpp-invites: %d, want 502", code)
		}
		if b, _ := os.ReadFile(filepath.Join(nginxDir, "error.log")); !strings.Contains(string(b), "?"+token) {
			t.Errorf("nginx's error log no longer names the request's query when the upstream is down; docs/proxy.md says it does:\n%s", b)
		}
	}
	if caddy != "" {
		if code, _ := httpGet(t, "http://"+caddyAddr+"/join/invite?"+token); code != http.StatusBadGateway {
			t.Errorf("Caddy without xmpp-invites: %d, want 502", code)
		}
		// Caddy writes the line after answering: wait for it.
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(caddyLog.String(), "http.log.error") && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		if log := caddyLog.String(); !strings.Contains(log, "http.log.error") || strings.Contains(log, token) {
			t.Errorf("Caddy's own log: want the failed request logged without its token:\n%s", log)
		}
	}
}

// proxyTool returns the path of a proxy's binary, or "" when it is missing
// (the subtest then skips; under CI=true the test fails instead).
func proxyTool(t *testing.T, name string) string {
	t.Helper()
	for _, p := range []string{name, "/usr/sbin/" + name} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true (./test.sh --install-deps installs it)", name)
	}
	return ""
}

// docEdit replaces what the regular expression re matches in a documented
// example; it must match at least once.
type docEdit struct{ re, repl string }

// docExample returns the code block of docs/proxy.md between the markers
// "<!-- begin NAME example -->" and "<!-- end NAME example -->", edited.
func docExample(t *testing.T, name string, edits []docEdit) string {
	t.Helper()
	return docExampleIn(t, "proxy.md", name, edits)
}

// docExampleIn is docExample for the page doc of docs/.
func docExampleIn(t *testing.T, doc, name string, edits []docEdit) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", doc))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok1 := strings.Cut(string(b), "<!-- begin "+name+" example -->")
	block, _, ok2 := strings.Cut(rest, "<!-- end "+name+" example -->")
	lines := strings.Split(strings.TrimSpace(block), "\n")
	if !ok1 || !ok2 || len(lines) < 3 || !strings.HasPrefix(lines[0], "```") || lines[len(lines)-1] != "```" {
		t.Fatalf("docs/%s: no code block between the %s example's markers", doc, name)
	}
	text := strings.Join(lines[1:len(lines)-1], "\n") + "\n"
	for _, e := range edits {
		re := regexp.MustCompile(e.re)
		if !re.MatchString(text) {
			t.Fatalf("docs/%s's %s example has nothing matching %q any more: update the test with it", doc, name, e.re)
		}
		text = re.ReplaceAllLiteralString(text, e.repl)
	}
	return text
}

// startNginx runs nginx in the foreground with a private configuration in
// dir around site, and stops it at cleanup.
func startNginx(t *testing.T, bin, dir, site, addr string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "site.conf"), []byte(site), 0o600); err != nil {
		t.Fatal(err)
	}
	// One process (no master, no worker switching users), every path in dir.
	conf := fmt.Sprintf(`master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	include %[1]s/site.conf;
}
`, dir)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir+"/", "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"), "-g", "daemon off;")
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	startProxy(t, cmd, addr, func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		return out.String() + string(b)
	})
}

// startCaddy runs Caddy with the Caddyfile conf, its state in dir, and
// returns Caddy's own log.
func startCaddy(t *testing.T, bin, dir, conf, addr string) *syncBuffer {
	t.Helper()
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", path, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+dir, "XDG_DATA_HOME="+dir)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	startProxy(t, cmd, addr, out.String)
	return out
}

// startProxy starts cmd, waits until addr accepts connections, and stops
// the process by its PID at cleanup: SIGTERM, then SIGKILL.
func startProxy(t *testing.T, cmd *exec.Cmd, addr string, log func() string) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			t.Fatalf("%s exited at start:\n%s", filepath.Base(cmd.Path), log())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not listen on %s:\n%s", filepath.Base(cmd.Path), addr, log())
		}
	}
}

var registerLinkRE = regexp.MustCompile(`href="([^"]*/register\?t=[^"]*)"`)

// proxyOnboarding goes from a new invite to a new account through the
// proxy at base, as an API client and a browser would, and then checks
// that the proxy's logs hold no token and no key.
func proxyOnboarding(t *testing.T, a *attached, base, public, user string, logs []string) {
	t.Helper()
	pu, err := url.Parse(public)
	if err != nil {
		t.Fatal(err)
	}
	origin := pu.Scheme + "://" + pu.Host
	// viaProxy is a link of the service, opened through this proxy.
	viaProxy := func(u string) string {
		t.Helper()
		if !strings.HasPrefix(u, public+"/") {
			t.Fatalf("link %q is not under public_url %s", u, public)
		}
		return base + strings.TrimPrefix(u, origin)
	}
	do := func(method, u string, body io.Reader, header ...string) (int, http.Header, string) {
		t.Helper()
		req, err := http.NewRequest(method, u, body)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultTransport.RoundTrip(req) // no redirects followed
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}

	// An API client creates the invite (the key in the header), and once
	// more with the key in the query, which must not reach the log.
	code, hdr, body := do("POST", base+"/join/invites_api", nil, "Authorization", "Bearer "+a.cred)
	var created struct {
		Token      string `json:"token"`
		LandingURL string `json:"landing_url"`
	}
	json.Unmarshal([]byte(body), &created)
	if code != 201 || created.Token == "" || hdr.Get("Location") != created.LandingURL ||
		created.LandingURL != public+"/invite?"+created.Token {
		t.Fatalf("POST /join/invites_api: %d Location %q body %s; want 201 with the landing page under %s", code, hdr.Get("Location"), body, public)
	}
	if code, _, body := do("POST", base+"/join/invites_api?key="+url.QueryEscape(a.cred), nil); code != 201 {
		t.Fatalf("POST /join/invites_api?key=: %d %s", code, body)
	}

	// A browser opens the landing page and follows its link to the form.
	code, _, page := do("GET", viaProxy(created.LandingURL), nil)
	m := registerLinkRE.FindStringSubmatch(page)
	if code != 200 || m == nil {
		t.Fatalf("landing page: %d, register link found: %v\n%s", code, m != nil, page)
	}
	registerURL := viaProxy(html.UnescapeString(m[1]))
	code, _, page = do("GET", registerURL, nil)
	m = csrfRE.FindStringSubmatch(page)
	if code != 200 || m == nil {
		t.Fatalf("registration form: %d, csrf found: %v", code, m != nil)
	}
	// The form has no action: it posts to the page's own URL.
	const pw = "correct horse battery"
	form := url.Values{"csrf": {html.UnescapeString(m[1])}, "user": {user}, "password": {pw}, "password_confirm": {pw}}
	code, _, page = do("POST", registerURL, strings.NewReader(form.Encode()),
		"Content-Type", "application/x-www-form-urlencoded", "Origin", base, "Sec-Fetch-Site", "same-origin")
	if code != 200 || !strings.Contains(page, user+"@"+a.srv.Domain) {
		t.Fatalf("register through the proxy: %d\n%s", code, page)
	}
	if !a.canLogin(t, user, pw) {
		t.Fatalf("%s cannot log in after registering through the proxy", user)
	}
	// The token in the path (rewritten links) must not be logged either.
	if code, _, _ := do("GET", base+"/join/invite/"+created.Token, nil); code != 410 {
		t.Errorf("used invite by path: %d, want 410", code)
	}

	secret := a.cred[strings.IndexByte(a.cred, '/')+1:]
	var all strings.Builder
	for _, p := range logs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	text := all.String()
	if !strings.Contains(text, "/join/invite") || !strings.Contains(text, "/join/register") {
		t.Errorf("the proxy's access log does not show the requests:\n%s", text)
	}
	if strings.Contains(text, created.Token) || strings.Contains(text, secret) {
		t.Errorf("the proxy's logs hold the invite token or the key's secret:\n%s", text)
	}
}
