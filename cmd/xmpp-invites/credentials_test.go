package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestSecretCredential checks where the component secret comes from when
// systemd passes the component-secret credential: the credential fills in
// only when the config names no secret, and a blank one (the packaged unit's
// fallback) leaves the component disabled.
func TestSecretCredential(t *testing.T) {
	credDir := func(t *testing.T, content string) string {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "component-secret"), []byte(content), 0o400); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	const base = minimalConfig + "[component]\njid = \"invites.example.com\"\n"
	fileSecret := writeFile(t, "secret", "from-secret-file\n")

	for _, tc := range []struct {
		name       string
		config     string
		env        map[string]string
		cred       *string // content of component-secret; nil: no CREDENTIALS_DIRECTORY
		wantSecret string
		wantFile   bool // ComponentSecretFile is the credential
	}{
		{name: "credential", config: base, cred: ptr("from-credential\n"), wantSecret: "from-credential", wantFile: true},
		{name: "credential without newline", config: base, cred: ptr("from-credential"), wantSecret: "from-credential", wantFile: true},
		{name: "config secret wins", config: base + "secret = \"from-config\"\n", cred: ptr("from-credential\n"), wantSecret: "from-config"},
		{name: "config secret_file wins", config: base + "secret_file = \"" + fileSecret + "\"\n", cred: ptr("from-credential\n"), wantSecret: "from-secret-file"},
		{name: "environment wins", config: base, env: map[string]string{"XMPP_INVITES_COMPONENT_SECRET": "from-env"}, cred: ptr("from-credential\n"), wantSecret: "from-env"},
		{name: "blank credential: disabled", config: base, cred: ptr("\n")},
		{name: "empty credential: disabled", config: base, cred: ptr("")},
		{name: "no credentials directory: disabled", config: base},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range tc.env {
				env[k] = v
			}
			var credPath string
			if tc.cred != nil {
				dir := credDir(t, *tc.cred)
				env["CREDENTIALS_DIRECTORY"] = dir
				credPath = filepath.Join(dir, "component-secret")
			}
			cfg, err := loadConfig(writeFile(t, "c.toml", tc.config), mapEnv(env), overrides{})
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			if cfg.ComponentSecret != tc.wantSecret {
				t.Errorf("component secret = %q, want %q", cfg.ComponentSecret, tc.wantSecret)
			}
			if isCred := credPath != "" && cfg.ComponentSecretFile == credPath; isCred != tc.wantFile {
				t.Errorf("ComponentSecretFile = %q; credential %q expected: %v", cfg.ComponentSecretFile, credPath, tc.wantFile)
			}
		})
	}

	t.Run("credentials directory without the credential: disabled", func(t *testing.T) {
		cfg, err := loadConfig(writeFile(t, "c.toml", base), mapEnv(map[string]string{"CREDENTIALS_DIRECTORY": t.TempDir()}), overrides{})
		if err != nil || cfg.ComponentSecret != "" {
			t.Fatalf("loadConfig = secret %q, err %v; want disabled, no error", cfg.ComponentSecret, err)
		}
	})

	t.Run("unreadable credential: config error", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, "component-secret"), 0o700); err != nil {
			t.Fatal(err)
		}
		_, err := loadConfig(writeFile(t, "c.toml", base), mapEnv(map[string]string{"CREDENTIALS_DIRECTORY": dir}), overrides{})
		var ce *configError
		if !errors.As(err, &ce) {
			t.Fatalf("loadConfig error = %v, want a config error (exit 2)", err)
		}
	})
}

func ptr(s string) *string { return &s }
