package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// table prints a list command's rows, tab-separated. A header line naming
// the columns comes first when stdout is a terminal; scripts reading a pipe
// get the rows only (or --json).
type table struct{ w io.Writer }

func (a *appState) table(cols ...string) table {
	if a.terminal {
		fmt.Fprintln(a.stdout, strings.Join(cols, "\t"))
	}
	return table{a.stdout}
}

func (t table) row(fields ...string) { fmt.Fprintln(t.w, strings.Join(fields, "\t")) }

// printJSON writes v as indented JSON and a newline.
func (a *appState) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return failErr("%v", err)
	}
	return nil
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
