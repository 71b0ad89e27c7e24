package invites

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseTTL: every accepted ttl is a positive duration; nothing panics.
func FuzzParseTTL(f *testing.F) {
	for _, s := range []string{"3600", "24h", "1h30m", "0", "-1", "", "9223372036854775807", "1e9", "1.5h", "٣"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseTTL(s)
		if err == nil && d <= 0 {
			t.Fatalf("ParseTTL(%q) = %s, want a positive duration or an error", s, d)
		}
	})
}

// FuzzPrepareUsername: accepted usernames are valid, short, stable and free
// of JID separators.
func FuzzPrepareUsername(f *testing.F) {
	for _, s := range []string{"Alice", "élodie", "a@b", "a b", "", "\u212a", strings.Repeat("ß", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := PrepareUsername(s)
		if err != nil {
			return
		}
		if u == "" || len(u) > 64 || !utf8.ValidString(u) || strings.ContainsAny(u, "@/\"&':<> ") {
			t.Fatalf("PrepareUsername(%q) = %q", s, u)
		}
		if again, err := PrepareUsername(u); err != nil || again != u {
			t.Fatalf("PrepareUsername not idempotent: %q -> %q -> %q, %v", s, u, again, err)
		}
	})
}
