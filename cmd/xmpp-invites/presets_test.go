package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"xmpp-invites/internal/xmpptest"
)

// api sends a JSON request with the manage key and returns the status and
// body.
func (a *attached) api(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, "http://"+a.addr+path, r)
	req.Header.Set("Authorization", "Bearer "+a.cred)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestPresets: an invite with a group chat and a circle. On Prosody the new
// account gets the member affiliation of a members-only room and a XEP-0249
// invitation, and becomes a mutual contact of the circle's members; on
// ejabberd 23.01 (no working XEP-0356 roster set) the success page asks to
// add them by hand.
func TestPresets(t *testing.T) {
	for _, kind := range []string{xmpptest.Prosody, xmpptest.Ejabberd} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			const pw = "correct horse battery"
			srv := xmpptest.Start(t, kind, xmpptest.Options{Privilege: true,
				MUCConfig: []string{"muc_room_default_members_only = true"}})
			extra := ""
			if srv.MUCDomain != "" {
				extra = `[invites]
muc_domains = ["` + srv.MUCDomain + `"]
`
			}
			a := attachServer(t, srv, extra)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			domain := srv.Domain
			srv.Register(t, "carol", pw)
			if code, body := a.api(t, "POST", "/api/v1/circles", `{"name":"family"}`); code != 201 {
				t.Fatalf("create circle: %d %s", code, body)
			}
			if code, body := a.api(t, "POST", "/api/v1/circles/family/members", `{"jid":"carol@`+domain+`"}`); code != 201 {
				t.Fatalf("add carol to the circle: %d %s", code, body)
			}
			req := `{"circle":"family"}`
			room := ""
			if srv.MUCDomain != "" {
				room = "team@" + srv.MUCDomain
				createRoom(t, ctx, srv, "owner", pw, room)
				req = `{"circle":"family","rooms":["` + room + `"]}`
			}
			code, body := a.api(t, "POST", "/api/v1/invites", req)
			if code != 201 {
				t.Fatalf("create invite with presets: %d %s", code, body)
			}
			var created struct{ Token string }
			json.Unmarshal([]byte(body), &created)
			code, page := a.register(t, created.Token, "newbie", pw)
			if code != 200 {
				t.Fatalf("register: %d\n%s", code, page)
			}
			if code, body := a.api(t, "GET", "/api/v1/circles/family", ""); code != 200 || !strings.Contains(body, `"newbie@`+domain+`"`) {
				t.Fatalf("circle after the registration: %d %s, want newbie as a member", code, body)
			}
			if kind == xmpptest.Ejabberd {
				if !strings.Contains(page, `id="circle-step"`) || !strings.Contains(page, "carol@"+domain) {
					t.Fatalf("ejabberd success page does not ask to add the circle's members:\n%s", page)
				}
				return
			}
			if !strings.Contains(page, `id="circle-ok"`) || !strings.Contains(page, `id="rooms-ok"`) {
				t.Fatalf("success page does not say the circle and rooms are done:\n%s", page)
			}
			for _, pair := range [][2]string{{"carol", "newbie"}, {"newbie", "carol"}} {
				if sub := a.subscription(t, pair[0], pw, pair[1]+"@"+domain); sub != "both" {
					t.Errorf("%s's roster: %s has subscription %q, want both", pair[0], pair[1], sub)
				}
			}
			in := srv.Receive(t, ctx, "newbie", pw)
			m, err := in.WaitForInvitation(ctx, srv.ComponentJID)
			if err != nil || m.Room != room {
				t.Fatalf("direct invitation: %+v, %v; want one to %s", m, err, room)
			}
			if got := members(t, ctx, srv, "owner", pw, room); !strings.Contains(got, "newbie@"+domain) {
				t.Fatalf("members of %s: %q, want newbie", room, got)
			}
		})
	}
}

// createRoom makes user the owner of a new room (members-only by the
// server's default).
func createRoom(t *testing.T, ctx context.Context, srv *xmpptest.Server, user, pw, room string) {
	t.Helper()
	srv.Register(t, user, pw)
	in := srv.Receive(t, ctx, user, pw)
	to := jid.MustParse(room + "/" + user)
	x := xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: "http://jabber.org/protocol/muc", Local: "x"}})
	if err := in.Session().Send(ctx, stanza.Presence{To: to}.Wrap(x)); err != nil {
		t.Fatal(err)
	}
	// The server handles a session's stanzas in order: once the room
	// answers this, the join has made it.
	members(t, ctx, srv, user, pw, room)
}

// members asks room for its member list, as user, and returns the answer.
func members(t *testing.T, ctx context.Context, srv *xmpptest.Server, user, pw, room string) string {
	t.Helper()
	s, err := srv.Login(t, ctx, user, pw)
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(nil)
	q := xmlstream.Wrap(xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Local: "item"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "affiliation"}, Value: "member"}}}),
		xml.StartElement{Name: xml.Name{Space: "http://jabber.org/protocol/muc#admin", Local: "query"}})
	resp, err := s.SendIQElement(ctx, q, stanza.IQ{Type: stanza.GetIQ, To: jid.MustParse(room)})
	if err != nil {
		t.Fatalf("member list of %s: %v", room, err)
	}
	defer resp.Close()
	var b bytes.Buffer
	e := xml.NewEncoder(&b)
	xmlstream.Copy(e, resp)
	e.Flush()
	return b.String()
}
