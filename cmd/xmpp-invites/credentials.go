package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// secretCredential is the name of the systemd credential that carries the
// component secret: the packaged unit loads /etc/xmpp-invites/secret with
// LoadCredential=component-secret:/etc/xmpp-invites/secret, and systemd
// hands it over as $CREDENTIALS_DIRECTORY/component-secret, readable by the
// service's user only.
const secretCredential = "component-secret"

// useSecretCredential points component.secret_file at the component-secret
// credential when the config names no secret of its own (component.secret
// and component.secret_file both empty after file, environment and flags)
// and the process runs with $CREDENTIALS_DIRECTORY. A missing credential,
// or one that is empty or holds only a line break (the unit's fallback when
// /etc/xmpp-invites/secret does not exist), leaves the component disabled.
func useSecretCredential(fc *fileConfig, env func(string) (string, bool)) error {
	if fc.Component.Secret != "" || fc.Component.SecretFile != "" {
		return nil
	}
	dir, ok := env("CREDENTIALS_DIRECTORY")
	if !ok || dir == "" {
		return nil
	}
	path := filepath.Join(dir, secretCredential)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return &configError{msg: fmt.Sprintf("credential %s: %v", secretCredential, err)}
	}
	if strings.TrimRight(string(data), "\r\n") == "" {
		return nil
	}
	fc.Component.SecretFile = path
	return nil
}
