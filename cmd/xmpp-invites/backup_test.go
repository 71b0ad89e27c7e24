package main

import (
	"database/sql"

	_ "github.com/mattn/go-sqlite3"
)

// vacuumInto is the README's second backup recipe, from a separate client.
func vacuumInto(src, dst string) error {
	db, err := sql.Open("sqlite3", "file:"+src+"?_busy_timeout=10000")
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec("VACUUM INTO ?", dst)
	return err
}
