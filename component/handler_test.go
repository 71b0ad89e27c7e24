package component

import (
	"encoding/xml"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

// iqFrom sends an IQ from a user to the component and returns the answer.
func iqFrom(t *testing.T, fc *fakeConn, from, typ, id, payload string) *element {
	t.Helper()
	fc.send(fmt.Sprintf("<iq type='%s' from='%s' to='%s' id='%s'>%s</iq>", typ, from, fc.fs.jid, id, payload))
	e := fc.awaitID(t, id)
	if got := e.attr("to"); got != from {
		t.Errorf("answer to %s goes to %q, want %q", id, got, from)
	}
	return e
}

func wantType(t *testing.T, e *element, typ string) {
	t.Helper()
	if got := e.attr("type"); got != typ {
		t.Fatalf("answer type %q, want %q: %s", got, typ, dumpElement(e))
	}
}

func wantCondition(t *testing.T, e *element, cond string) {
	t.Helper()
	wantType(t, e, "error")
	if got := string(stanzaError(e).Condition); got != cond {
		t.Fatalf("error condition %q, want %q: %s", got, cond, dumpElement(e))
	}
}

func attrsOf(es []*element, a string) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.attr(a))
	}
	return out
}

const (
	alice    = "alice@example.test/phone"
	admin    = "admin@example.test/laptop"
	stranger = "eve@elsewhere.test/x"
)

func TestDiscoPingVersion(t *testing.T) {
	fs := newFakeServer(t)
	_, fc := connect(t, fs, nil, nil)

	t.Run("info", func(t *testing.T) {
		e := iqFrom(t, fc, alice, "get", "i1", "<query xmlns='"+nsDiscoInfo+"'/>")
		wantType(t, e, "result")
		q := e.child(nsDiscoInfo, "query")
		id := q.child("", "identity")
		if id.attr("category") != "component" || id.attr("type") != "generic" || id.attr("name") != "Invites" {
			t.Errorf("identity %s", dumpElement(id))
		}
		got := attrsOf(q.children("", "feature"), "var")
		want := []string{nsDiscoInfo, nsDiscoItems, nsCommands, nsPing, nsVersion}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("features %q, want %q", got, want)
		}
	})
	t.Run("info commands node", func(t *testing.T) {
		e := iqFrom(t, fc, alice, "get", "i2", "<query xmlns='"+nsDiscoInfo+"' node='"+nsCommands+"'/>")
		wantType(t, e, "result")
		q := e.child(nsDiscoInfo, "query")
		if q.attr("node") != nsCommands || q.child("", "identity").attr("type") != "command-list" {
			t.Errorf("commands node info: %s", dumpElement(e))
		}
	})
	t.Run("info command node", func(t *testing.T) {
		e := iqFrom(t, fc, alice, "get", "i3", "<query xmlns='"+nsDiscoInfo+"' node='"+nodeInvite+"'/>")
		wantType(t, e, "result")
		if e.child(nsDiscoInfo, "query").child("", "identity").attr("type") != "command-node" {
			t.Errorf("command node info: %s", dumpElement(e))
		}
	})
	t.Run("info unknown node", func(t *testing.T) {
		wantCondition(t, iqFrom(t, fc, alice, "get", "i4", "<query xmlns='"+nsDiscoInfo+"' node='nope'/>"), "item-not-found")
	})
	t.Run("items", func(t *testing.T) {
		e := iqFrom(t, fc, alice, "get", "t1", "<query xmlns='"+nsDiscoItems+"'/>")
		wantType(t, e, "result")
		if n := len(e.child(nsDiscoItems, "query").Children); n != 0 {
			t.Errorf("top-level items: %d, want none", n)
		}
	})
	for _, tc := range []struct {
		from string
		want []string
	}{
		{alice, []string{nodeInvite}},
		{admin, []string{nodeInvite, nodeCreateAccount, nodeAdminCreate, nodeAdminList, nodeAdminRevoke, nodeAdminReset}},
		{stranger, nil},
	} {
		t.Run("command list for "+tc.from, func(t *testing.T) {
			e := iqFrom(t, fc, tc.from, "get", "c-"+tc.from, "<query xmlns='"+nsDiscoItems+"' node='"+nsCommands+"'/>")
			wantType(t, e, "result")
			items := e.child(nsDiscoItems, "query").children("", "item")
			if got := attrsOf(items, "node"); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("commands %q, want %q", got, tc.want)
			}
			for _, it := range items {
				if it.attr("jid") != fs.jid || it.attr("name") == "" {
					t.Errorf("item %s: want jid %s and a name", dumpElement(it), fs.jid)
				}
			}
		})
	}
	t.Run("ping", func(t *testing.T) {
		wantType(t, iqFrom(t, fc, alice, "get", "p1", "<ping xmlns='urn:xmpp:ping'/>"), "result")
	})
	t.Run("version", func(t *testing.T) {
		e := iqFrom(t, fc, alice, "get", "v1", "<query xmlns='jabber:iq:version'/>")
		wantType(t, e, "result")
		q := e.child(nsVersion, "query")
		if q.child("", "name").Text != "xmpp-invites" || q.child("", "version").Text != "1.2.3" {
			t.Errorf("version: %s", dumpElement(e))
		}
	})
	t.Run("unknown get", func(t *testing.T) {
		wantCondition(t, iqFrom(t, fc, alice, "get", "u1", "<query xmlns='jabber:iq:last'/>"), "service-unavailable")
	})
	t.Run("unknown set", func(t *testing.T) {
		wantCondition(t, iqFrom(t, fc, alice, "set", "u2", "<query xmlns='jabber:iq:roster'/>"), "service-unavailable")
	})
	t.Run("no payload", func(t *testing.T) {
		wantCondition(t, iqFrom(t, fc, alice, "get", "u3", ""), "bad-request")
	})
	t.Run("to a resource", func(t *testing.T) {
		fc.send("<iq type='get' from='" + alice + "' to='" + fs.jid + "/r' id='r1'><ping xmlns='urn:xmpp:ping'/></iq>")
		e := fc.awaitID(t, "r1")
		wantType(t, e, "result")
		if got := e.attr("from"); got != fs.jid+"/r" {
			t.Errorf("answer from %q, want the address asked, %s/r", got, fs.jid)
		}
	})
	t.Run("to a user at the component", func(t *testing.T) {
		fc.send("<iq type='get' from='" + alice + "' to='bob@" + fs.jid + "' id='ua1'><ping xmlns='urn:xmpp:ping'/></iq>")
		wantCondition(t, fc.awaitID(t, "ua1"), "service-unavailable")
	})
	t.Run("result and error IQs get no answer", func(t *testing.T) {
		fc.send("<iq type='result' from='" + alice + "' to='" + fs.jid + "' id='late'/>")
		fc.send("<iq type='error' from='" + alice + "' to='" + fs.jid + "' id='late2'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
		fc.quiet(t, 200*time.Millisecond)
	})
}

// execute runs a command as from and returns the answer.
func execute(t *testing.T, fc *fakeConn, from, id, node, action string) *element {
	t.Helper()
	a := ""
	if action != "" {
		a = " action='" + action + "'"
	}
	return iqFrom(t, fc, from, "set", id, "<command xmlns='"+nsCommands+"' node='"+node+"'"+a+"/>")
}

func resultForm(t *testing.T, e *element) map[string]string {
	t.Helper()
	wantType(t, e, "result")
	cmd := e.child(nsCommands, "command")
	if cmd.attr("status") != "completed" || cmd.attr("sessionid") == "" {
		t.Fatalf("command not completed with a session: %s", dumpElement(e))
	}
	x := cmd.child(nsData, "x")
	if x == nil || x.attr("type") != "result" {
		t.Fatalf("no result form: %s", dumpElement(e))
	}
	out := map[string]string{}
	for _, f := range x.children("", "field") {
		out[f.attr("var")] = strings.Join(formValues(x, f.attr("var")), "|")
	}
	return out
}

func TestCommands(t *testing.T) {
	fs := newFakeServer(t)
	m := &fakeMinter{}
	now := time.Date(2029, 5, 6, 7, 8, 9, 0, time.UTC)
	_, fc := connect(t, fs, m, func(c *Component) { c.now = func() time.Time { return now } })

	t.Run("user invite", func(t *testing.T) {
		f := resultForm(t, execute(t, fc, alice, "a1", nodeInvite, "execute"))
		want := map[string]string{
			"FORM_TYPE":   nsInvitation,
			"landing-url": "https://example.test/invite?TOKEN0123456789abcdefghi",
			"uri":         "xmpp:alice@example.test?roster;preauth=TOKEN0123456789abcdefghi",
			"expire":      "2030-01-02T03:04:05Z",
		}
		if !reflect.DeepEqual(f, want) {
			t.Errorf("form %q, want %q", f, want)
		}
		reqs, people := m.requests(), m.people()
		if got := reqs[len(reqs)-1]; got.Type != keystore.TypeContact || got.Username != "alice" {
			t.Errorf("request %+v, want alice's contact invite", got)
		}
		if got := people[len(people)-1]; got != (invites.Person{JID: "alice@example.test"}) {
			t.Errorf("created for %+v, want alice, not an admin", got)
		}
	})
	t.Run("no action means execute", func(t *testing.T) {
		resultForm(t, execute(t, fc, alice, "a2", nodeInvite, ""))
	})
	t.Run("admin invite registers and is unlimited", func(t *testing.T) {
		resultForm(t, execute(t, fc, admin, "a3", nodeInvite, "execute"))
		people := m.people()
		if got := people[len(people)-1]; got != (invites.Person{JID: "admin@example.test", Admin: true}) {
			t.Errorf("created for %+v, want the admin", got)
		}
	})
	t.Run("admin creates account invite", func(t *testing.T) {
		f := resultForm(t, execute(t, fc, admin, "a4", nodeCreateAccount, "complete"))
		if f["uri"] != "xmpp:example.test?register;preauth=TOKEN0123456789abcdefghi" || f["landing-url"] == "" {
			t.Errorf("form %q", f)
		}
		reqs, people := m.requests(), m.people()
		if got := reqs[len(reqs)-1]; got.Type != keystore.TypeAccount || got.Username != "" {
			t.Errorf("request %+v, want an account invite", got)
		}
		if got := people[len(people)-1]; !got.Admin {
			t.Errorf("created for %+v, want the admin", got)
		}
	})
	t.Run("user may not create account invites", func(t *testing.T) {
		n := len(m.requests())
		e := execute(t, fc, alice, "a5", nodeCreateAccount, "execute")
		wantCondition(t, e, "forbidden")
		if len(m.requests()) != n {
			t.Error("an invite was minted for a forbidden request")
		}
	})
	t.Run("strangers may not invite", func(t *testing.T) {
		wantCondition(t, execute(t, fc, stranger, "a6", nodeInvite, "execute"), "forbidden")
		wantCondition(t, execute(t, fc, stranger, "a7", nodeCreateAccount, "execute"), "forbidden")
	})
	t.Run("cancel", func(t *testing.T) {
		e := execute(t, fc, alice, "a8", nodeInvite, "cancel")
		wantType(t, e, "result")
		if st := e.child(nsCommands, "command").attr("status"); st != "canceled" {
			t.Errorf("status %q, want canceled", st)
		}
	})
	t.Run("prev", func(t *testing.T) {
		wantCondition(t, execute(t, fc, alice, "a9", nodeInvite, "prev"), "bad-request")
	})
	t.Run("unknown node", func(t *testing.T) {
		wantCondition(t, execute(t, fc, admin, "a10", "urn:example:nope", "execute"), "item-not-found")
	})
	t.Run("quota", func(t *testing.T) {
		m.setErr(invites.ErrQuota)
		defer m.setErr(nil)
		e := execute(t, fc, alice, "a11", nodeInvite, "execute")
		wantType(t, e, "result")
		cmd := e.child(nsCommands, "command")
		note := cmd.child("", "note")
		if cmd.attr("status") != "completed" || note == nil || note.attr("type") != "error" ||
			!strings.Contains(note.Text, "limit of 3 invites per day") {
			t.Errorf("quota answer: %s", dumpElement(e))
		}
	})
	t.Run("minter failure", func(t *testing.T) {
		m.setErr(fmt.Errorf("disk on fire"))
		defer m.setErr(nil)
		e := execute(t, fc, alice, "a12", nodeInvite, "execute")
		wantCondition(t, e, "internal-server-error")
		if strings.Contains(dumpElement(e), "fire") {
			t.Error("internal error text leaked to the user")
		}
	})
}

// chat sends a chat message and returns the answer's body.
func chat(t *testing.T, fc *fakeConn, from, typ, body string) string {
	t.Helper()
	fc.send(fmt.Sprintf("<message type='%s' from='%s' to='%s' id='m1'><body>%s</body></message>", typ, from, fc.fs.jid, body))
	e := fc.await(t, "chat answer", func(e *element) bool { return e.XMLName.Local == "message" })
	if e.attr("type") != "chat" || e.attr("to") != from {
		t.Errorf("answer %s: want type chat to %s", dumpElement(e), from)
	}
	return e.child("", "body").Text
}

func TestChat(t *testing.T) {
	fs := newFakeServer(t)
	m := &fakeMinter{}
	_, fc := connect(t, fs, m, nil)

	for _, body := range []string{"invite", "  INVITE\n"} {
		got := chat(t, fc, alice, "chat", body)
		for _, want := range []string{"https://example.test/invite?TOKEN0123456789abcdefghi", "xmpp:alice@example.test?roster;preauth="} {
			if !strings.Contains(got, want) {
				t.Errorf("answer to %q: %q lacks %q", body, got, want)
			}
		}
	}
	if r := m.requests(); len(r) != 2 || r[0].Type != keystore.TypeContact || r[0].Username != "alice" {
		t.Errorf("requests %+v", r)
	}
	if got := chat(t, fc, alice, "chat", "help"); !strings.Contains(got, `Send "invite"`) {
		t.Errorf("help: %q", got)
	}
	if got := chat(t, fc, admin, "chat", "what?"); !strings.Contains(got, "reset USER") || !strings.Contains(got, "ad-hoc commands") {
		t.Errorf("admin help: %q", got)
	}
	if got := chat(t, fc, stranger, "chat", "invite"); !strings.Contains(got, "users of example.test only") {
		t.Errorf("stranger: %q", got)
	}
	m.setErr(invites.ErrQuota)
	if got := chat(t, fc, alice, "chat", "invite"); !strings.Contains(got, "limit of 3 invites per day") ||
		!strings.Contains(got, "try again later") {
		t.Errorf("quota: %q", got)
	}
	// When the store tells which invite frees a slot, the answer names the
	// time, rounded up to the minute.
	oldest := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	m.setErr(fmt.Errorf("%w: %w", invites.ErrQuota, &keystore.LimitError{Oldest: oldest}))
	if got := chat(t, fc, alice, "chat", "invite"); !strings.Contains(got, "limit of 3 invites per day") ||
		!strings.Contains(got, "from 3 January 2030, 03:05 UTC") {
		t.Errorf("quota with a time: %q", got)
	}
	m.setErr(nil)

	// No answer to other types, to errors, or to bodiless messages.
	for _, typ := range []string{"normal", "headline", "groupchat", "error"} {
		fc.send(fmt.Sprintf("<message type='%s' from='%s' to='%s'><body>invite</body></message>", typ, alice, fs.jid))
	}
	fc.send(fmt.Sprintf("<message type='chat' from='%s' to='%s'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>", alice, fs.jid))
	fc.send(fmt.Sprintf("<presence from='%s' to='%s'/>", alice, fs.jid))
	fc.quiet(t, 300*time.Millisecond)
}

func TestChatReplyLimit(t *testing.T) {
	fs := newFakeServer(t)
	_, fc := connect(t, fs, nil, nil)
	for i := 0; i < repliesPerMinute; i++ {
		chat(t, fc, "bot@example.test/a", "chat", "hello")
	}
	fc.send(fmt.Sprintf("<message type='chat' from='bot@example.test/a' to='%s'><body>hello</body></message>", fs.jid))
	fc.quiet(t, 300*time.Millisecond)
	// Others are not affected.
	chat(t, fc, alice, "chat", "hello")
}

func TestReplyLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	r := replyLimiter{now: func() time.Time { return now }}
	for i := 0; i < repliesPerMinute; i++ {
		if !r.allow("a") {
			t.Fatalf("reply %d refused", i)
		}
	}
	if r.allow("a") {
		t.Fatal("reply over the limit allowed")
	}
	if !r.allow("b") {
		t.Fatal("other sender refused")
	}
	// A token bucket: after the burst, one reply every ten seconds.
	now = now.Add(time.Minute / repliesPerMinute)
	if !r.allow("a") {
		t.Fatal("reply refused after a tenth of a minute")
	}
	if r.allow("a") {
		t.Fatal("two replies allowed after a tenth of a minute")
	}
	now = now.Add(time.Minute)
	for i := 0; i < repliesPerMinute; i++ {
		if !r.allow("a") {
			t.Fatalf("reply %d refused after a quiet minute", i)
		}
	}
}

func TestParsePrivileges(t *testing.T) {
	for _, tc := range []struct {
		name, xml string
		want      map[string]string
	}{
		{"v1", `<privilege xmlns='urn:xmpp:privilege:1'><perm access='roster' type='both'/><perm access='message' type='outgoing'/><perm access='presence' type='none'/></privilege>`,
			map[string]string{"roster": "both", "message": "outgoing", "presence": "none"}},
		{"v2 with iq namespaces", `<privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='set' push='true'/><perm access='iq'><namespace ns='jabber:iq:roster' type='both'/><namespace ns='urn:xmpp:mam:2' type='get'/></perm></privilege>`,
			map[string]string{"roster": "set", "iq:jabber:iq:roster": "both", "iq:urn:xmpp:mam:2": "get"}},
		{"empty", `<privilege xmlns='urn:xmpp:privilege:2'/>`, map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e element
			if err := xml.Unmarshal([]byte(tc.xml), &e); err != nil {
				t.Fatal(err)
			}
			if got := parsePrivileges(&e); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPrivilegeAdvertisement(t *testing.T) {
	for _, ns := range []string{nsPrivilege1, nsPrivilege2} {
		t.Run(ns, func(t *testing.T) {
			fs := newFakeServer(t)
			fs.set(func(fs *fakeServer) {
				fs.privilege = "<message from='example.test' to='invites.example.test'><privilege xmlns='" + ns +
					"'><perm access='roster' type='both'/><perm access='message' type='outgoing'/></privilege></message>"
			})
			c, fc := connect(t, fs, nil, nil)
			l := c.cur.Load()
			eventually(t, "privileges", func() bool { p, _ := l.privileges("example.test"); return p["roster"] == "both" })
			if _, got := l.privileges("example.test"); got != ns {
				t.Errorf("namespace %q, want %q", got, ns)
			}

			done := make(chan error, 1)
			go func() { done <- c.AddMutualContacts(ctxT(t, 5*time.Second), "alice@example.test", "bob@example.test") }()
			for _, pair := range [][2]string{{"alice@example.test", "bob@example.test"}, {"bob@example.test", "alice@example.test"}} {
				e := fc.await(t, "roster set", func(e *element) bool { return e.child(nsRoster, "query") != nil })
				item := e.child(nsRoster, "query").child("", "item")
				if e.attr("type") != "set" || e.attr("to") != pair[0] || item.attr("jid") != pair[1] || item.attr("subscription") != "both" {
					t.Errorf("roster set %s, want %s in the roster of %s with subscription both", dumpElement(e), pair[1], pair[0])
				}
				fc.send(fmt.Sprintf("<iq type='result' from='%s' to='%s' id='%s'/>", pair[0], fs.jid, e.attr("id")))
			}
			if err := <-done; err != nil {
				t.Errorf("AddMutualContacts: %v", err)
			}
		})
	}
	t.Run("forged by a user", func(t *testing.T) {
		fs := newFakeServer(t)
		c, fc := connect(t, fs, nil, nil)
		fc.send("<message from='alice@example.test' to='invites.example.test'><privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='both'/></privilege></message>")
		fc.quiet(t, 200*time.Millisecond)
		if p, _ := c.cur.Load().privileges("example.test"); len(p) != 0 {
			t.Errorf("privileges from a user accepted: %v", p)
		}
		err := c.AddMutualContacts(ctxT(t, time.Second), "alice@example.test", "bob@example.test")
		if !errors.Is(err, invites.ErrUnsupported) {
			t.Errorf("AddMutualContacts without privilege: %v, want ErrUnsupported", err)
		}
	})
	t.Run("roster set refused", func(t *testing.T) {
		fs := newFakeServer(t)
		fs.set(func(fs *fakeServer) {
			fs.privilege = "<message from='example.test' to='invites.example.test'><privilege xmlns='urn:xmpp:privilege:1'><perm access='roster' type='both'/></privilege></message>"
			fs.handle = func(fc *fakeConn, e *element) bool {
				if e.child(nsRoster, "query") == nil {
					return false
				}
				fc.send(fmt.Sprintf("<iq type='error' from='%s' to='%s' id='%s'><error type='wait'><internal-server-error xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
					e.attr("to"), fc.fs.jid, e.attr("id")))
				return true
			}
		})
		c, _ := connect(t, fs, nil, nil)
		eventually(t, "privileges", func() bool { p, _ := c.cur.Load().privileges("example.test"); return len(p) > 0 })
		err := c.AddMutualContacts(ctxT(t, 5*time.Second), "alice@example.test", "bob@example.test")
		if err == nil || !strings.Contains(err.Error(), "internal-server-error") {
			t.Errorf("AddMutualContacts: %v, want the server's internal-server-error", err)
		}
	})
}

func TestNotify(t *testing.T) {
	fs := newFakeServer(t)
	c, fc := connect(t, fs, nil, nil)
	if err := c.NotifyJoined(ctxT(t, time.Second), "alice@example.test", "bob@example.test"); err != nil {
		t.Fatal(err)
	}
	e := fc.await(t, "notification", func(e *element) bool { return e.XMLName.Local == "message" })
	if e.attr("to") != "alice@example.test" || e.attr("type") != "chat" || e.child("", "body").Text != "bob@example.test joined with your invite" {
		t.Errorf("notification %s", dumpElement(e))
	}
}

// Many command results sent at once from their goroutines all arrive, and
// the link keeps working: a write whose context ends must never break
// another write on the shared connection.
func TestConcurrentCommandResults(t *testing.T) {
	fs := newFakeServer(t)
	_, fc := connect(t, fs, nil, nil)
	const n = 300
	for i := 0; i < n; i++ {
		fc.send(fmt.Sprintf("<iq type='set' from='%s' to='%s' id='c%d'><command xmlns='%s' node='%s' action='complete'/></iq>",
			admin, fs.jid, i, nsCommands, nodeCreateAccount))
	}
	seen := map[string]bool{}
	timeout := time.After(20 * time.Second)
	for len(seen) < n {
		select {
		case e := <-fc.in:
			if e.attr("type") != "result" {
				t.Fatalf("answer %s", dumpElement(e))
			}
			seen[e.attr("id")] = true
		case <-timeout:
			t.Fatalf("%d of %d command results arrived", len(seen), n)
		}
	}
	wantType(t, iqFrom(t, fc, alice, "get", "after", "<ping xmlns='urn:xmpp:ping'/>"), "result")
}
