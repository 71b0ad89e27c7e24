package component

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"testing"
)

// wellFormed reports whether s is one well-formed XML element: nothing else
// can reach the component, since the server's parser closes the stream on
// anything less.
func wellFormed(s string) bool {
	d := xml.NewDecoder(strings.NewReader(s))
	depth, roots := 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return depth == 0 && roots == 1
		}
		if err != nil {
			return false
		}
		switch tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.ProcInst, xml.Directive:
			return false
		}
	}
}

func escapeAttr(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return strings.ReplaceAll(b.String(), "'", "&apos;")
}

// FuzzIncomingStanza sends arbitrary well-formed IQ and message payloads
// from arbitrary senders to a connected component: whatever comes (however
// deep, or with elements in the streams namespace), the link stays up and
// still answers a ping, and nothing panics.
func FuzzIncomingStanza(f *testing.F) {
	seeds := []struct {
		kind    uint8
		from    string
		payload string
	}{
		{0, alice, "<query xmlns='" + nsDiscoInfo + "'/>"},
		{0, alice, "<query xmlns='" + nsDiscoItems + "' node='" + nsCommands + "'/>"},
		{1, admin, "<command xmlns='" + nsCommands + "' node='" + nodeCreateAccount + "' action='execute'/>"},
		{1, alice, "<command xmlns='" + nsCommands + "' node='" + nodeInvite + "' action='cancel' sessionid='x'/>"},
		{1, alice, "<command xmlns='" + nsCommands + "' node='" + nodeInvite + "' action='bogus'><x xmlns='jabber:x:data' type='submit'/></command>"},
		{2, alice, "<body>invite</body>"},
		{2, alice, "<body>help</body>"},
		{2, "example.test", "<privilege xmlns='" + nsPrivilege2 + "'><perm access='roster' type='both'/></privilege>"},
		{2, "example.test", "<privilege xmlns='" + nsPrivilege1 + "'><perm/></privilege>"},
		{0, "", "<ping xmlns='urn:xmpp:ping'/>"},
		{1, "not a jid@@/", "<x/>"},
		{0, alice, ""},
		// Deeper than encoding/xml decodes, and content mellium's stream
		// reader rejects: refused, and the link stays.
		{0, alice, deepPayload(10000)},
		{2, alice, "<body>invite</body>" + deepPayload(10000)},
		{1, alice, "<x><features xmlns='http://etherx.jabber.org/streams'/></x>"},
		{2, alice, "<body>invite</body><stream xmlns='http://etherx.jabber.org/streams'><x/></stream>"},
		{2, alice, "<body>invite</body><!-- x -->"},
	}
	for _, s := range seeds {
		f.Add(s.kind, s.from, s.payload)
	}
	f.Fuzz(func(t *testing.T, kind uint8, from, payload string) {
		if payload != "" && !wellFormed(payload) {
			return
		}
		fs := newFakeServer(t)
		c, fc := connect(t, fs, &fakeMinter{}, nil)
		switch kind % 3 {
		case 0, 1:
			typ := map[uint8]string{0: "get", 1: "set"}[kind%3]
			fc.send(fmt.Sprintf("<iq type='%s' from='%s' to='%s' id='fuzz'>%s</iq>", typ, escapeAttr(from), fs.jid, payload))
		case 2:
			fc.send(fmt.Sprintf("<message type='chat' from='%s' to='%s'>%s</message>", escapeAttr(from), fs.jid, payload))
		}
		e := iqFrom(t, fc, alice, "get", "alive", "<ping xmlns='urn:xmpp:ping'/>")
		wantType(t, e, "result")
		if c.State() != "up" {
			t.Fatalf("link state %s after the stanza, want up", c.State())
		}
		fc.hangUpHard(t)
	})
}
