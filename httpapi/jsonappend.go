package httpapi

import (
	"net/http"
	"unicode/utf8"

	"xmpp-invites/invites"
)

// The answer to a create is the hottest response of the service: it is
// built by appending to a byte slice rather than through encoding/json's
// reflection. createdBody and TestAppendCreatedMatchesEncodingJSON keep the
// two in step.

// Header values shared by every JSON answer. Assigned directly into the
// header map (their keys are already canonical), they cost no allocation;
// net/http only reads them.
var (
	hdrJSON    = []string{"application/json"}
	hdrNoStore = []string{"no-store"}
	hdrNosniff = []string{"nosniff"}
)

// writeCreated answers a create with status and the created invite's JSON,
// byte for byte what writeJSON(w, status, createdBody(c)) writes.
func writeCreated(w http.ResponseWriter, status int, c invites.Created) {
	j := createdBody(c)
	b := make([]byte, 0, 64+len(j.ID)+len(j.Token)+len(j.URI)+len(j.LandingURL)+len(j.Type)+len(j.Expires))
	b = append(b, `{"id":`...)
	b = appendJSONString(b, j.ID)
	b = append(b, `,"token":`...)
	b = appendJSONString(b, j.Token)
	b = append(b, `,"uri":`...)
	b = appendJSONString(b, j.URI)
	b = append(b, `,"landing_url":`...)
	b = appendJSONString(b, j.LandingURL)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, j.Type)
	b = append(b, `,"expires":`...)
	b = appendJSONString(b, j.Expires)
	b = append(b, "}\n"...)
	writeJSONBytes(w, status, b)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string exactly as encoding/json
// writes it: HTML-safe (<, > and & escaped), U+2028 and U+2029 escaped, and
// invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
