package component

import (
	"fmt"
	"testing"
	"time"
)

// TestInviteToRoom: the member affiliation is asked for first; a refusal
// does not stop the XEP-0249 invitation.
func TestInviteToRoom(t *testing.T) {
	for _, refuse := range []bool{false, true} {
		t.Run(fmt.Sprint("refused=", refuse), func(t *testing.T) {
			fs := newFakeServer(t)
			c, fc := connect(t, fs, nil, nil)
			done := make(chan error, 1)
			go func() {
				done <- c.InviteToRoom(ctxT(t, 5*time.Second), "team@conference.example.test", "bob@example.test")
			}()
			e := fc.await(t, "affiliation", func(e *element) bool { return e.child(nsMUCAdmin, "query") != nil })
			item := e.child(nsMUCAdmin, "query").child("", "item")
			if e.attr("type") != "set" || e.attr("to") != "team@conference.example.test" || item.attr("affiliation") != "member" || item.attr("jid") != "bob@example.test" {
				t.Errorf("affiliation request %s", dumpElement(e))
			}
			if refuse {
				fc.send(fmt.Sprintf("<iq type='error' from='team@conference.example.test' to='%s' id='%s'><error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>", fs.jid, e.attr("id")))
			} else {
				fc.send(fmt.Sprintf("<iq type='result' from='team@conference.example.test' to='%s' id='%s'/>", fs.jid, e.attr("id")))
			}
			m := fc.await(t, "invitation", func(e *element) bool { return e.XMLName.Local == "message" })
			if x := m.child(nsConference, "x"); x == nil || x.attr("jid") != "team@conference.example.test" || m.attr("to") != "bob@example.test" || m.attr("from") != fs.jid {
				t.Errorf("invitation %s", dumpElement(m))
			}
			if err := <-done; err != nil {
				t.Errorf("InviteToRoom: %v", err)
			}
		})
	}
}
