package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadConfig: any file content either loads into a config that passed
// validation or is refused with a configError; nothing panics.
func FuzzLoadConfig(f *testing.F) {
	example, err := os.ReadFile("../../configs/xmpp-invites.toml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(example))
	f.Add(minimalConfig)
	f.Add(minimalConfig + "[invites]\nmax_ttl = \"-1h\"\n")
	f.Add(minimalConfig + "[[invites.clients]]\nname = \"x\"\nplatforms = [\"Linux\"]\n")
	f.Add("domain = [1,2]\n")
	f.Add("[http]\nlisten = 5\n")
	f.Fuzz(func(t *testing.T, content string) {
		p := filepath.Join(t.TempDir(), "c.toml")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := loadConfig(p, mapEnv(nil), overrides{})
		if err != nil {
			var ce *configError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T) is not a configError", err, err)
			}
			return
		}
		if cfg.Domain == "" || cfg.PublicURL == "" || cfg.MaxTTL <= 0 || cfg.DefaultTTL > cfg.MaxTTL {
			t.Fatalf("accepted an invalid config: %+v", cfg)
		}
	})
}
