package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// twoDomains is a config with shared top-level values and two domains that
// override some of them.
const twoDomains = `site_name = "Shared"
admins = ["root@a.example"]
database = "shared.db"
log_level = "debug"

[component]
server = "127.0.0.1:5347"
secret = "top-secret"
ping_interval = "30s"

[invites]
default_ttl = "24h"
max_ttl = "48h"
muc_domains = ["conference.a.example"]

[http]
listen = "127.0.0.1:7000"

[[domains]]
domain = "a.example"
public_url = "http://localhost:7000/a"
[domains.component]
jid = "invites.a.example"

[[domains]]
domain = "b.example"
public_url = "http://localhost:7000/b/"
site_name = "Bee"
admins = ["boss@b.example"]
[domains.component]
jid = "invites.b.example"
secret_file = "SECRET_FILE"
[domains.invites]
default_ttl = "1h"
muc_domains = []
[[domains.invites.clients]]
name = "Only"
platforms = ["Android"]
`

// TestDomainsOverride checks what each domain inherits from the top level
// and what its table overrides: single keys and lists replaced whole,
// sections merged key by key, the component secret replaced as one.
func TestDomainsOverride(t *testing.T) {
	sf := writeFile(t, "secret", "b-secret\n")
	cfgs, err := loadConfigs(writeFile(t, "c.toml", strings.Replace(twoDomains, "SECRET_FILE", sf, 1)), mapEnv(nil), overrides{LogLevel: "warn"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfgs) != 2 {
		t.Fatalf("%d domains, want 2", len(cfgs))
	}
	a, b := cfgs[0], cfgs[1]
	for _, c := range cfgs {
		if c.Database != "shared.db" || c.LogLevel != "warn" || c.Listen != "127.0.0.1:7000" || c.ComponentServer != "127.0.0.1:5347" ||
			c.PingInterval != 30*time.Second || c.MaxTTL != 48*time.Hour {
			t.Errorf("%s: shared values not inherited: database %q log_level %q listen %q server %q ping %s max_ttl %s",
				c.Domain, c.Database, c.LogLevel, c.Listen, c.ComponentServer, c.PingInterval, c.MaxTTL)
		}
	}
	if a.Domain != "a.example" || a.PublicURL != "http://localhost:7000/a" || a.SiteName != "Shared" ||
		strings.Join(a.Admins, " ") != "root@a.example" || a.ComponentJID != "invites.a.example" || a.ComponentSecret != "top-secret" ||
		a.DefaultTTL != 24*time.Hour || strings.Join(a.MUCDomains, " ") != "conference.a.example" || a.Clients != nil {
		t.Errorf("a.example: %+v", a)
	}
	if b.Domain != "b.example" || b.PublicURL != "http://localhost:7000/b" || b.SiteName != "Bee" ||
		strings.Join(b.Admins, " ") != "boss@b.example" || b.ComponentJID != "invites.b.example" || b.ComponentSecret != "b-secret" ||
		b.DefaultTTL != time.Hour || len(b.MUCDomains) != 0 || len(b.Clients) != 1 || b.Clients[0].Name != "Only" {
		t.Errorf("b.example: %+v", b)
	}
}

// TestDomainsSiteNameDefault: a domain's site name defaults to its own
// domain, not to the first one's.
func TestDomainsSiteNameDefault(t *testing.T) {
	cfgs, err := loadConfigs(writeFile(t, "c.toml", `[[domains]]
domain = "a.example"
public_url = "https://a.example"
[[domains]]
domain = "b.example"
public_url = "https://b.example"
`), mapEnv(nil), overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if cfgs[0].SiteName != "a.example" || cfgs[1].SiteName != "b.example" || cfgs[0].ComponentSecret != "" {
		t.Errorf("site names %q %q, component secret set %v", cfgs[0].SiteName, cfgs[1].SiteName, cfgs[0].ComponentSecret != "")
	}
}

// TestSingleDomainUnchanged: a config with one top-level domain is one
// domain, with the environment applied as before.
func TestSingleDomainUnchanged(t *testing.T) {
	cfgs, err := loadConfigs(writeFile(t, "c.toml", minimalConfig), mapEnv(map[string]string{"XMPP_INVITES_SITE_NAME": "Env"}), overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfgs) != 1 || cfgs[0].Domain != "example.com" || cfgs[0].SiteName != "Env" {
		t.Fatalf("got %+v", cfgs)
	}
}

// TestDomainsShareIdenticalComponent: two domains may name the same
// component with the same server and secret (one link).
func TestDomainsShareIdenticalComponent(t *testing.T) {
	cfgs, err := loadConfigs(writeFile(t, "c.toml", `[component]
jid = "invites.example.net"
secret = "s"
[[domains]]
domain = "a.example"
public_url = "https://a.example"
[[domains]]
domain = "b.example"
public_url = "https://b.example"
`), mapEnv(nil), overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if cfgs[0].ComponentJID != cfgs[1].ComponentJID || cfgs[1].ComponentSecret != "s" {
		t.Fatalf("component %q %q", cfgs[0].ComponentJID, cfgs[1].ComponentJID)
	}
}

func TestBadDomainsConfigNamesOption(t *testing.T) {
	const a = "[[domains]]\ndomain = \"a.example\"\npublic_url = \"https://a.example/\"\n"
	const b = "[[domains]]\ndomain = \"b.example\"\npublic_url = \"https://b.example/\"\n"
	for _, tc := range []struct {
		name, file string
		env        map[string]string
		option     string
	}{
		{"top-level domain with tables", "domain = \"x.example\"\n" + a, nil, "domain"},
		{"missing domain", "[[domains]]\npublic_url = \"https://a.example/\"\n", nil, "domains.domain"},
		{"missing public_url", "[[domains]]\ndomain = \"a.example\"\n", nil, "domains.public_url"},
		{"database in a table", a + "database = \"a.db\"\n", nil, "domains.database"},
		{"log_level in a table", a + "log_level = \"debug\"\n", nil, "domains.log_level"},
		{"log_format in a table", a + "log_format = \"json\"\n", nil, "domains.log_format"},
		{"http in a table", a + "[domains.http]\nlisten = \"127.0.0.1:1\"\n", nil, "domains.http"},
		{"unknown key in a table", a + "colour = 1\n", nil, "domains.colour"},
		{"unknown section key in a table", a + "[domains.invites]\ndefault_tl = \"1h\"\n", nil, "domains.invites.default_tl"},
		{"wrong type in a table", a + "[domains.invites]\nmax_circle_size = \"big\"\n", nil, "domains.invites.max_circle_size"},
		{"bad value in a table", a + "[domains.invites]\ndefault_ttl = \"800h\"\n", nil, "domains.invites.default_ttl"},
		{"bad domain", "[[domains]]\ndomain = \"a@b\"\npublic_url = \"https://a.example/\"\n", nil, "domains.domain"},
		{"same domain twice", a + a, nil, "domains.domain"},
		{"env with tables", a, map[string]string{"XMPP_INVITES_SITE_NAME": "x"}, ""},
		{"env database with tables", a, map[string]string{"XMPP_INVITES_DATABASE": "x.db"}, ""},
		{"same jid other secret", "[component]\njid = \"invites.example.net\"\nsecret = \"s\"\n" + a + b + "[domains.component]\nsecret = \"t\"\n", nil, "domains.component"},
		{"same jid other server", "[component]\njid = \"invites.example.net\"\nsecret = \"s\"\n" + a + b + "[domains.component]\nserver = \"127.0.0.1:5348\"\n", nil, "domains.component"},
		{"same jid other ping", "[component]\njid = \"invites.example.net\"\nsecret = \"s\"\n" + a + b + "[domains.component]\nping_interval = \"10s\"\n", nil, "domains.component"},
		{"identical prefix on one host", "[[domains]]\ndomain = \"a.example\"\npublic_url = \"https://x.example/j\"\n[[domains]]\ndomain = \"b.example\"\npublic_url = \"https://X.example/j/\"\n", nil, "domains.public_url"},
		{"root and a prefix on one host", "[[domains]]\ndomain = \"a.example\"\npublic_url = \"https://x.example/\"\n[[domains]]\ndomain = \"b.example\"\npublic_url = \"https://x.example/b\"\n", nil, "domains.public_url"},
		{"nested prefixes on one host", "[[domains]]\ndomain = \"a.example\"\npublic_url = \"https://x.example/a/b\"\n[[domains]]\ndomain = \"b.example\"\npublic_url = \"https://x.example:443/a\"\n", nil, "domains.public_url"},
		{"prefix of a route", "[[domains]]\ndomain = \"a.example\"\npublic_url = \"https://x.example/invite\"\n", nil, "domains.public_url"},
		{"prefix below a route", "[[domains]]\ndomain = \"a.example\"\npublic_url = \"https://x.example/api/a\"\n", nil, "domains.public_url"},
		{"prefix of a probe", "[[domains]]\ndomain = \"a.example\"\npublic_url = \"https://x.example/readyz\"\n", nil, "domains.public_url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfigs(writeFile(t, "c.toml", tc.file), mapEnv(tc.env), overrides{})
			ce, ok := err.(*configError)
			if !ok {
				t.Fatalf("err = %v (%T), want *configError", err, err)
			}
			if ce.option != tc.option {
				t.Fatalf("error %q names option %q, want %q", err, ce.option, tc.option)
			}
		})
	}
}

// TestDomainsAllowedLayouts: prefixes that do not overlap on one host, the
// same prefix on two hosts, and a prefix that merely begins with a route's
// letters are all fine.
func TestDomainsAllowedLayouts(t *testing.T) {
	for _, file := range []string{
		"[[domains]]\ndomain = \"a.example\"\npublic_url = \"https://x.example/a\"\n[[domains]]\ndomain = \"b.example\"\npublic_url = \"https://x.example/ab\"\n",
		"[[domains]]\ndomain = \"a.example\"\npublic_url = \"https://a.example/\"\n[[domains]]\ndomain = \"b.example\"\npublic_url = \"https://b.example/\"\n",
		"[[domains]]\ndomain = \"a.example\"\npublic_url = \"https://x.example/invites\"\n",
	} {
		if _, err := loadConfigs(writeFile(t, "c.toml", file), mapEnv(nil), overrides{}); err != nil {
			t.Errorf("%s: %v", file, err)
		}
	}
}

// TestDomainsCLI: check reports every domain; a management command takes
// any configured domain as HOST, and its invites link to that domain.
func TestDomainsCLI(t *testing.T) {
	dir := t.TempDir()
	e := &cliEnv{t: t, env: map[string]string{}, config: writeFile(t, "c.toml", `database = "`+dir+`/db.sqlite"
[[domains]]
domain = "a.example"
public_url = "https://chat.example/a"
[[domains]]
domain = "b.example"
public_url = "https://chat.example/b"
`)}
	out := e.ok("check")
	if !strings.Contains(out, "config: ok (domain a.example, public_url https://chat.example/a)\n") ||
		!strings.Contains(out, "config: ok (domain b.example, public_url https://chat.example/b)\n") ||
		!strings.Contains(out, "component of b.example: disabled") {
		t.Errorf("check printed %q", out)
	}
	if out := e.ok("invite", "create", "b.example"); !strings.HasPrefix(out, "https://chat.example/b/invite?") {
		t.Errorf("invite create b.example printed %q, want a link under https://chat.example/b/", out)
	}
	if _, _, code := e.run("invite", "create", "c.example"); code == 0 {
		t.Error("invite create for an unconfigured domain succeeded")
	}
}

// newDomainsInstance configures an instance serving a.example at
// http://localhost:PORT/a and b.example at /b on one listener; extra is
// TOML inserted after the tables.
func newDomainsInstance(t *testing.T, extra string) *instance {
	t.Helper()
	dir := t.TempDir()
	addr, admin := freePort(t), freePort(t)
	_, port, _ := net.SplitHostPort(addr)
	cfg := filepath.Join(dir, "xmpp-invites.toml")
	content := fmt.Sprintf(`database = "%s"
[http]
listen = "%s"
admin_listen = "%s"
[[domains]]
domain = "a.example"
public_url = "http://localhost:%s/a"
site_name = "Site A"
[[domains]]
domain = "b.example"
public_url = "http://localhost:%s/b"
site_name = "Site B"
%s`, filepath.Join(dir, "invites.db"), addr, admin, port, port, extra)
	if err := os.WriteFile(cfg, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return &instance{t: t, dir: dir, config: cfg, addr: addr, admin: admin}
}

// TestServeTwoDomains runs serve with two domains on one listener and
// reaches each through 127.0.0.1 (no public_url host matches, so the path
// decides): invites link to their own domain's pages, which show their own
// site. Each domain's key, invites and pages are its own, both ways: a key
// is a bad key (the same 401) on the other domain's API, an invite is 404
// on the other domain's landing and registration pages, and key list shows
// one domain's keys. Failed authentications count across both domains.
func TestServeTwoDomains(t *testing.T) {
	in := newDomainsInstance(t, "")
	creds := map[string]string{}
	for _, d := range []string{"a", "b"} {
		cred, errs, code := in.cli("key", "create", d+".example", "key of "+d)
		if code != 0 {
			t.Fatalf("key create: %d %s", code, errs)
		}
		creds[d] = strings.TrimSpace(cred)
	}
	for _, d := range []string{"a", "b"} {
		out, _, code := in.cli("key", "list", d+".example")
		id, _, _ := strings.Cut(creds[d], "/")
		if code != 0 || out != id+"\tkey of "+d+"\n" {
			t.Errorf("key list %s.example: %d %q, want only its own key %s", d, code, out, id)
		}
	}
	in.start()
	_, port, _ := net.SplitHostPort(in.addr)
	post := func(d, cred string) (int, string, string) {
		req, _ := http.NewRequest("POST", "http://"+in.addr+"/"+d+"/invites_api", nil)
		req.Header.Set("Authorization", "Bearer "+cred)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var body struct {
			LandingURL string `json:"landing_url"`
		}
		json.Unmarshal(raw, &body)
		return resp.StatusCode, body.LandingURL, string(raw)
	}
	links := map[string]string{}
	for _, d := range []string{"a", "b"} {
		code, link, _ := post(d, creds[d])
		want := "http://localhost:" + port + "/" + d + "/invite?"
		if code != http.StatusCreated || !strings.HasPrefix(link, want) {
			t.Fatalf("POST /%s/invites_api: %d %q, want 201 and a link starting %s", d, code, link, want)
		}
		links[d] = link
		code, page := httpGet(t, "http://"+in.addr+strings.TrimPrefix(link, "http://localhost:"+port))
		if code != http.StatusOK || !strings.Contains(page, "Site "+strings.ToUpper(d)) {
			t.Errorf("landing page of %s: %d, site name missing", d, code)
		}
	}
	_, _, wrongKey := post("a", "AAAAAAAAAAAA/"+strings.Repeat("A", 43))
	for _, p := range [][2]string{{"a", "b"}, {"b", "a"}} {
		x, y := p[0], p[1]
		code, _, body := post(y, creds[x])
		if code != http.StatusUnauthorized || body != wrongKey {
			t.Errorf("key of %s on /%s/invites_api: %d %q, want 401 with the body of any bad key %q", x, y, code, body, wrongKey)
		}
		_, token, _ := strings.Cut(links[x], "/invite?")
		if code, _ := httpGet(t, "http://"+in.addr+"/"+y+"/invite?"+token); code != http.StatusNotFound {
			t.Errorf("invite of %s on %s's landing page: %d, want 404", x, y, code)
		}
		if code, _ := httpGet(t, "http://"+in.addr+"/"+y+"/register?t="+token); code != http.StatusNotFound {
			t.Errorf("invite of %s on %s's registration page: %d, want 404", x, y, code)
		}
		if out, _, code := in.cli("invite", "list", y+".example"); code != 0 || strings.Count(out, "\n") != 1 {
			t.Errorf("invite list %s.example: %d %q, want its one invite", y, code, out)
		}
	}
	// One listener, one failure window ([http] max_auth_failures = 20):
	// bad keys spread over both domains add up, and then even b's own key
	// waits on b. 3 failures above, 20 more here.
	for i := range 20 {
		post([]string{"a", "b"}[i%2], "AAAAAAAAAAAA/"+strings.Repeat("A", 43))
	}
	if code, _, _ := post("b", creds["b"]); code != http.StatusTooManyRequests {
		t.Errorf("after 23 failures spread over both domains: %d on b, want 429 (the failure limit is the listener's)", code)
	}
	if code, _ := httpGet(t, "http://"+in.addr+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d", code)
	}
	if code, _ := httpGet(t, "http://"+in.addr+"/invite"); code != http.StatusNotFound {
		t.Errorf("/invite outside both domains: %d, want 404", code)
	}
	if code := in.stop(); code != 0 {
		t.Errorf("serve exited %d: %s", code, in.stderr)
	}
}
