package main

import (
	"io/fs"
	"os"

	"xmpp-invites/keystore"
)

// looseFile is a file holding secrets that users other than its owner may
// access: the component secret file, or the database with its -wal and
// -shm files (API key and token hashes, who registered). It is reported,
// not changed: the operator may have reasons, such as a group that backs
// the database up.
type looseFile struct {
	option string // the config option that names it
	path   string
	mode   fs.FileMode
}

// looseFiles returns the files of cfg that group or others may read or
// write. Files that do not exist (yet) are skipped.
func looseFiles(cfg Config) []looseFile {
	var loose []looseFile
	check := func(option, path string) {
		fi, err := os.Stat(path)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 == 0 {
			return
		}
		loose = append(loose, looseFile{option: option, path: path, mode: fi.Mode().Perm()})
	}
	if cfg.ComponentSecretFile != "" {
		check("component.secret_file", cfg.ComponentSecretFile)
	}
	if cfg.DatabasePasswordFile != "" {
		check("database_password_file", cfg.DatabasePasswordFile)
	}
	if !keystore.IsPostgres(cfg.Database) {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			check("database", cfg.Database+suffix)
		}
	}
	return loose
}
