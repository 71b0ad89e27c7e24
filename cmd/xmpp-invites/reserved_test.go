package main

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestReservedUsernamesConfig(t *testing.T) {
	dir := t.TempDir()
	base := `domain = "example.com"
public_url = "https://chat.example.com/join"
database = "` + filepath.Join(dir, "db.sqlite") + `"
`
	t.Run("bad entry", func(t *testing.T) {
		for _, entry := range []string{"a b", "", "x@y", strings.Repeat("x", 65)} {
			e := &cliEnv{t: t, config: writeFile(t, "c.toml", base+`reserved_usernames = ["billing", "`+entry+`"]`+"\n"), env: map[string]string{}}
			_, errs, code := e.run("check")
			if code != 2 || !strings.Contains(errs, "option reserved_usernames:") || !strings.Contains(errs, "not a valid username") {
				t.Errorf("reserved_usernames entry %q: exit %d, stderr %q; want exit 2 naming reserved_usernames and saying why", entry, code, errs)
			}
		}
	})
	t.Run("entries and the component label refused", func(t *testing.T) {
		e := &cliEnv{t: t, config: writeFile(t, "c.toml", base+`reserved_usernames = ["Billing"]
[component]
jid = "invites.example.com"
`), env: map[string]string{}}
		for _, name := range []string{"billing", "BILLING", "invites", "admin", "Ａｄｍｉｎ"} {
			out, errs, code := e.run("invite", "create", "--username", name, "example.com")
			if code != 2 || !strings.Contains(errs, "reserved") || out != "" {
				t.Errorf("invite create --username %s: exit %d, stdout %q, stderr %q; want exit 2 saying it is reserved", name, code, out, errs)
			}
		}
		e.ok("invite", "create", "--username", "alice", "example.com")
	})
	t.Run("from the environment", func(t *testing.T) {
		e := &cliEnv{t: t, config: writeFile(t, "c.toml", base), env: map[string]string{"XMPP_INVITES_RESERVED_USERNAMES": "billing, sales"}}
		if _, errs, code := e.run("invite", "create", "--username", "sales", "example.com"); code != 2 || !strings.Contains(errs, "reserved") {
			t.Errorf("reserved through XMPP_INVITES_RESERVED_USERNAMES: exit %d, stderr %q", code, errs)
		}
	})
}
