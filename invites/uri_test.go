package invites

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"xmpp-invites/keystore"
)

func TestXMPPURI(t *testing.T) {
	for jid, want := range map[string]string{
		"example.com":                  "xmpp:example.com",
		"alice@example.com":            "xmpp:alice@example.com",
		"evil?roster@example.com":      "xmpp:evil%3Froster@example.com",
		"a#b@example.com":              "xmpp:a%23b@example.com",
		"a;ibr=y@example.com":          "xmpp:a%3Bibr%3Dy@example.com",
		"100%@example.com":             "xmpp:100%25@example.com",
		"a%3Fb@example.com":            "xmpp:a%253Fb@example.com",
		"a\"<>\\^`{|}[]@example.com":   "xmpp:a%22%3C%3E%5C%5E%60%7B%7C%7D%5B%5D@example.com",
		"j\u00fcrgen@example.com":      "xmpp:j%C3%BCrgen@example.com",
		"a-b.c_d~e!$()*+,@example.com": "xmpp:a-b.c_d~e!$()*+,@example.com",
		"a@example.com/phone":          "xmpp:a@example.com/phone",
		"a@example.com/r?x#y;z=1&k":    "xmpp:a@example.com/r%3Fx%23y%3Bz%3D1%26k",
		"a@example.com/r/s@t:u'v":      "xmpp:a@example.com/r%2Fs%40t:u'v",
		"example.com/only a resource":  "xmpp:example.com/only%20a%20resource",
	} {
		if got := XMPPURI(jid, ""); got != want {
			t.Errorf("XMPPURI(%q) = %q, want %q", jid, got, want)
		}
	}
	// Whatever the localpart, a URI reader finds the whole localpart
	// (decoded), the domain and the query, and no fragment. ("/" and "@"
	// cannot be in a localpart.)
	for _, local := range []string{"evil?roster", "a#b", "a;b=c", "%", "%41", "a b", "ä?#;=%&'\"<>", "\x00\xff"} {
		uri := XMPPURI(local+"@example.com", "roster;preauth=T;ibr=y")
		u, err := url.Parse(uri)
		if err != nil {
			t.Errorf("%q: url.Parse(%q): %v", local, uri, err)
			continue
		}
		node, domain, _ := strings.Cut(u.Opaque, "@")
		decoded, err := url.PathUnescape(node)
		if u.Scheme != "xmpp" || err != nil || decoded != local || domain != "example.com" ||
			u.RawQuery != "roster;preauth=T;ibr=y" || u.Fragment != "" {
			t.Errorf("%q: %q parses as %#v (localpart %q, %v)", local, uri, u, decoded, err)
		}
	}
}

// TestCreateURIEncodesUsername: a contact invite for a username with URI
// delimiters gets a URI whose query is still its own.
func TestCreateURIEncodesUsername(t *testing.T) {
	s := newService(t)
	for username, want := range map[string]string{
		"evil?roster": "xmpp:evil%3Froster@example.com?roster;preauth=TOKEN",
		"a#b":         "xmpp:a%23b@example.com?roster;preauth=TOKEN",
		"x;ibr=y":     "xmpp:x%3Bibr%3Dy@example.com?roster;preauth=TOKEN",
		"100%":        "xmpp:100%25@example.com?roster;preauth=TOKEN",
		"Jürgen":      "xmpp:j%C3%BCrgen@example.com?roster;preauth=TOKEN",
	} {
		c, err := s.Create(context.Background(), Request{Type: keystore.TypeContact, Username: username, Creator: "cli"})
		if err != nil {
			t.Fatalf("%q: %v", username, err)
		}
		if want := strings.Replace(want, "TOKEN", c.Token, 1); c.URI != want {
			t.Errorf("%q: URI %q, want %q", username, c.URI, want)
		}
	}
}
