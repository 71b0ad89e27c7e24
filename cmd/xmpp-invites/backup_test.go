package main

import (
	"database/sql"

	_ "github.com/mattn/go-sqlite3"
)

// vacuumInto is the second backup recipe of docs/operations.md, from a separate client.
func vacuumInto(src, dst string) error {
	db, err := sql.Open("sqlite3", "file:"+src+"?_busy_timeout=10000")
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec("VACUUM INTO ?", dst)
	return err
}
