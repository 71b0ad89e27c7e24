package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/BurntSushi/toml"
	"mellium.im/xmpp/jid"

	"xmpp-invites/httpapi"
	"xmpp-invites/i18n"
	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

// fileConfig mirrors the config file. Durations stay strings here so that an
// unparsable one is reported with its option name.
type fileConfig struct {
	Domain    string `toml:"domain"`
	PublicURL string `toml:"public_url"`
	SiteName  string `toml:"site_name"`
	Database  string `toml:"database"`
	// DatabasePasswordFile holds the password of a postgres:// database.
	DatabasePasswordFile string `toml:"database_password_file"`

	DefaultLanguage string   `toml:"default_language"`
	Admins          []string `toml:"admins"`
	LogLevel        string   `toml:"log_level"`
	LogFormat       string   `toml:"log_format"`

	ReservedUsernames []string `toml:"reserved_usernames"`

	RegistrationWatchers []string `toml:"registration_watchers"`

	Component struct {
		JID          string `toml:"jid"`
		Server       string `toml:"server"`
		Secret       string `toml:"secret"`
		SecretFile   string `toml:"secret_file"`
		PingInterval string `toml:"ping_interval"`
	} `toml:"component"`

	HTTP struct {
		Listen          string   `toml:"listen"`
		AdminListen     string   `toml:"admin_listen"`
		CORSOrigins     []string `toml:"cors_origins"`
		MaxAuthFailures int      `toml:"max_auth_failures"`
		TrustedProxies  []string `toml:"trusted_proxies"`
		MaxConns        int      `toml:"max_connections"`
		MaxConnsPerAddr int      `toml:"max_connections_per_client"`
	} `toml:"http"`

	Invites struct {
		DefaultTTL        string           `toml:"default_ttl"`
		MaxTTL            string           `toml:"max_ttl"`
		ResetTTL          string           `toml:"reset_ttl"`
		Retention         string           `toml:"retention"`
		AllowUserInvites  bool             `toml:"allow_user_invites"`
		UserInvitesPerDay int              `toml:"user_invites_per_day"`
		PasswordMinLength int              `toml:"password_min_length"`
		AccountTimeout    string           `toml:"account_timeout"`
		CheckTimeout      string           `toml:"check_timeout"`
		ReservationLease  string           `toml:"reservation_lease"`
		ResolveInterval   string           `toml:"resolve_interval"`
		MaxInviteTree     int              `toml:"max_invite_tree"`
		MinAccountAge     string           `toml:"min_account_age"`
		Clients           []httpapi.Client `toml:"clients" env:"-"`

		AllowNeverExpiring bool `toml:"allow_never_expiring"`

		MUCDomains    []string `toml:"muc_domains"`
		MaxCircleSize int      `toml:"max_circle_size"`
	} `toml:"invites"`

	Branding struct {
		Logo         string `toml:"logo"`
		AccentColor  string `toml:"accent_color"`
		ImprintURL   string `toml:"imprint_url"`
		PrivacyURL   string `toml:"privacy_url"`
		TermsURL     string `toml:"terms_url"`
		Notice       string `toml:"notice"`
		TemplatesDir string `toml:"templates_dir"`
	} `toml:"branding"`

	// Domains are the [[domains]] tables, as decoded (domains.go).
	Domains []map[string]any `toml:"domains" env:"-"`
}

func defaultFileConfig() fileConfig {
	var c fileConfig
	c.Database = "xmpp-invites.db"
	c.Admins = []string{}
	c.ReservedUsernames = []string{}
	c.LogLevel = "info"
	c.LogFormat = "text"
	c.Component.Server = "127.0.0.1:5347"
	c.Component.PingInterval = "60s"
	c.HTTP.Listen = "127.0.0.1:5380"
	c.HTTP.AdminListen = "127.0.0.1:5381"
	c.HTTP.CORSOrigins = []string{"*"}
	c.HTTP.MaxAuthFailures = 20
	c.HTTP.TrustedProxies = []string{}
	c.Invites.DefaultTTL = "168h"
	c.Invites.MaxTTL = "720h"
	c.Invites.ResetTTL = "24h"
	c.Invites.Retention = "720h"
	c.Invites.UserInvitesPerDay = 10
	c.Invites.PasswordMinLength = 8
	c.Invites.MUCDomains = []string{}
	c.Invites.MaxCircleSize = 100
	c.Invites.AccountTimeout = invites.DefaultAccountTimeout.String()
	c.Invites.CheckTimeout = invites.DefaultCheckTimeout.String()
	c.Invites.ReservationLease = invites.DefaultLease.String()
	c.Invites.ResolveInterval = invites.DefaultResolveEvery.String()
	c.Invites.MaxInviteTree = 1000
	c.Invites.MinAccountAge = "24h"
	c.RegistrationWatchers = []string{}
	return c
}

// Config is the validated configuration.
type Config struct {
	Domain    string
	PublicURL string
	SiteName  string
	// Database is the SQLite file or the PostgreSQL URL, with the password
	// of database_password_file in it: print keystore.Redact(Database).
	Database             string
	DatabasePasswordFile string
	Admins               []string

	// DefaultLanguage is the pages' and in-band answers' language when the
	// visitor's is not among Catalog's; Catalog holds every language.
	DefaultLanguage string
	Catalog         *i18n.Catalog

	// Branding is [branding], checked; LogoFile and TemplatesDir are read
	// when the server starts.
	Branding     httpapi.Branding
	LogoFile     string
	TemplatesDir string
	LogLevel     string
	LogFormat    string

	// ReservedUsernames are the configured reserved names, prepared
	// (PRECIS); the built-in ones are added by the invites package.
	ReservedUsernames []string

	// RegistrationWatchers are bare JIDs told of each account made through
	// an invite.
	RegistrationWatchers []string

	ComponentJID    string
	ComponentServer string
	ComponentSecret string // empty: component disabled
	PingInterval    time.Duration
	// ComponentSecretFile is where ComponentSecret was read from, if
	// anywhere: serve and check warn when others can read it.
	ComponentSecretFile string

	Listen          string
	AdminListen     string // empty: no admin listener
	CORSOrigins     []string
	MaxAuthFailures int
	TrustedProxies  []netip.Prefix
	MaxConns        int // 0: derived from the file-descriptor limit (connLimits)
	MaxConnsPerAddr int // 0: derived from MaxConns

	DefaultTTL        time.Duration
	MaxTTL            time.Duration
	ResetTTL          time.Duration
	Retention         time.Duration
	AllowUserInvites  bool
	UserInvitesPerDay int
	PasswordMinLength int
	Timing            invites.RedeemTiming
	Clients           []httpapi.Client

	AllowNeverExpiring bool // admins and manage keys may create invites that never expire
	// MaxInviteTree (0: no limit) and MinAccountAge (0: off) are the
	// invite-chain limits (docs/chains.md).
	MaxInviteTree int
	MinAccountAge time.Duration

	MUCDomains    []string // where invites' rooms may be; empty: rooms are off
	MaxCircleSize int
}

// configError names the option that is wrong; it exits with status 2.
type configError struct {
	option string
	msg    string
}

func (e *configError) Error() string {
	if e.option == "" {
		return "config: " + e.msg
	}
	return "config: option " + e.option + ": " + e.msg
}

func optErr(option, format string, args ...any) error {
	return &configError{option: option, msg: fmt.Sprintf(format, args...)}
}

// overrides are the global flags, highest precedence; empty means unset.
type overrides struct {
	Database string
	Listen   string
	LogLevel string
	// AdminListen: nil is unset, since "" turns the admin listener off.
	AdminListen *string
}

const envPrefix = "XMPP_INVITES_"

// loadConfig reads path (may be empty: defaults only), applies the
// environment and flags, and validates the result. With [[domains]] tables
// it returns the first domain's Config (loadConfigs returns them all).
func loadConfig(path string, env func(string) (string, bool), flags overrides) (Config, error) {
	cfgs, err := loadConfigs(path, env, flags)
	if err != nil {
		return Config{}, err
	}
	return cfgs[0], nil
}

// loadConfigs reads path (may be empty: defaults only) and returns one
// validated Config per domain: the top-level domain with the environment
// and flags applied, or each [[domains]] table (domains.go), in the order
// of the file.
func loadConfigs(path string, env func(string) (string, bool), flags overrides) ([]Config, error) {
	fc := defaultFileConfig()
	raw := map[string]any{}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, &configError{msg: fmt.Sprintf("read %s: %v", path, errors.Unwrap(err))}
		}
		md, err := toml.Decode(string(data), &fc)
		if err != nil {
			return nil, tomlError(path, err)
		}
		for _, k := range md.Undecoded() {
			// [[domains]] tables are checked one by one (domains.go).
			if k[0] != "domains" {
				return nil, optErr(k.String(), "unknown option in %s", path)
			}
		}
		if _, err := toml.Decode(string(data), &raw); err != nil {
			return nil, tomlError(path, err)
		}
		delete(raw, "domains")
	}
	if len(fc.Domains) == 0 {
		if err := applyEnv(reflect.ValueOf(&fc).Elem(), "", env); err != nil {
			return nil, err
		}
	}
	if flags.Database != "" {
		fc.Database = flags.Database
	}
	if flags.Listen != "" {
		fc.HTTP.Listen = flags.Listen
	}
	if flags.LogLevel != "" {
		fc.LogLevel = flags.LogLevel
	}
	if flags.AdminListen != nil {
		fc.HTTP.AdminListen = *flags.AdminListen
	}
	if len(fc.Domains) > 0 {
		return domainConfigs(path, fc, raw, env)
	}
	if err := useSecretCredential(&fc, env); err != nil {
		return nil, err
	}
	c, err := fc.validate()
	if err != nil {
		return nil, err
	}
	if err := validateParts(c); err != nil {
		return nil, err
	}
	return []Config{c}, nil
}

// validateParts applies the parts' own rules, exactly as serve will apply
// them: check and serve refuse the same configs, before anything starts.
func validateParts(c Config) error {
	if err := httpConfig(c).Validate(); err != nil {
		return &configError{msg: err.Error()}
	}
	if c.ComponentSecret != "" {
		if err := componentConfig(c).Validate(); err != nil {
			return &configError{msg: err.Error()}
		}
	}
	return nil
}

// tomlError turns a decode error into one that names the option when the
// TOML library knows it.
func tomlError(path string, err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		msg := strings.TrimPrefix(pe.Message, "toml: ")
		if pe.LastKey != "" {
			return optErr(pe.LastKey, "%s (%s line %d)", msg, path, pe.Position.Line)
		}
		return &configError{msg: fmt.Sprintf("%s line %d: %s", path, pe.Position.Line, msg)}
	}
	if m := lastKeyRE.FindStringSubmatch(err.Error()); m != nil {
		msg := err.Error()
		if i := strings.LastIndex(msg, "): "); i >= 0 {
			msg = msg[i+3:]
		}
		return optErr(m[1], "%s (%s)", msg, path)
	}
	return &configError{msg: fmt.Sprintf("%s: %v", path, err)}
}

// lastKeyRE finds the option in the TOML library's type errors.
var lastKeyRE = regexp.MustCompile(`\(last key "([^"]+)"\)`)

// applyEnv sets fields from XMPP_INVITES_<SECTION>_<KEY> variables.
func applyEnv(v reflect.Value, section string, env func(string) (string, bool)) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Tag.Get("env") == "-" {
			continue
		}
		key := f.Tag.Get("toml")
		name := key
		if section != "" {
			name = section + "." + key
		}
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct {
			if err := applyEnv(fv, name, env); err != nil {
				return err
			}
			continue
		}
		envName := envPrefix + strings.ToUpper(strings.ReplaceAll(name, ".", "_"))
		raw, ok := env(envName)
		if !ok {
			continue
		}
		switch f.Type.Kind() {
		case reflect.String:
			fv.SetString(raw)
		case reflect.Int:
			n, err := strconv.Atoi(strings.TrimSpace(raw))
			if err != nil {
				return optErr(name, "%s=%q is not an integer", envName, raw)
			}
			fv.SetInt(int64(n))
		case reflect.Bool:
			b, err := strconv.ParseBool(strings.TrimSpace(raw))
			if err != nil {
				return optErr(name, "%s=%q is not true or false", envName, raw)
			}
			fv.SetBool(b)
		case reflect.Slice:
			list := []string{}
			for _, p := range strings.Split(raw, ",") {
				if p = strings.TrimSpace(p); p != "" {
					list = append(list, p)
				}
			}
			fv.Set(reflect.ValueOf(list))
		}
	}
	return nil
}

func parseDuration(option, v string, allowZero bool) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, optErr(option, "%q is not a duration (examples: 90s, 24h)", v)
	}
	if d < 0 || (d == 0 && !allowZero) {
		return 0, optErr(option, "must be positive, got %q", v)
	}
	return d, nil
}

func (fc fileConfig) validate() (Config, error) {
	c := Config{
		Domain: strings.TrimSpace(fc.Domain), SiteName: fc.SiteName, Database: fc.Database,
		LogLevel: fc.LogLevel, LogFormat: fc.LogFormat,
		ComponentJID: fc.Component.JID, ComponentServer: fc.Component.Server,
		Listen: fc.HTTP.Listen, AdminListen: fc.HTTP.AdminListen, CORSOrigins: fc.HTTP.CORSOrigins, MaxAuthFailures: fc.HTTP.MaxAuthFailures,
		MaxConns: fc.HTTP.MaxConns, MaxConnsPerAddr: fc.HTTP.MaxConnsPerAddr,
		AllowUserInvites: fc.Invites.AllowUserInvites, UserInvitesPerDay: fc.Invites.UserInvitesPerDay,
		PasswordMinLength: fc.Invites.PasswordMinLength, Clients: fc.Invites.Clients,
		MaxCircleSize: fc.Invites.MaxCircleSize,
	}
	c.AllowNeverExpiring = fc.Invites.AllowNeverExpiring
	if c.Domain == "" {
		return Config{}, optErr("domain", "is required")
	}
	if d, err := jid.Parse(c.Domain); err != nil || d.Localpart() != "" || d.Resourcepart() != "" || d.String() != c.Domain {
		return Config{}, optErr("domain", "%q is not a valid XMPP domain", c.Domain)
	}
	if fc.PublicURL == "" {
		return Config{}, optErr("public_url", "is required")
	}
	u, err := url.Parse(fc.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return Config{}, optErr("public_url", "%q must be an http or https URL without query or fragment", fc.PublicURL)
	}
	// Every route lives under public_url's path, the probes at the root.
	if p := strings.TrimRight(u.Path, "/"); p != "" && (path.Clean(p) != p || p == "/healthz" || p == "/readyz") {
		return Config{}, optErr("public_url", "%q: its path must have no //, . or .. segments and must not be /healthz or /readyz, where the probes answer", fc.PublicURL)
	}
	c.PublicURL = strings.TrimRight(fc.PublicURL, "/")
	if c.SiteName == "" {
		c.SiteName = c.Domain
	}
	c.DefaultLanguage = strings.TrimSpace(fc.DefaultLanguage)
	if c.DefaultLanguage == "" {
		c.DefaultLanguage = i18n.Source
	}
	cat, err := i18n.New(c.DefaultLanguage)
	if err != nil {
		all, _ := i18n.New("")
		return Config{}, optErr("default_language", "%q is not one of the languages: %s", c.DefaultLanguage, strings.Join(all.Tags(), ", "))
	}
	c.Catalog = cat
	if c.Database == "" {
		return Config{}, optErr("database", "must not be empty")
	}
	if c.Database, err = databaseURL(c.Database, fc.DatabasePasswordFile); err != nil {
		return Config{}, err
	}
	c.DatabasePasswordFile = fc.DatabasePasswordFile
	for _, a := range fc.Admins {
		j, err := jid.Parse(a)
		if err != nil || j.Localpart() == "" || j.Resourcepart() != "" {
			return Config{}, optErr("admins", "%q is not a bare JID such as admin@%s", a, c.Domain)
		}
		c.Admins = append(c.Admins, j.String())
	}
	for _, name := range fc.ReservedUsernames {
		u, err := invites.PrepareUsername(name)
		if err != nil {
			return Config{}, optErr("reserved_usernames", "%q is not a valid username: %v", name, err)
		}
		c.ReservedUsernames = append(c.ReservedUsernames, u)
	}
	for _, w := range fc.RegistrationWatchers {
		j, err := jid.Parse(w)
		if err != nil || j.Localpart() == "" || j.Resourcepart() != "" {
			return Config{}, optErr("registration_watchers", "%q is not a bare JID such as admin@%s", w, c.Domain)
		}
		c.RegistrationWatchers = append(c.RegistrationWatchers, j.String())
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return Config{}, optErr("log_level", "%q must be debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return Config{}, optErr("log_format", "%q must be text or json", c.LogFormat)
	}

	secret := fc.Component.Secret
	if fc.Component.SecretFile != "" {
		if secret != "" {
			return Config{}, optErr("component.secret_file", "set either component.secret or component.secret_file, not both")
		}
		data, err := os.ReadFile(fc.Component.SecretFile)
		if err != nil {
			return Config{}, optErr("component.secret_file", "%v", err)
		}
		secret = strings.TrimRight(string(data), "\r\n")
		if secret == "" {
			return Config{}, optErr("component.secret_file", "%s is empty", fc.Component.SecretFile)
		}
	}
	c.ComponentSecret = secret
	c.ComponentSecretFile = fc.Component.SecretFile
	if secret != "" {
		if c.ComponentJID == "" {
			return Config{}, optErr("component.jid", "is required when a component secret is set")
		}
		j, err := jid.Parse(c.ComponentJID)
		if err != nil || j.Localpart() != "" || j.Resourcepart() != "" {
			return Config{}, optErr("component.jid", "%q is not a domain JID such as invites.%s", c.ComponentJID, c.Domain)
		}
		if _, _, err := net.SplitHostPort(c.ComponentServer); err != nil {
			return Config{}, optErr("component.server", "%q is not host:port", c.ComponentServer)
		}
	}
	if c.PingInterval, err = parseDuration("component.ping_interval", fc.Component.PingInterval, false); err != nil {
		return Config{}, err
	}

	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return Config{}, optErr("http.listen", "%q is not host:port", c.Listen)
	}
	if c.AdminListen != "" {
		_, port, err := net.SplitHostPort(c.AdminListen)
		if err != nil {
			return Config{}, optErr("http.admin_listen", "%q is not host:port (\"\" turns the admin listener off)", c.AdminListen)
		}
		if c.AdminListen == c.Listen && port != "0" {
			return Config{}, optErr("http.admin_listen", "%q is http.listen too: the admin listener needs its own port", c.AdminListen)
		}
	}
	for _, o := range c.CORSOrigins {
		if o == "*" {
			continue
		}
		ou, err := url.Parse(o)
		if err != nil || ou.Scheme == "" || ou.Host == "" || ou.Path != "" {
			return Config{}, optErr("http.cors_origins", "%q is not * or an origin such as https://app.example.com", o)
		}
	}
	if c.MaxAuthFailures < 0 {
		return Config{}, optErr("http.max_auth_failures", "must not be negative")
	}
	for _, p := range fc.HTTP.TrustedProxies {
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			addr, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return Config{}, optErr("http.trusted_proxies", "%q is not an IP address or CIDR prefix", p)
			}
			pfx = netip.PrefixFrom(addr, addr.BitLen())
		}
		c.TrustedProxies = append(c.TrustedProxies, pfx.Masked())
	}
	if c.MaxConns < 0 {
		return Config{}, optErr("http.max_connections", "must not be negative (0: derived from the file-descriptor limit)")
	}
	if c.MaxConnsPerAddr < 0 {
		return Config{}, optErr("http.max_connections_per_client", "must not be negative (0: derived from http.max_connections)")
	}
	if c.MaxConns > 0 && c.MaxConnsPerAddr > c.MaxConns {
		return Config{}, optErr("http.max_connections_per_client", "%d exceeds http.max_connections %d", c.MaxConnsPerAddr, c.MaxConns)
	}

	if c.DefaultTTL, err = parseDuration("invites.default_ttl", fc.Invites.DefaultTTL, false); err != nil {
		return Config{}, err
	}
	if c.MaxTTL, err = parseDuration("invites.max_ttl", fc.Invites.MaxTTL, false); err != nil {
		return Config{}, err
	}
	if c.ResetTTL, err = parseDuration("invites.reset_ttl", fc.Invites.ResetTTL, false); err != nil {
		return Config{}, err
	}
	if c.Retention, err = parseDuration("invites.retention", fc.Invites.Retention, false); err != nil {
		return Config{}, err
	}
	for _, d := range []struct {
		option string
		v      string
		dst    *time.Duration
		max    time.Duration
	}{
		{"invites.account_timeout", fc.Invites.AccountTimeout, &c.Timing.AccountTimeout, time.Minute},
		{"invites.check_timeout", fc.Invites.CheckTimeout, &c.Timing.CheckTimeout, time.Minute},
		{"invites.reservation_lease", fc.Invites.ReservationLease, &c.Timing.Lease, time.Hour},
		{"invites.resolve_interval", fc.Invites.ResolveInterval, &c.Timing.ResolveEvery, time.Hour},
	} {
		if *d.dst, err = parseDuration(d.option, d.v, false); err != nil {
			return Config{}, err
		}
		if *d.dst > d.max {
			return Config{}, optErr(d.option, "must be at most %s", d.max)
		}
	}
	if c.Timing.Lease < c.Timing.Budget() {
		return Config{}, optErr("invites.reservation_lease", "%s is shorter than a registration may take (%s: check_timeout twice plus account_timeout)",
			c.Timing.Lease, c.Timing.Budget())
	}
	if c.DefaultTTL > c.MaxTTL {
		return Config{}, optErr("invites.default_ttl", "%s exceeds invites.max_ttl %s", c.DefaultTTL, c.MaxTTL)
	}
	if c.ResetTTL > c.MaxTTL {
		return Config{}, optErr("invites.reset_ttl", "%s exceeds invites.max_ttl %s", c.ResetTTL, c.MaxTTL)
	}
	if c.UserInvitesPerDay < 0 {
		return Config{}, optErr("invites.user_invites_per_day", "must not be negative")
	}
	if c.PasswordMinLength < 1 || c.PasswordMinLength > 1024 {
		return Config{}, optErr("invites.password_min_length", "must be between 1 and 1024")
	}
	if c.MaxInviteTree = fc.Invites.MaxInviteTree; c.MaxInviteTree < 0 {
		return Config{}, optErr("invites.max_invite_tree", "must not be negative (0: no limit)")
	}
	if c.MinAccountAge, err = parseDuration("invites.min_account_age", fc.Invites.MinAccountAge, true); err != nil {
		return Config{}, err
	}
	for _, d := range fc.Invites.MUCDomains {
		j, err := jid.Parse(strings.TrimSpace(d))
		if err != nil || d == "" || j.Localpart() != "" || j.Resourcepart() != "" {
			return Config{}, optErr("invites.muc_domains", "%q is not a domain such as conference.%s", d, c.Domain)
		}
		c.MUCDomains = append(c.MUCDomains, j.String())
	}
	if c.MaxCircleSize < 1 || c.MaxCircleSize > 10000 {
		return Config{}, optErr("invites.max_circle_size", "must be between 1 and 10000")
	}
	if err := fc.validateBranding(&c); err != nil {
		return Config{}, err
	}
	for i, cl := range c.Clients {
		if cl.Name == "" || len(cl.Platforms) == 0 {
			return Config{}, optErr(fmt.Sprintf("invites.clients[%d]", i), "needs a name and at least one platform")
		}
		for _, d := range cl.Downloads {
			du, err := url.Parse(d.URL)
			if err != nil || (du.Scheme != "https" && du.Scheme != "http") || d.Label == "" {
				return Config{}, optErr(fmt.Sprintf("invites.clients[%d].downloads", i), "each needs a label and an http(s) url")
			}
		}
	}
	return c, nil
}

// maxNotice bounds [branding] notice: a line or two on every page.
const maxNotice = 1000

var accentPattern = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// validateBranding checks [branding]: the colour, the links, the notice,
// and that the logo and the templates directory exist (they are read at
// start, by serve).
func (fc fileConfig) validateBranding(c *Config) error {
	b := fc.Branding
	if b.AccentColor != "" && !accentPattern.MatchString(b.AccentColor) {
		return optErr("branding.accent_color", "%q is not a colour written #rrggbb", b.AccentColor)
	}
	c.Branding.AccentColor = strings.ToLower(b.AccentColor)
	for _, l := range []struct {
		option string
		v      string
		dst    *string
	}{
		{"branding.imprint_url", b.ImprintURL, &c.Branding.ImprintURL},
		{"branding.privacy_url", b.PrivacyURL, &c.Branding.PrivacyURL},
		{"branding.terms_url", b.TermsURL, &c.Branding.TermsURL},
	} {
		if l.v == "" {
			continue
		}
		u, err := url.Parse(l.v)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			return optErr(l.option, "%q is not an http(s) URL", l.v)
		}
		*l.dst = l.v
	}
	notice := strings.TrimSpace(b.Notice)
	if len(notice) > maxNotice {
		return optErr("branding.notice", "is %d bytes; at most %d", len(notice), maxNotice)
	}
	for _, r := range notice {
		if r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)) {
			return optErr("branding.notice", "contains a control character (U+%04X); plain text and line breaks only", r)
		}
	}
	c.Branding.Notice = notice
	if b.Logo != "" {
		if _, ok := httpapi.LogoType(b.Logo); !ok {
			return optErr("branding.logo", "%q: use a .png, .jpg, .webp or .svg file", b.Logo)
		}
		c.LogoFile = b.Logo
	}
	c.TemplatesDir = b.TemplatesDir
	return nil
}

// databaseURL checks a postgres:// database and puts the password of
// passwordFile into it (as its password parameter). Without one, libpq's
// PGPASSFILE (default ~/.pgpass) applies, read by pgx when connecting.
func databaseURL(database, passwordFile string) (string, error) {
	if !keystore.IsPostgres(database) {
		if passwordFile != "" {
			return "", optErr("database_password_file", "is only for a postgres:// database")
		}
		return database, nil
	}
	u, err := url.Parse(database)
	if err != nil || u.Host == "" && u.Query().Get("host") == "" {
		return "", optErr("database", "%s is not a postgres://USER@HOST:PORT/DBNAME URL", keystore.Redact(database))
	}
	if passwordFile == "" {
		return database, nil
	}
	if _, ok := u.User.Password(); ok || u.Query().Has("password") {
		return "", optErr("database_password_file", "the database URL has a password already: set one or the other")
	}
	data, err := os.ReadFile(passwordFile)
	if err != nil {
		return "", optErr("database_password_file", "%v", err)
	}
	pw := strings.TrimRight(string(data), "\r\n")
	if pw == "" || strings.ContainsAny(pw, "\r\n") {
		return "", optErr("database_password_file", "%s must hold one line, the password", passwordFile)
	}
	q := u.Query()
	q.Set("password", pw)
	u.RawQuery = q.Encode()
	return u.String(), nil
}
