package i18n

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"xmpp-invites/i18n/extract"
)

// TestSourceCatalogUpToDate fails when a message was added or changed in
// the code or the templates and en.toml was not regenerated.
func TestSourceCatalogUpToDate(t *testing.T) {
	entries, err := extract.Scan("..")
	if err != nil {
		t.Fatal(err)
	}
	want := append(extract.TOML(entries), '\n')
	got, err := os.ReadFile("locales/en.toml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("locales/en.toml is out of date: run go run ./cmd/i18n-extract (%d messages in the code)", len(entries))
	}
}

// dateParts are the placeholders date_time may use in any combination.
var dateParts = []string{"Day", "Month", "MonthNum", "Time", "Year"}

// TestCatalogsComplete checks every catalogue against the English one:
// each message present and no other, the same placeholders, plural forms
// as CLDR gives the language, nothing left in English unless listed in
// testdata/identical/TAG.txt.
func TestCatalogsComplete(t *testing.T) {
	en := rawCatalog(t, "en")
	files, _ := filepath.Glob("locales/*.toml")
	if len(files) < 16 {
		t.Errorf("%d catalogues, want at least 16", len(files))
	}
	for _, f := range files {
		tag := strings.TrimSuffix(filepath.Base(f), ".toml")
		if tag == "en" {
			continue
		}
		t.Run(tag, func(t *testing.T) {
			if _, err := New(tag); err != nil {
				t.Fatalf("load: %v", err)
			}
			if !slices.ContainsFunc(known, func(l Locale) bool { return l.Tag == tag }) {
				t.Fatalf("%s.toml: %s is not in the known list of i18n.go", tag, tag)
			}
			cat := rawCatalog(t, tag)
			allowed := identicalAllowed(t, tag)
			forms := PluralForms(tag)
			for _, id := range sortedKeys(en) {
				want := en[id]
				got, ok := cat[id]
				if !ok {
					t.Errorf("%s lacks message %s (English: %q)", tag, id, want["other"])
					continue
				}
				plural := len(want) > 1
				if plural {
					var have []string
					for f := range got {
						have = append(have, f)
					}
					sort.Slice(have, func(i, j int) bool { return indexOf(Forms, have[i]) < indexOf(Forms, have[j]) })
					if !slices.Equal(have, forms) {
						t.Errorf("%s: plural forms %v, want %v (CLDR for %s)", id, have, forms, tag)
					}
				} else if len(got) != 1 || got["other"] == "" {
					t.Errorf("%s: is a plain message in English, not plural forms", id)
				}
				wantPH := placeholders(t, want["other"])
				for form, text := range got {
					ph := placeholders(t, text)
					switch {
					case id == "date_time":
						for _, p := range ph {
							if !slices.Contains(dateParts, p) {
								t.Errorf("%s: placeholder {{.%s}}, want only %v", id, p, dateParts)
							}
						}
					case plural:
						// A form may say its number in words ("tomorrow").
						if !slices.Equal(without(ph, "Count"), without(wantPH, "Count")) {
							t.Errorf("%s.%s: placeholders %v, want %v", id, form, ph, wantPH)
						}
					case !slices.Equal(ph, wantPH):
						t.Errorf("%s: placeholders %v, want %v", id, ph, wantPH)
					}
				}
				if got["other"] == want["other"] && !allowed[id] {
					t.Errorf("%s is still English (%q); translate it, or list it in testdata/identical/%s.txt if it truly is the same word", id, want["other"], tag)
				}
			}
			for id := range cat {
				if _, ok := en[id]; !ok {
					t.Errorf("%s: message %s is not used any more (not in en.toml)", tag, id)
				}
			}
			for id := range allowed {
				if _, ok := en[id]; !ok {
					t.Errorf("testdata/identical/%s.txt lists %s, which is not a message", tag, id)
				}
			}
		})
	}
}

// rawCatalog reads a catalogue as message ID → form → text.
func rawCatalog(t *testing.T, tag string) map[string]map[string]string {
	t.Helper()
	var raw map[string]any
	if _, err := toml.DecodeFile("locales/"+tag+".toml", &raw); err != nil {
		t.Fatal(err)
	}
	out := make(map[string]map[string]string, len(raw))
	for id, v := range raw {
		switch v := v.(type) {
		case string:
			out[id] = map[string]string{"other": v}
		case map[string]any:
			m := map[string]string{}
			for k, fv := range v {
				if s, ok := fv.(string); ok && k != "description" && k != "hash" {
					m[k] = s
				}
			}
			out[id] = m
		}
	}
	return out
}

func identicalAllowed(t *testing.T, tag string) map[string]bool {
	out := map[string]bool{}
	f, err := os.Open("testdata/identical/" + tag + ".txt")
	if os.IsNotExist(err) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if id := strings.TrimSpace(line); id != "" {
			out[id] = true
		}
	}
	return out
}

func placeholders(t *testing.T, s string) []string {
	t.Helper()
	ph, err := Placeholders(s)
	if err != nil {
		t.Errorf("%q: %v", s, err)
	}
	return ph
}

func without(list []string, s string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(v string) bool { return v == s })
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
