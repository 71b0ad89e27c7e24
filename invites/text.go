package invites

import "unicode/utf8"

// CheckText refuses free text from outside (a note, a username as typed, a
// key's name or label) that could make a terminal, a log viewer or a page
// show something else than the text: invalid UTF-8, the C0 controls
// (tab, CR and LF included: these fields are one line), DEL, the C1
// controls, the line and paragraph separators, and the bidirectional marks,
// embeddings, overrides and isolates, with which "txt.exe" can be made to
// read "exe.txt". The error is a *ValidationError naming field.
func CheckText(field, s string) error {
	if !utf8.ValidString(s) {
		return invalid(field, "must be valid UTF-8")
	}
	for _, r := range s {
		if refusedRune(r) {
			return invalid(field, "must not contain control or bidirectional formatting characters (found U+%04X)", r)
		}
	}
	return nil
}

// refusedRune reports whether CheckText refuses r.
func refusedRune(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f: // C0, DEL, C1
		return true
	case r == 0x2028, r == 0x2029: // line and paragraph separators
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f: // bidi marks ALM, LRM, RLM
		return true
	case r >= 0x202a && r <= 0x202e: // bidi embeddings and overrides
		return true
	case r >= 0x2066 && r <= 0x2069: // bidi isolates
		return true
	}
	return false
}
