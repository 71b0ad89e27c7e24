package invites

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckText(t *testing.T) {
	for _, ok := range []string{"", "for bob", "für Jürgen – 2 Plätze", "עברית", "日本語", "🎉", "a\\x1b", "zero\u200bwidth"} {
		if err := CheckText("note", ok); err != nil {
			t.Errorf("CheckText(%q) = %v, want nil", ok, err)
		}
	}
	for bad, want := range map[string]string{
		"\x00": "U+0000", "a\tb": "U+0009", "a\nb": "U+000A", "a\rb": "U+000D", "\x1b[2J": "U+001B", "\x1f": "U+001F",
		"\x7f": "U+007F", "\u0080": "U+0080", "\u0085": "U+0085", "\u009b": "U+009B", "\u009f": "U+009F",
		"\u061c": "U+061C", "\u200e": "U+200E", "\u200f": "U+200F", "\u2028": "U+2028", "\u2029": "U+2029",
		"\u202a": "U+202A", "\u202b": "U+202B", "\u202c": "U+202C", "\u202d": "U+202D", "\u202e": "U+202E",
		"\u2066": "U+2066", "\u2067": "U+2067", "\u2068": "U+2068", "\u2069": "U+2069",
		"\xff": "valid UTF-8", "a\xc3": "valid UTF-8",
	} {
		err := CheckText("note", "x"+bad+"y")
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != "note" || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckText(%q) = %v, want a *ValidationError for note naming %s", bad, err, want)
		}
	}
}
