// Command i18n-extract writes the source catalogue, i18n/locales/en.toml,
// from the messages of the code and the templates, and reports for every
// other catalogue the messages it lacks and those no longer used.
//
//	go run ./cmd/i18n-extract        # from the repository's root
//	go run ./cmd/i18n-extract -check # exit 1 if en.toml is out of date
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"xmpp-invites/i18n/extract"
)

func main() {
	check := flag.Bool("check", false, "only check that en.toml is up to date")
	root := flag.String("root", ".", "the repository's root")
	flag.Parse()
	if err := run(*root, *check); err != nil {
		fmt.Fprintln(os.Stderr, "i18n-extract:", err)
		os.Exit(1)
	}
}

func run(root string, check bool) error {
	entries, err := extract.Scan(root)
	if err != nil {
		return err
	}
	out := append(extract.TOML(entries), '\n')
	dst := filepath.Join(root, "i18n", "locales", "en.toml")
	old, _ := os.ReadFile(dst)
	switch {
	case bytes.Equal(old, out):
		fmt.Printf("%s: up to date, %d messages\n", dst, len(entries))
	case check:
		return fmt.Errorf("%s is out of date: run go run ./cmd/i18n-extract", dst)
	default:
		if err := os.WriteFile(dst, out, 0o644); err != nil {
			return err
		}
		fmt.Printf("%s: written, %d messages\n", dst, len(entries))
	}
	ids := make(map[string]bool, len(entries))
	for _, e := range entries {
		ids[e.ID] = true
	}
	files, _ := filepath.Glob(filepath.Join(root, "i18n", "locales", "*.toml"))
	sort.Strings(files)
	for _, f := range files {
		if filepath.Base(f) == "en.toml" {
			continue
		}
		var raw map[string]any
		if _, err := toml.DecodeFile(f, &raw); err != nil {
			return err
		}
		var missing, obsolete []string
		for id := range ids {
			if _, ok := raw[id]; !ok {
				missing = append(missing, id)
			}
		}
		for id := range raw {
			if !ids[id] {
				obsolete = append(obsolete, id)
			}
		}
		sort.Strings(missing)
		sort.Strings(obsolete)
		if len(missing)+len(obsolete) == 0 {
			continue
		}
		fmt.Printf("%s:\n", f)
		if len(missing) > 0 {
			fmt.Printf("  missing (%d): %s\n", len(missing), strings.Join(missing, " "))
		}
		if len(obsolete) > 0 {
			fmt.Printf("  no longer used (%d): %s\n", len(obsolete), strings.Join(obsolete, " "))
		}
	}
	return nil
}
