package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mapEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

const minimalConfig = `domain = "example.com"
public_url = "https://example.com/"
`

func TestExampleConfigLoads(t *testing.T) {
	cfg, err := loadConfig("../../configs/xmpp-invites.toml", mapEnv(nil), overrides{})
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	if cfg.ComponentSecret != "" || cfg.DefaultTTL != 168*time.Hour || cfg.Listen != "127.0.0.1:5380" || cfg.AdminListen != "127.0.0.1:5381" ||
		cfg.MaxAuthFailures != 20 || cfg.PasswordMinLength != 8 || cfg.SiteName != "Example Chat" {
		t.Fatalf("example config parsed as %+v", cfg)
	}
}

func TestDefaultsMatchExampleConfig(t *testing.T) {
	// The example documents every default: loading only the required keys
	// must give the same values as loading the example.
	ex, err := loadConfig("../../configs/xmpp-invites.toml", mapEnv(nil), overrides{})
	if err != nil {
		t.Fatal(err)
	}
	min, err := loadConfig(writeFile(t, "c.toml", `domain = "example.com"
public_url = "http://127.0.0.1:5380"
site_name = "Example Chat"
[component]
jid = "invites.example.com"`), mapEnv(nil), overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if ex.Database != min.Database || ex.DefaultTTL != min.DefaultTTL || ex.MaxTTL != min.MaxTTL ||
		ex.ResetTTL != min.ResetTTL || ex.Retention != min.Retention || ex.Listen != min.Listen || ex.AdminListen != min.AdminListen ||
		ex.ComponentServer != min.ComponentServer || ex.PingInterval != min.PingInterval ||
		ex.UserInvitesPerDay != min.UserInvitesPerDay || ex.MaxAuthFailures != min.MaxAuthFailures ||
		strings.Join(ex.CORSOrigins, ",") != strings.Join(min.CORSOrigins, ",") || ex.LogLevel != min.LogLevel ||
		ex.MaxInviteTree != min.MaxInviteTree || ex.MinAccountAge != min.MinAccountAge || len(ex.RegistrationWatchers) != len(min.RegistrationWatchers) {
		t.Fatalf("example config and built-in defaults differ:\nexample  %+v\ndefaults %+v", ex, min)
	}
}

func TestPrecedence(t *testing.T) {
	path := writeFile(t, "c.toml", minimalConfig+`database = "file.db"
[http]
listen = "127.0.0.1:1111"
cors_origins = ["https://a.example"]
[invites]
default_ttl = "1h"
`)
	env := mapEnv(map[string]string{
		"XMPP_INVITES_DATABASE":            "env.db",
		"XMPP_INVITES_HTTP_LISTEN":         "127.0.0.1:2222",
		"XMPP_INVITES_HTTP_CORS_ORIGINS":   "https://b.example, https://c.example",
		"XMPP_INVITES_INVITES_DEFAULT_TTL": "2h",
		"XMPP_INVITES_COMPONENT_SECRET":    "s3cret",
		"XMPP_INVITES_COMPONENT_JID":       "invites.example.com",
	})
	cfg, err := loadConfig(path, env, overrides{Listen: "127.0.0.1:3333"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Database != "env.db" {
		t.Errorf("database = %q, want env over file", cfg.Database)
	}
	if cfg.Listen != "127.0.0.1:3333" {
		t.Errorf("listen = %q, want flag over env", cfg.Listen)
	}
	if strings.Join(cfg.CORSOrigins, " ") != "https://b.example https://c.example" {
		t.Errorf("cors_origins = %q, want the env list", cfg.CORSOrigins)
	}
	if cfg.DefaultTTL != 2*time.Hour || cfg.ComponentSecret != "s3cret" {
		t.Errorf("default_ttl %s secret set %v", cfg.DefaultTTL, cfg.ComponentSecret != "")
	}
	if cfg.PublicURL != "https://example.com" {
		t.Errorf("public_url = %q, want trailing slash trimmed", cfg.PublicURL)
	}
}

func TestBadConfigNamesOption(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		env        map[string]string
		option     string
	}{
		{"unknown key", minimalConfig + "colour = 1\n", nil, "colour"},
		{"unknown section key", minimalConfig + "[http]\nlisten = \"127.0.0.1:1\"\nlisen = 2\n", nil, "http.lisen"},
		{"wrong type", minimalConfig + "[http]\nmax_auth_failures = \"many\"\n", nil, "http.max_auth_failures"},
		{"bad duration", minimalConfig + "[invites]\ndefault_ttl = \"a week\"\n", nil, "invites.default_ttl"},
		{"missing domain", "public_url = \"https://x.example\"\n", nil, "domain"},
		{"missing public_url", "domain = \"example.com\"\n", nil, "public_url"},
		{"bad public_url", "domain = \"example.com\"\npublic_url = \"ftp://x\"\n", nil, "public_url"},
		{"public_url path with ..", "domain = \"example.com\"\npublic_url = \"https://x.example/a/../join\"\n", nil, "public_url"},
		{"public_url path with //", "domain = \"example.com\"\npublic_url = \"https://x.example//join\"\n", nil, "public_url"},
		{"public_url path of a probe", "domain = \"example.com\"\npublic_url = \"https://x.example/healthz/\"\n", nil, "public_url"},
		{"secret without jid", minimalConfig + "[component]\nsecret = \"x\"\n", nil, "component.jid"},
		{"bad log level", minimalConfig + "log_level = \"loud\"\n", nil, "log_level"},
		{"bad admin", minimalConfig + "admins = [\"not a jid@@\"]\n", nil, "admins"},
		{"bad proxy", minimalConfig + "[http]\ntrusted_proxies = [\"nope\"]\n", nil, "http.trusted_proxies"},
		{"default above max", minimalConfig + "[invites]\ndefault_ttl = \"800h\"\n", nil, "invites.default_ttl"},
		{"bad admin_listen", minimalConfig + "[http]\nadmin_listen = \"5381\"\n", nil, "http.admin_listen"},
		{"unknown default_language", "default_language = \"xx\"\n" + minimalConfig, nil, "default_language"},
		{"admin_listen is listen", minimalConfig + "[http]\nlisten = \"127.0.0.1:7000\"\nadmin_listen = \"127.0.0.1:7000\"\n", nil, "http.admin_listen"},
		{"bad env admin_listen", minimalConfig, map[string]string{"XMPP_INVITES_HTTP_ADMIN_LISTEN": "localhost"}, "http.admin_listen"},
		{"bad env int", minimalConfig, map[string]string{"XMPP_INVITES_HTTP_MAX_AUTH_FAILURES": "x"}, "http.max_auth_failures"},
		{"bad env bool", minimalConfig, map[string]string{"XMPP_INVITES_INVITES_ALLOW_USER_INVITES": "perhaps"}, "invites.allow_user_invites"},
		{"negative max_invite_tree", minimalConfig + "[invites]\nmax_invite_tree = -1\n", nil, "invites.max_invite_tree"},
		{"bad min_account_age", minimalConfig + "[invites]\nmin_account_age = \"a day\"\n", nil, "invites.min_account_age"},
		{"negative min_account_age", minimalConfig + "[invites]\nmin_account_age = \"-1h\"\n", nil, "invites.min_account_age"},
		{"watcher without localpart", "registration_watchers = [\"example.com\"]\n" + minimalConfig, nil, "registration_watchers"},
		{"watcher with resource", "registration_watchers = [\"a@example.com/phone\"]\n" + minimalConfig, nil, "registration_watchers"},
		{"bad env watcher", minimalConfig, map[string]string{"XMPP_INVITES_REGISTRATION_WATCHERS": "a@example.com, @@"}, "registration_watchers"},
		{"bad toml", "domain = \n", nil, "domain"},
		{"bad toml syntax", "[http\n", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfig(writeFile(t, "c.toml", tc.file), mapEnv(tc.env), overrides{})
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

// TestChainKeys reads the invite-chain keys and the registration watchers:
// the defaults, values that turn the limits off, and watchers normalised.
func TestChainKeys(t *testing.T) {
	def, err := loadConfig(writeFile(t, "c.toml", minimalConfig), mapEnv(nil), overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if def.MaxInviteTree != 1000 || def.MinAccountAge != 24*time.Hour || len(def.RegistrationWatchers) != 0 {
		t.Errorf("defaults: max_invite_tree %d, min_account_age %s, watchers %v; want 1000, 24h, none", def.MaxInviteTree, def.MinAccountAge, def.RegistrationWatchers)
	}
	cfg, err := loadConfig(writeFile(t, "c.toml", "registration_watchers = [\"Admin@Example.com\", \"ops@elsewhere.example\"]\n"+minimalConfig+
		"[invites]\nmax_invite_tree = 0\nmin_account_age = \"0s\"\n"), mapEnv(nil), overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxInviteTree != 0 || cfg.MinAccountAge != 0 || strings.Join(cfg.RegistrationWatchers, " ") != "admin@example.com ops@elsewhere.example" {
		t.Errorf("max_invite_tree %d, min_account_age %s, watchers %v; want 0, 0s, both normalised", cfg.MaxInviteTree, cfg.MinAccountAge, cfg.RegistrationWatchers)
	}
	if svc := newService(nil, cfg).Config(); svc.MaxInviteTree != 0 || len(svc.RegistrationWatchers) != 2 {
		t.Errorf("the invite service got %+v", svc)
	}
}

func TestSecretFile(t *testing.T) {
	sf := writeFile(t, "secret", "from-file\n")
	cfg, err := loadConfig(writeFile(t, "c.toml", minimalConfig+"[component]\njid = \"invites.example.com\"\nsecret_file = \""+sf+"\"\n"), mapEnv(nil), overrides{})
	if err != nil || cfg.ComponentSecret != "from-file" {
		t.Fatalf("secret_file: %q, %v", cfg.ComponentSecret, err)
	}
	_, err = loadConfig(writeFile(t, "c.toml", minimalConfig+"[component]\njid = \"invites.example.com\"\nsecret = \"a\"\nsecret_file = \""+sf+"\"\n"), mapEnv(nil), overrides{})
	if err == nil {
		t.Fatal("secret and secret_file together accepted")
	}
}

// TestAdminListen checks http.admin_listen: the default, off with "", and
// the precedence of flag, environment and file.
func TestAdminListen(t *testing.T) {
	file := writeFile(t, "c.toml", minimalConfig+"[http]\nadmin_listen = \"127.0.0.1:6001\"\n")
	empty, other := "", "127.0.0.1:6003"
	for _, tc := range []struct {
		name string
		file string
		env  map[string]string
		flag *string
		want string
	}{
		{"default", writeFile(t, "c.toml", minimalConfig), nil, nil, "127.0.0.1:5381"},
		{"file", file, nil, nil, "127.0.0.1:6001"},
		{"file off", writeFile(t, "c.toml", minimalConfig+"[http]\nadmin_listen = \"\"\n"), nil, nil, ""},
		{"env over file", file, map[string]string{"XMPP_INVITES_HTTP_ADMIN_LISTEN": "127.0.0.1:6002"}, nil, "127.0.0.1:6002"},
		{"env off", file, map[string]string{"XMPP_INVITES_HTTP_ADMIN_LISTEN": ""}, nil, ""},
		{"flag over env", file, map[string]string{"XMPP_INVITES_HTTP_ADMIN_LISTEN": "127.0.0.1:6002"}, &other, other},
		{"flag off", file, nil, &empty, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadConfig(tc.file, mapEnv(tc.env), overrides{AdminListen: tc.flag})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.AdminListen != tc.want {
				t.Errorf("admin listen %q, want %q", cfg.AdminListen, tc.want)
			}
		})
	}
}
