package invites

import "strings"

// XMPPURI returns the xmpp: URI (RFC 5122) of jid, "[local@]domain[/resource]",
// with query (without the "?"; empty for none). The localpart and resource
// are percent-encoded as RFC 5122 §2.7 and §3 ask: only the unreserved
// characters and the sub-delimiters without a meaning in a URI's query stay
// as they are, so that a localpart such as "evil?roster" or "a#b" cannot
// end the path and make the URI mean something else. ";" and "=", which the
// RFC's nodeallow permits, are encoded too: they separate the query's
// parameters (XEP-0147), and percent-encoding an allowed character is
// always valid. Non-ASCII characters are encoded as UTF-8 (the URI form of
// RFC 5122 §2.8). The domain is used as it is.
func XMPPURI(jid, query string) string {
	bare, resource, hasResource := strings.Cut(jid, "/")
	local, domain, hasLocal := strings.Cut(bare, "@")
	if !hasLocal {
		local, domain = "", bare
	}
	var b strings.Builder
	b.WriteString("xmpp:")
	if hasLocal {
		pctEncode(&b, local, nodeKeep)
		b.WriteByte('@')
	}
	b.WriteString(domain)
	if hasResource {
		b.WriteByte('/')
		pctEncode(&b, resource, resourceKeep)
	}
	if query != "" {
		b.WriteByte('?')
		b.WriteString(query)
	}
	return b.String()
}

// Characters besides the unreserved ones (ALPHA, DIGIT, "-", ".", "_",
// "~") that stay unencoded: RFC 5122's nodeallow and resallow without
// those with a meaning in the query (";", "=", "&").
const (
	nodeKeep     = "!$()*+,"
	resourceKeep = "!$'()*+,:"
)

func pctEncode(b *strings.Builder, s, keep string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9',
			c == '-', c == '.', c == '_', c == '~', strings.IndexByte(keep, c) >= 0:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
}
