package main

import (
	"bytes"
	"fmt"
	"maps"
	"net/url"
	"reflect"
	"strings"

	"github.com/BurntSushi/toml"

	"xmpp-invites/httpapi"
)

// Many domains (SPEC §6, docs/domains.md): a config file either names one
// top-level domain, or holds [[domains]] tables. Each table starts from the
// top level (defaults, then the file's top-level keys and sections) and
// overrides key by key; database, log_* and [http] are shared and may not
// appear in a table. The result is one validated Config per domain, equal in
// everything shared.

// sharedKeys may not appear in a [[domains]] table: one process has one
// database, one log and one listener.
var sharedKeys = []string{"database", "database_password_file", "log_level", "log_format", "http", "domains"}

// domainConfigs builds the Config of every [[domains]] table of fc (decoded
// from path, flags applied to its shared keys). raw is the top level as
// decoded, without the tables.
func domainConfigs(path string, fc fileConfig, raw map[string]any, env func(string) (string, bool)) ([]Config, error) {
	if _, ok := raw["domain"]; ok {
		return nil, optErr("domain", "a top-level domain and [[domains]] tables do not mix: move it into a [[domains]] table, or drop the tables for one domain (%s)", path)
	}
	if name := setEnvOption(env); name != "" {
		return nil, &configError{msg: fmt.Sprintf("environment variable %s: environment variables apply to configs with one top-level domain only; with [[domains]], set it in %s", name, path)}
	}
	var cfgs []Config
	for i, table := range fc.Domains {
		where := fmt.Sprintf("[[domains]] table %d of %s", i+1, path)
		if d, ok := table["domain"].(string); ok && d != "" {
			where = fmt.Sprintf("[[domains]] table of %s in %s", d, path)
		}
		for _, k := range sharedKeys {
			if _, ok := table[k]; ok {
				return nil, optErr("domains."+k, "is shared by every domain: set it at the top level, not in the %s", where)
			}
		}
		for _, k := range []string{"domain", "public_url"} {
			if _, ok := table[k]; !ok {
				return nil, optErr("domains."+k, "is required in every [[domains]] table (missing in the %s)", where)
			}
		}
		dfc, err := decodeDomain(mergeDomain(raw, table), fc, where)
		if err != nil {
			return nil, inTable(err, where)
		}
		c, err := dfc.validate()
		if err != nil {
			return nil, inTable(err, where)
		}
		if err := validateParts(c); err != nil {
			return nil, fmt.Errorf("%w (in the %s)", err, where)
		}
		cfgs = append(cfgs, c)
	}
	if err := checkDomains(cfgs); err != nil {
		return nil, err
	}
	return cfgs, nil
}

// inTable names the [[domains]] table in a configError: the option becomes
// domains.OPTION.
func inTable(err error, where string) error {
	ce, ok := err.(*configError)
	if !ok {
		return err
	}
	if ce.option == "" {
		return &configError{msg: ce.msg + " (in the " + where + ")"}
	}
	return optErr("domains."+ce.option, "%s (in the %s)", ce.msg, where)
}

// mergeDomain returns the top level with table's keys over it. A section
// present in both is merged key by key; any other value (a list too) is
// replaced whole. A table's component secret or secret_file replaces both
// of the top level's, so that one may not meet the other.
func mergeDomain(top, table map[string]any) map[string]any {
	out := maps.Clone(top)
	for k, v := range table {
		sec, isSec := v.(map[string]any)
		base, baseSec := out[k].(map[string]any)
		if !isSec || !baseSec {
			out[k] = v
			continue
		}
		merged := maps.Clone(base)
		if k == "component" {
			if _, ok := sec["secret"]; ok {
				delete(merged, "secret_file")
			}
			if _, ok := sec["secret_file"]; ok {
				delete(merged, "secret")
			}
		}
		maps.Copy(merged, sec)
		out[k] = merged
	}
	return out
}

// decodeDomain decodes a merged table onto the defaults, then puts back the
// shared values of top (which flags may have changed).
func decodeDomain(merged map[string]any, top fileConfig, where string) (fileConfig, error) {
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(merged); err != nil {
		return fileConfig{}, &configError{msg: fmt.Sprintf("%s: %v", where, err)}
	}
	dfc := defaultFileConfig()
	md, err := toml.Decode(buf.String(), &dfc)
	if err != nil {
		if m := lastKeyRE.FindStringSubmatch(err.Error()); m != nil {
			msg := err.Error()
			if i := strings.LastIndex(msg, "): "); i >= 0 {
				msg = msg[i+3:]
			}
			return fileConfig{}, optErr(m[1], "%s", msg)
		}
		return fileConfig{}, &configError{msg: fmt.Sprintf("%s: %v", where, err)}
	}
	if und := md.Undecoded(); len(und) > 0 {
		return fileConfig{}, optErr(und[0].String(), "unknown option")
	}
	dfc.Database, dfc.LogLevel, dfc.LogFormat, dfc.HTTP = top.Database, top.LogLevel, top.LogFormat, top.HTTP
	dfc.DatabasePasswordFile = top.DatabasePasswordFile
	dfc.Domains = nil
	return dfc, nil
}

// setEnvOption returns the name of an XMPP_INVITES_ option variable that is
// set, or "".
func setEnvOption(env func(string) (string, bool)) string {
	var found string
	var scratch fileConfig
	_ = applyEnv(reflect.ValueOf(&scratch).Elem(), "", func(name string) (string, bool) {
		v, ok := env(name)
		if ok && found == "" {
			found = name
		}
		return v, ok
	})
	return found
}

// checkDomains applies the rules between domains: each domain once; one
// component JID, one link (server and secret alike); on one host, no two
// public_url paths equal or one inside the other; no path that starts
// with a route.
func checkDomains(cfgs []Config) error {
	seen := map[string]bool{}
	links := map[string]Config{}
	type site struct{ domain, prefix string }
	hosts := map[string][]site{}
	for _, c := range cfgs {
		if seen[c.Domain] {
			return optErr("domains.domain", "%s appears in two [[domains]] tables", c.Domain)
		}
		seen[c.Domain] = true
		if c.ComponentSecret != "" {
			if o, ok := links[c.ComponentJID]; ok && (o.ComponentServer != c.ComponentServer || o.ComponentSecret != c.ComponentSecret || o.PingInterval != c.PingInterval) {
				return optErr("domains.component", "%s and %s use the component %s with different server, secret or ping_interval: one JID is one link, so its tables must be identical",
					o.Domain, c.Domain, c.ComponentJID)
			}
			links[c.ComponentJID] = c
		}
		u, err := url.Parse(c.PublicURL)
		if err != nil { // validated before; kept for safety
			return optErr("domains.public_url", "%q: %v", c.PublicURL, err)
		}
		prefix := strings.TrimRight(u.Path, "/")
		if prefix != "" && httpapi.IsRoutePrefix(prefix) {
			return optErr("domains.public_url", "%s (%s): the path %s starts like a route of the service; choose another path", c.Domain, c.PublicURL, prefix)
		}
		host := httpapi.HostKey(u.Host)
		for _, o := range hosts[host] {
			if overlaps(o.prefix, prefix) {
				return optErr("domains.public_url", "%s and %s share the host %s with the paths %q and %q, one inside the other: give each its own path (or host)",
					o.domain, c.Domain, u.Host, o.prefix+"/", prefix+"/")
			}
		}
		hosts[host] = append(hosts[host], site{c.Domain, prefix})
	}
	return nil
}

// overlaps reports whether two public_url paths are equal or one lies
// below the other ("" is the root, which holds every path).
func overlaps(a, b string) bool {
	return a == b || a == "" || b == "" || strings.HasPrefix(a, b+"/") || strings.HasPrefix(b, a+"/")
}
