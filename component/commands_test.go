package component

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

// submit sends a command with a submitted form (fields in order, var then
// value) and returns the answer. action may be empty.
func submit(t *testing.T, fc *fakeConn, from, id, node, action string, fields ...string) *element {
	t.Helper()
	var b strings.Builder
	for i := 0; i+1 < len(fields); i += 2 {
		fmt.Fprintf(&b, "<field var='%s'><value>%s</value></field>", fields[i], fields[i+1])
	}
	a := ""
	if action != "" {
		a = " action='" + action + "'"
	}
	return iqFrom(t, fc, from, "set", id, fmt.Sprintf("<command xmlns='%s' node='%s' sessionid='s-%s'%s><x xmlns='%s' type='submit'>%s</x></command>",
		nsCommands, node, id, a, nsData, b.String()))
}

// formStep checks that e is the first step of a command, status executing
// with complete as the default action, and returns its form's fields by
// var.
func formStep(t *testing.T, e *element) map[string]*element {
	t.Helper()
	wantType(t, e, "result")
	cmd := e.child(nsCommands, "command")
	if cmd.attr("status") != "executing" || cmd.attr("sessionid") == "" {
		t.Fatalf("want status executing with a session: %s", dumpElement(e))
	}
	if a := cmd.child("", "actions"); a == nil || a.attr("execute") != "complete" || a.child("", "complete") == nil {
		t.Errorf("want actions with complete as the default: %s", dumpElement(e))
	}
	x := cmd.child(nsData, "x")
	if x == nil || x.attr("type") != "form" {
		t.Fatalf("want a form: %s", dumpElement(e))
	}
	out := map[string]*element{}
	for _, f := range x.children("", "field") {
		out[f.attr("var")] = f
	}
	return out
}

func lastRequest(t *testing.T, m *fakeMinter) invites.Request {
	t.Helper()
	reqs := m.requests()
	if len(reqs) == 0 {
		t.Fatal("no invite was requested")
	}
	return reqs[len(reqs)-1]
}

func TestCreateAccountCommand(t *testing.T) {
	fs := newFakeServer(t)
	m := &fakeMinter{}
	_, fc := connect(t, fs, m, nil)

	t.Run("execute answers the form", func(t *testing.T) {
		n := len(m.requests())
		f := formStep(t, execute(t, fc, admin, "ca1", nodeCreateAccount, "execute"))
		if f["username"] == nil || f["username"].attr("type") != "text-single" || f["username"].child("", "required") != nil {
			t.Errorf("username field: want an optional text-single: %v", f["username"])
		}
		if f["roster-subscription"] == nil || f["roster-subscription"].attr("type") != "boolean" {
			t.Errorf("roster-subscription field: want a boolean")
		}
		if len(m.requests()) != n {
			t.Error("the first step created an invite")
		}
	})
	for i, tc := range []struct {
		name, action string
		fields       []string
		want         invites.Request
	}{
		{"complete with a username", "complete", []string{"username", "carol", "roster-subscription", "0"}, invites.Request{Type: keystore.TypeAccount, Username: "carol"}},
		{"complete with an empty form", "complete", []string{"username", ""}, invites.Request{Type: keystore.TypeAccount}},
		{"submitted without an action (XEP-0401's example)", "", []string{"username", "dave"}, invites.Request{Type: keystore.TypeAccount, Username: "dave"}},
		{"submitted with execute", "execute", []string{"username", "erin"}, invites.Request{Type: keystore.TypeAccount, Username: "erin"}},
		{"roster subscription: the admin's contact invite that registers", "complete", []string{"roster-subscription", "true"}, invites.Request{Type: keystore.TypeContact, Username: "admin"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := resultForm(t, submit(t, fc, admin, fmt.Sprintf("ca-%d", i), nodeCreateAccount, tc.action, tc.fields...))
			if f["FORM_TYPE"] != nsInvitation || f["uri"] == "" || f["landing-url"] == "" || f["expire"] != "2030-01-02T03:04:05Z" {
				t.Errorf("result form %q", f)
			}
			got := lastRequest(t, m)
			if got.Type != tc.want.Type || got.Username != tc.want.Username {
				t.Errorf("request %+v, want type %s username %q", got, tc.want.Type, tc.want.Username)
			}
		})
	}
	t.Run("complete at once", func(t *testing.T) {
		f := resultForm(t, execute(t, fc, admin, "ca2", nodeCreateAccount, "complete"))
		if f["FORM_TYPE"] != nsInvitation || !strings.Contains(f["uri"], "register;preauth=") {
			t.Errorf("result form %q", f)
		}
	})
	t.Run("bad input changes nothing", func(t *testing.T) {
		n := len(m.requests())
		wantCondition(t, submit(t, fc, admin, "ca3", nodeCreateAccount, "complete", "roster-subscription", "maybe"), "bad-request")
		e := submit(t, fc, admin, "ca4", nodeCreateAccount, "complete", "username", "carol", "roster-subscription", "1")
		wantCondition(t, e, "bad-request")
		if txt, _ := errorText(t, e); !strings.Contains(txt, "leave the username empty") {
			t.Errorf("text %q", txt)
		}
		if len(m.requests()) != n {
			t.Error("an invite was created from bad input")
		}
	})
	t.Run("users are refused at every step", func(t *testing.T) {
		wantCondition(t, execute(t, fc, alice, "ca5", nodeCreateAccount, "execute"), "forbidden")
		wantCondition(t, submit(t, fc, alice, "ca6", nodeCreateAccount, "complete", "username", "x"), "forbidden")
	})
	t.Run("a never-expiring invite has no expire field", func(t *testing.T) {
		m.mu.Lock()
		m.expires = keystore.Never
		m.mu.Unlock()
		defer func() { m.mu.Lock(); m.expires = time.Time{}; m.mu.Unlock() }()
		f := resultForm(t, execute(t, fc, admin, "ca7", nodeCreateAccount, "complete"))
		if _, ok := f["expire"]; ok || f["uri"] == "" {
			t.Errorf("form %q: want uri and no expire", f)
		}
	})
	t.Run("form cancelled", func(t *testing.T) {
		e := iqFrom(t, fc, admin, "set", "ca8", "<command xmlns='"+nsCommands+"' node='"+nodeCreateAccount+"' sessionid='x'><x xmlns='jabber:x:data' type='cancel'/></command>")
		if st := e.child(nsCommands, "command").attr("status"); st != "canceled" {
			t.Errorf("status %q, want canceled", st)
		}
	})
}

func TestAdminCommands(t *testing.T) {
	fs := newFakeServer(t)
	m := &fakeMinter{}
	c, fc := connect(t, fs, m, nil)

	t.Run("others are forbidden", func(t *testing.T) {
		for _, node := range []string{nodeAdminCreate, nodeAdminList, nodeAdminRevoke, nodeAdminReset} {
			for _, from := range []string{alice, stranger} {
				wantCondition(t, execute(t, fc, from, "f-"+node, node, "execute"), "forbidden")
				wantCondition(t, submit(t, fc, from, "fs-"+node, node, "complete", "id", "inv12345", "username", "bob"), "forbidden")
			}
		}
		if n := len(m.requests()); n != 0 {
			t.Errorf("%d invites created for refused requests", n)
		}
	})

	t.Run("create: the form", func(t *testing.T) {
		f := formStep(t, execute(t, fc, admin, "ac1", nodeAdminCreate, "execute"))
		for _, v := range []string{"type", "username", "validity", "uses", "note"} {
			if f[v] == nil {
				t.Errorf("no %s field", v)
			}
		}
		var opts []string
		for _, o := range f["validity"].children("", "option") {
			opts = append(opts, o.child("", "value").Text+"="+o.attr("label"))
		}
		// Up to max_ttl (720h), which is offered too.
		want := []string{"1h=1 hour", "12h=12 hours", "1d=1 day", "3d=3 days", "1w=1 week", "2w=2 weeks", "4w=4 weeks", "30d=30 days"}
		if !reflect.DeepEqual(opts, want) {
			t.Errorf("validity options %q, want %q", opts, want)
		}
		if f["type"].attr("type") != "list-single" || len(f["type"].children("", "option")) != 3 {
			t.Errorf("type field: %s", dumpElement(f["type"]))
		}
	})
	t.Run("create: every option", func(t *testing.T) {
		f := resultForm(t, submit(t, fc, admin, "ac2", nodeAdminCreate, "complete",
			"type", "account", "username", "carol", "validity", "2d", "uses", "1", "note", "for Carol"))
		if f["FORM_TYPE"] != nsInvitation || f["id"] != "inv12345" || f["expire"] == "" {
			t.Errorf("result form %q", f)
		}
		got := lastRequest(t, m)
		if got.Type != keystore.TypeAccount || got.Username != "carol" || got.TTL != 48*time.Hour || got.Uses != 1 || got.Note != "for Carol" {
			t.Errorf("request %+v", got)
		}
		resultForm(t, submit(t, fc, admin, "ac3", nodeAdminCreate, "complete", "type", "contact", "uses", "10", "validity", "1w"))
		if got := lastRequest(t, m); got.Type != keystore.TypeContact || got.Uses != 10 || got.TTL != 7*24*time.Hour {
			t.Errorf("request %+v", got)
		}
		resultForm(t, submit(t, fc, admin, "ac4", nodeAdminCreate, "complete", "type", "reset", "username", "bob"))
		if got := lastRequest(t, m); got.Type != keystore.TypeReset || got.Username != "bob" || got.Accounts != c {
			t.Errorf("reset request %+v: want bob, checked against the server", got)
		}
	})
	t.Run("create: bad input", func(t *testing.T) {
		n := len(m.requests())
		for i, fields := range [][]string{
			{"type", "admin"},
			{"validity", "3x"},
			{"validity", "0d"},
			{"uses", "0"},
			{"uses", "1001"},
			{"uses", "many"},
		} {
			wantCondition(t, submit(t, fc, admin, fmt.Sprintf("ac-bad%d", i), nodeAdminCreate, "complete", fields...), "bad-request")
		}
		if len(m.requests()) != n {
			t.Error("an invite was created from bad input")
		}
		// allow_never_expiring is off: the rules refuse it.
		e := submit(t, fc, admin, "ac-never", nodeAdminCreate, "complete", "validity", "never")
		wantCondition(t, e, "bad-request")
		if txt, _ := errorText(t, e); !strings.Contains(txt, "do not expire are not available") {
			t.Errorf("never: %q", txt)
		}
	})
	t.Run("create: refusals of the rules", func(t *testing.T) {
		for i, tc := range []struct {
			err       error
			cond, txt string
		}{
			{&invites.ValidationError{Field: "ttl", Msg: "must not exceed 720h"}, "bad-request", "at most 30 days"},
			{&invites.ValidationError{Field: "username", Msg: `"admin" is reserved`}, "bad-request", `username: "admin" is reserved`},
			{&invites.NotAllowedError{Rule: invites.RuleAdminOnly}, "forbidden", "Only admins"},
			{invites.ErrProtected, "forbidden", "command line"},
		} {
			m.setErr(tc.err)
			e := submit(t, fc, admin, fmt.Sprintf("ac-rule%d", i), nodeAdminCreate, "complete", "type", "reset", "username", "admin")
			wantCondition(t, e, tc.cond)
			if txt, _ := errorText(t, e); !strings.Contains(txt, tc.txt) {
				t.Errorf("%v: text %q, want %q", tc.err, txt, tc.txt)
			}
		}
		m.setErr(nil)
	})

	m.store(
		keystore.Invite{ID: "aaaaaaaa", Type: keystore.TypeContact, Creator: "xmpp:alice@example.test", Expires: testExpiry, MaxUses: 1},
		keystore.Invite{ID: "bbbbbbbb", Type: keystore.TypeAccount, Creator: "key:k1", Expires: keystore.Never, MaxUses: 5, Uses: 2},
	)
	t.Run("list", func(t *testing.T) {
		e := execute(t, fc, admin, "al1", nodeAdminList, "execute")
		wantType(t, e, "result")
		cmd := e.child(nsCommands, "command")
		x := cmd.child(nsData, "x")
		if cmd.attr("status") != "completed" || x == nil || x.attr("type") != "result" {
			t.Fatalf("answer %s", dumpElement(e))
		}
		if got := attrsOf(x.child("", "reported").children("", "field"), "var"); !reflect.DeepEqual(got, []string{"id", "type", "uses", "expire", "creator"}) {
			t.Errorf("columns %q", got)
		}
		var rows []string
		for _, it := range x.children("", "item") {
			var vals []string
			for _, f := range it.children("", "field") {
				vals = append(vals, f.child("", "value").Text)
			}
			rows = append(rows, strings.Join(vals, " "))
		}
		want := []string{"aaaaaaaa contact 0/1 2030-01-02T03:04:05Z xmpp:alice@example.test", "bbbbbbbb account 2/5 never key:k1"}
		if !reflect.DeepEqual(rows, want) {
			t.Errorf("rows %q, want %q", rows, want)
		}
		m.mu.Lock()
		o := m.listOpts[len(m.listOpts)-1]
		m.mu.Unlock()
		if !o.Newest || o.Limit != listMax+1 || o.All {
			t.Errorf("list options %+v: want the newest pending ones", o)
		}
	})
	t.Run("revoke", func(t *testing.T) {
		f := formStep(t, execute(t, fc, admin, "ar1", nodeAdminRevoke, "execute"))
		if f["id"] == nil || f["id"].child("", "required") == nil {
			t.Errorf("want a required id field")
		}
		e := submit(t, fc, admin, "ar2", nodeAdminRevoke, "complete", "id", "aaaaaaaa")
		wantType(t, e, "result")
		n := e.child(nsCommands, "command").child("", "note")
		if n == nil || n.attr("type") != "info" || !strings.Contains(n.Text, "aaaaaaaa is revoked") {
			t.Errorf("answer %s", dumpElement(e))
		}
		wantCondition(t, submit(t, fc, admin, "ar3", nodeAdminRevoke, "complete", "id", "aaaaaaaa"), "conflict")
		wantCondition(t, submit(t, fc, admin, "ar4", nodeAdminRevoke, "complete", "id", "nosuchid"), "item-not-found")
		wantCondition(t, submit(t, fc, admin, "ar5", nodeAdminRevoke, "complete", "id", ""), "bad-request")
		wantCondition(t, execute(t, fc, admin, "ar6", nodeAdminRevoke, "complete"), "bad-request")
	})
	t.Run("reset", func(t *testing.T) {
		f := formStep(t, execute(t, fc, admin, "rs1", nodeAdminReset, "execute"))
		if f["username"] == nil || f["username"].child("", "required") == nil {
			t.Errorf("want a required username field")
		}
		for i, user := range []string{"bob", "bob@example.test"} {
			rf := resultForm(t, submit(t, fc, admin, fmt.Sprintf("rs2-%d", i), nodeAdminReset, "complete", "username", user))
			if rf["FORM_TYPE"] != nsInvitation || rf["landing-url"] == "" || rf["id"] == "" {
				t.Errorf("result form %q", rf)
			}
			if got := lastRequest(t, m); got.Type != keystore.TypeReset || got.Username != "bob" || got.Accounts != c {
				t.Errorf("request %+v", got)
			}
		}
		n := len(m.requests())
		for i, user := range []string{"", "bob@elsewhere.test", "bob/res", "two words"} {
			wantCondition(t, submit(t, fc, admin, fmt.Sprintf("rs3-%d", i), nodeAdminReset, "complete", "username", user), "bad-request")
		}
		if len(m.requests()) != n {
			t.Error("a reset invite was created from bad input")
		}
	})
	t.Run("list failure", func(t *testing.T) {
		m.setErr(errors.New("disk on fire"))
		defer m.setErr(nil)
		e := execute(t, fc, admin, "al2", nodeAdminList, "execute")
		wantCondition(t, e, "internal-server-error")
		if strings.Contains(dumpElement(e), "fire") {
			t.Error("internal error text leaked")
		}
	})
}

func TestChatWords(t *testing.T) {
	fs := newFakeServer(t)
	m := &fakeMinter{}
	// Many words from few senders: the reply limit is not what this tests,
	// so its clock moves a minute for every message.
	var minutes atomic.Int64
	c, fc := connect(t, fs, m, func(c *Component) {
		c.replies.now = func() time.Time { return time.Unix(minutes.Add(60), 0) }
	})
	say := func(from, body string) string {
		t.Helper()
		return chat(t, fc, from, "chat", body)
	}

	t.Run("invite with uses and validity", func(t *testing.T) {
		for _, tc := range []struct {
			body string
			uses int
			ttl  time.Duration
		}{
			{"invite", 0, 0},
			{"invite 5", 5, 0},
			{"INVITE 3d", 0, 72 * time.Hour},
			{"invite 5 2w", 5, 14 * 24 * time.Hour},
			{"Invite 2 12H", 2, 12 * time.Hour},
		} {
			got := say(alice, tc.body)
			if !strings.Contains(got, "https://example.test/invite?") {
				t.Errorf("%q: answer %q", tc.body, got)
			}
			r := lastRequest(t, m)
			if r.Type != keystore.TypeContact || r.Uses != tc.uses || r.TTL != tc.ttl {
				t.Errorf("%q: request %+v, want uses %d ttl %v", tc.body, r, tc.uses, tc.ttl)
			}
			if tc.uses > 1 && !strings.Contains(got, fmt.Sprintf("works %d times", tc.uses)) {
				t.Errorf("%q: answer %q does not say the uses", tc.body, got)
			}
		}
	})
	t.Run("invite: bad grammar", func(t *testing.T) {
		n := len(m.requests())
		for body, want := range map[string]string{
			"invite soon":      "Usage: invite [USES] [VALIDITY]",
			"invite 5 2w more": "Usage: invite",
			"invite 2w 5":      "Usage: invite",
			"invite 3 0d":      "Usage: invite",
			"invite 0":         "between 1 and 1000",
			"invite 5000":      "between 1 and 1000",
			"invite -1":        "Usage: invite",
		} {
			if got := say(alice, body); !strings.Contains(got, want) {
				t.Errorf("%q: answer %q, want %q", body, got, want)
			}
		}
		if len(m.requests()) != n {
			t.Error("an invite was created from bad grammar")
		}
		// Refused by the rules: admins only, and allow_never_expiring is off.
		if got := say(alice, "invite never"); !strings.Contains(got, "Only admins can create invites that do not expire") {
			t.Errorf("alice: invite never: %q", got)
		}
		if got := say(admin, "invite never"); !strings.Contains(got, "do not expire are not available") {
			t.Errorf("admin: invite never: %q", got)
		}
	})
	t.Run("invite: validity over max_ttl", func(t *testing.T) {
		m.setErr(&invites.ValidationError{Field: "ttl", Msg: "must not exceed 720h"})
		defer m.setErr(nil)
		if got := say(alice, "invite 9w"); !strings.Contains(got, "at most 30 days") {
			t.Errorf("answer %q", got)
		}
	})
	t.Run("reset", func(t *testing.T) {
		got := say(admin, "reset bob")
		if !strings.Contains(got, "new password for bob@example.test") || !strings.Contains(got, "https://example.test/invite?") {
			t.Errorf("answer %q", got)
		}
		if r := lastRequest(t, m); r.Type != keystore.TypeReset || r.Username != "bob" || r.Accounts != c {
			t.Errorf("request %+v", r)
		}
		say(admin, "RESET bob@example.test")
		if r := lastRequest(t, m); r.Username != "bob" {
			t.Errorf("request %+v", r)
		}
		n := len(m.requests())
		for _, body := range []string{"reset", "reset bob carol", "reset bob@elsewhere.test"} {
			if got := say(admin, body); !strings.Contains(got, "Usage: reset USER") {
				t.Errorf("%q: answer %q", body, got)
			}
		}
		if got := say(alice, "reset bob"); !strings.Contains(got, "Only admins") {
			t.Errorf("alice: %q", got)
		}
		m.setErr(invites.ErrProtected)
		if got := say(admin, "reset admin"); !strings.Contains(got, "command line") {
			t.Errorf("protected: %q", got)
		}
		m.setErr(nil)
		if len(m.requests()) != n+1 { // the protected one reached the rules
			t.Errorf("%d requests, want %d", len(m.requests()), n+1)
		}
	})

	m.store(
		keystore.Invite{ID: "aaaaaaaa", Type: keystore.TypeContact, Creator: "xmpp:alice@example.test", Expires: testExpiry, MaxUses: 1},
		keystore.Invite{ID: "bbbbbbbb", Type: keystore.TypeAccount, Creator: "key:k1", Expires: keystore.Never, MaxUses: 5, Uses: 2},
	)
	t.Run("list", func(t *testing.T) {
		got := say(alice, "list")
		if !strings.Contains(got, "1 pending invite:\naaaaaaaa  contact  0/1  expires 2 January 2030, 03:04 UTC\n") ||
			strings.Contains(got, "bbbbbbbb") || strings.Contains(got, "xmpp:alice") {
			t.Errorf("alice's list %q", got)
		}
		got = say(admin, "LIST")
		if !strings.Contains(got, "2 pending invites:") || !strings.Contains(got, "aaaaaaaa  contact  0/1  expires 2 January 2030, 03:04 UTC  xmpp:alice@example.test") ||
			!strings.Contains(got, "bbbbbbbb  account  2/5  never expires  key:k1") {
			t.Errorf("admin's list %q", got)
		}
		if got := say("carol@example.test/x", "list"); !strings.Contains(got, "no pending invites") {
			t.Errorf("carol's list %q", got)
		}
		if got := say(alice, "list all"); !strings.Contains(got, "Usage: list") {
			t.Errorf("list all: %q", got)
		}
	})
	t.Run("revoke", func(t *testing.T) {
		if got := say("carol@example.test/x", "revoke aaaaaaaa"); !strings.Contains(got, "no such invite") {
			t.Errorf("carol revokes alice's: %q", got)
		}
		if got := say(alice, "revoke aaaaaaaa"); !strings.Contains(got, "aaaaaaaa is revoked") {
			t.Errorf("alice revokes hers: %q", got)
		}
		if got := say(alice, "revoke aaaaaaaa"); !strings.Contains(got, "already revoked") {
			t.Errorf("twice: %q", got)
		}
		if got := say(admin, "Revoke bbbbbbbb"); !strings.Contains(got, "bbbbbbbb is revoked") {
			t.Errorf("admin revokes a key's: %q", got)
		}
		for _, body := range []string{"revoke", "revoke a b"} {
			if got := say(alice, body); !strings.Contains(got, "Usage: revoke ID") {
				t.Errorf("%q: %q", body, got)
			}
		}
	})
	t.Run("help lists the sender's words", func(t *testing.T) {
		user, adm := say(alice, "help"), say(admin, "HELP")
		for _, w := range []string{`"invite USES VALIDITY"`, `"list" (your pending invites)`, `"revoke ID"`, `"help"`, `Send "login"`} {
			if !strings.Contains(user, w) {
				t.Errorf("user's help lacks %s: %q", w, user)
			}
		}
		if strings.Contains(user, "reset") {
			t.Errorf("user's help offers reset: %q", user)
		}
		for _, w := range []string{`"reset USER"`, `"list" (all pending invites)`, "ad-hoc commands of invites.example.test"} {
			if !strings.Contains(adm, w) {
				t.Errorf("admin's help lacks %s: %q", w, adm)
			}
		}
	})
	t.Run("strangers", func(t *testing.T) {
		for _, body := range []string{"list", "revoke aaaaaaaa", "reset bob", "invite 5"} {
			if got := say(stranger, body); !strings.Contains(got, "users of example.test only") {
				t.Errorf("%q: %q", body, got)
			}
		}
	})
}

// Never-expiring invites (allow_never_expiring): admins ask for them with
// the validity never, in the admin form and in a chat; resets always
// expire; the XEP-0401 form then has no expire field.
func TestNeverExpiring(t *testing.T) {
	fs := newFakeServer(t)
	m := &fakeMinter{allowNever: true}
	var minutes atomic.Int64
	_, fc := connect(t, fs, m, func(c *Component) {
		c.replies.now = func() time.Time { return time.Unix(minutes.Add(60), 0) }
	})

	f := formStep(t, execute(t, fc, admin, "n1", nodeAdminCreate, "execute"))
	opts := f["validity"].children("", "option")
	if last := opts[len(opts)-1]; last.child("", "value").Text != "never" {
		t.Errorf("validity options end with %s, want never", dumpElement(last))
	}
	rf := resultForm(t, submit(t, fc, admin, "n2", nodeAdminCreate, "complete", "type", "account", "validity", "never"))
	if _, ok := rf["expire"]; ok || rf["uri"] == "" {
		t.Errorf("result form %q: want no expire", rf)
	}
	if r := lastRequest(t, m); !r.Never || r.TTL != 0 {
		t.Errorf("request %+v, want Never", r)
	}
	e := submit(t, fc, admin, "n3", nodeAdminCreate, "complete", "type", "reset", "username", "bob", "validity", "never")
	wantCondition(t, e, "bad-request")
	if txt, _ := errorText(t, e); !strings.Contains(txt, "always expires") {
		t.Errorf("reset never: %q", txt)
	}

	if got := chat(t, fc, admin, "chat", "invite 3 NEVER"); !strings.Contains(got, "works 3 times and does not expire") {
		t.Errorf("admin's never invite: %q", got)
	}
	if r := lastRequest(t, m); !r.Never || r.Uses != 3 || r.Type != keystore.TypeContact {
		t.Errorf("request %+v", r)
	}
	if got := chat(t, fc, alice, "chat", "invite never"); !strings.Contains(got, "Only admins can create invites that do not expire") {
		t.Errorf("alice's never invite: %q", got)
	}

	m.mu.Lock()
	m.allowNever = false
	m.mu.Unlock()
	f = formStep(t, execute(t, fc, admin, "n4", nodeAdminCreate, "execute"))
	for _, o := range f["validity"].children("", "option") {
		if o.child("", "value").Text == "never" {
			t.Error("never offered where allow_never_expiring is off")
		}
	}
}
