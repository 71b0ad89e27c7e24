package component

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"xmpp-invites/invites"
)

// adminServer scripts the server's side of XEP-0133: answer returns the
// payload XML and the IQ type for each command request, in order.
type adminServer struct {
	reqs chan *element
}

func scriptAdmin(t *testing.T, fs *fakeServer, answer func(n int, cmd *element) (typ, payload string)) *adminServer {
	t.Helper()
	a := &adminServer{reqs: make(chan *element, 1000)}
	n := 0
	fs.set(func(fs *fakeServer) {
		fs.handle = func(fc *fakeConn, e *element) bool {
			cmd := e.child(nsCommands, "command")
			if cmd == nil || e.attr("to") != fs.domain {
				return false
			}
			if e.attr("type") != "set" {
				t.Errorf("command request of type %q, want set", e.attr("type"))
			}
			n++
			select {
			case a.reqs <- e:
			default:
			}
			typ, payload := answer(n, cmd)
			fc.reply(e, typ, payload)
			return true
		}
	})
	return a
}

func (a *adminServer) requests() []*element {
	var out []*element
	for {
		select {
		case e := <-a.reqs:
			out = append(out, e.child(nsCommands, "command"))
		default:
			return out
		}
	}
}

func completed(node, inner string) string {
	return fmt.Sprintf("<command xmlns='%s' node='%s' sessionid='s1' status='completed'>%s</command>", nsCommands, node, inner)
}

func note(typ, text string) string { return fmt.Sprintf("<note type='%s'>%s</note>", typ, text) }

func stanzaErr(typ, cond, text string) string {
	t := ""
	if text != "" {
		t = "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>" + text + "</text>"
	}
	return fmt.Sprintf("<error type='%s'><%s xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>%s</error>", typ, cond, t)
}

// submitted returns the fields of the submitted form in a command request.
func submitted(t *testing.T, cmd *element) map[string][]string {
	t.Helper()
	x := cmd.child(nsData, "x")
	if x == nil {
		return nil
	}
	if x.attr("type") != "submit" {
		t.Errorf("form type %q, want submit", x.attr("type"))
	}
	out := map[string][]string{}
	for _, f := range x.children("", "field") {
		out[f.attr("var")] = formValues(x, f.attr("var"))
	}
	return out
}

func TestCreateAccount(t *testing.T) {
	for _, tc := range []struct {
		name    string
		answers []func(cmd *element) (string, string)
		wantErr error  // errors.Is
		wantMsg string // in the error text
		steps   int
	}{
		{"prosody success", []func(*element) (string, string){
			func(*element) (string, string) {
				return "result", completed(nodeAddUser, note("info", "Account successfully created"))
			}}, nil, "", 1},
		{"ejabberd success", []func(*element) (string, string){
			func(*element) (string, string) { return "result", completed(nodeAddUser, "") }}, nil, "", 1},
		{"prosody taken", []func(*element) (string, string){
			func(*element) (string, string) {
				return "result", completed(nodeAddUser, note("error", "Account already exists"))
			}}, invites.ErrUsernameTaken, "", 1},
		{"ejabberd taken", []func(*element) (string, string){
			func(*element) (string, string) { return "error", stanzaErr("cancel", "conflict", "") }}, invites.ErrUsernameTaken, "", 1},
		{"not an admin", []func(*element) (string, string){
			func(*element) (string, string) { return "error", stanzaErr("auth", "forbidden", "") }}, ErrNotAdmin, "make invites.example.test an admin of example.test", 1},
		{"not an admin (not-authorized)", []func(*element) (string, string){
			func(*element) (string, string) { return "error", stanzaErr("auth", "not-authorized", "") }}, ErrNotAdmin, "", 1},
		{"command not offered", []func(*element) (string, string){
			func(*element) (string, string) { return "error", stanzaErr("cancel", "service-unavailable", "") }}, invites.ErrUnsupported, "", 1},
		{"other error note", []func(*element) (string, string){
			func(*element) (string, string) {
				return "result", completed(nodeAddUser, note("error", "Failed to write data to disk"))
			}}, nil, "Failed to write data to disk", 1},
		{"two steps after bad-request", []func(*element) (string, string){
			func(*element) (string, string) { return "error", stanzaErr("modify", "bad-request", "") },
			func(*element) (string, string) {
				return "result", fmt.Sprintf("<command xmlns='%s' node='%s' sessionid='abc' status='executing'><x xmlns='jabber:x:data' type='form'><field var='accountjid'/></x></command>", nsCommands, nodeAddUser)
			},
			func(*element) (string, string) { return "result", completed(nodeAddUser, "") },
		}, nil, "", 3},
		{"a form instead of the result", []func(*element) (string, string){
			func(*element) (string, string) {
				return "result", fmt.Sprintf("<command xmlns='%s' node='%s' sessionid='abc' status='executing'><x xmlns='jabber:x:data' type='form'/></command>", nsCommands, nodeAddUser)
			},
			func(*element) (string, string) { return "result", completed(nodeAddUser, "") },
		}, nil, "", 2},
		{"unexpected status", []func(*element) (string, string){
			func(*element) (string, string) {
				return "result", fmt.Sprintf("<command xmlns='%s' node='%s' sessionid='s' status='canceled'/>", nsCommands, nodeAddUser)
			}}, nil, "status \"canceled\"", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeServer(t)
			a := scriptAdmin(t, fs, func(n int, cmd *element) (string, string) {
				if n > len(tc.answers) {
					t.Errorf("unexpected request %d", n)
					return "error", stanzaErr("cancel", "bad-request", "")
				}
				return tc.answers[n-1](cmd)
			})
			c, _ := connect(t, fs, nil, nil)
			err := c.CreateAccount(ctxT(t, 5*time.Second), "bob", "correct horse")
			switch {
			case tc.wantErr == nil && tc.wantMsg == "" && err != nil:
				t.Fatalf("CreateAccount: %v", err)
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Fatalf("CreateAccount: %v, want %v", err, tc.wantErr)
			case tc.wantMsg != "" && (err == nil || !strings.Contains(err.Error(), tc.wantMsg)):
				t.Fatalf("CreateAccount: %v, want an error saying %q", err, tc.wantMsg)
			}
			if tc.wantErr != invites.ErrUsernameTaken && errors.Is(err, invites.ErrUsernameTaken) {
				t.Errorf("CreateAccount: %v must not mean a taken username", err)
			}
			reqs := a.requests()
			if len(reqs) != tc.steps {
				t.Fatalf("%d requests, want %d", len(reqs), tc.steps)
			}
			fields := map[string][]string{
				"FORM_TYPE": {nsAdmin}, "accountjid": {"bob@example.test"},
				"password": {"correct horse"}, "password-verify": {"correct horse"},
			}
			first := reqs[0]
			if first.attr("node") != nodeAddUser || first.attr("action") != "complete" || first.attr("sessionid") != "" {
				t.Errorf("first request %s: want action complete without session", dumpElement(first))
			}
			if got := submitted(t, first); !reflect.DeepEqual(got, fields) {
				t.Errorf("first form %v, want %v", got, fields)
			}
			if tc.steps == 3 {
				if reqs[1].attr("action") != "execute" || reqs[1].child(nsData, "x") != nil {
					t.Errorf("second request %s: want a bare execute", dumpElement(reqs[1]))
				}
			}
			if tc.steps > 1 {
				last := reqs[len(reqs)-1]
				if last.attr("action") != "complete" || last.attr("sessionid") != "abc" || !reflect.DeepEqual(submitted(t, last), fields) {
					t.Errorf("last request %s: want complete with the session and the form", dumpElement(last))
				}
			}
		})
	}
}

func TestCreateAccountRefusesBadInput(t *testing.T) {
	fs := newFakeServer(t)
	a := scriptAdmin(t, fs, func(int, *element) (string, string) { return "result", completed(nodeAddUser, "") })
	c, _ := connect(t, fs, nil, nil)
	ctx := ctxT(t, 5*time.Second)
	for _, tc := range [][2]string{{"", "password"}, {"a b", "password"}, {"bob@x", "password"}, {"bob", ""}} {
		if err := c.CreateAccount(ctx, tc[0], tc[1]); err == nil {
			t.Errorf("CreateAccount(%q, %q) accepted", tc[0], tc[1])
		}
	}
	if n := len(a.requests()); n != 0 {
		t.Errorf("%d requests sent for bad input", n)
	}
}

func TestChangePasswordAndDelete(t *testing.T) {
	fs := newFakeServer(t)
	var answer string
	a := scriptAdmin(t, fs, func(int, *element) (string, string) { return "result", answer })
	c, _ := connect(t, fs, nil, nil)
	ctx := ctxT(t, 5*time.Second)

	answer = completed(nodeChangePassword, note("info", "Password successfully changed"))
	if err := c.ChangePassword(ctx, "bob", "new password"); err != nil {
		t.Fatal(err)
	}
	req := a.requests()[0]
	want := map[string][]string{"FORM_TYPE": {nsAdmin}, "accountjid": {"bob@example.test"}, "password": {"new password"}}
	if req.attr("node") != nodeChangePassword || !reflect.DeepEqual(submitted(t, req), want) {
		t.Errorf("change-user-password request %s", dumpElement(req))
	}

	answer = completed(nodeChangePassword, note("error", "User does not exist"))
	if err := c.ChangePassword(ctx, "nobody", "new password"); err == nil || !strings.Contains(err.Error(), "User does not exist") {
		t.Errorf("ChangePassword of a missing user: %v", err)
	}
	a.requests()

	answer = completed(nodeDeleteUser, "")
	if err := c.DeleteAccount(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	req = a.requests()[0]
	want = map[string][]string{"FORM_TYPE": {nsAdmin}, "accountjids": {"bob@example.test"}}
	if req.attr("node") != nodeDeleteUser || !reflect.DeepEqual(submitted(t, req), want) {
		t.Errorf("delete-user request %s", dumpElement(req))
	}
}

func TestAccountExists(t *testing.T) {
	lastLogin := func(v string) string {
		return completed(nodeLastLogin, "<x xmlns='jabber:x:data' type='form'><field var='accountjid'><value>bob@example.test</value></field><field var='lastlogin'><value>"+v+"</value></field></x>")
	}
	for _, tc := range []struct {
		name     string
		commands []string
		typ      string
		answer   string
		want     bool
		wantErr  error
	}{
		{"ejabberd: registered", []string{nodeAddUser, nodeLastLogin, nodeUserStats}, "result", lastLogin("2026-11-28 00:43:15"), true, nil},
		{"ejabberd: online", []string{nodeLastLogin}, "result", lastLogin("Online"), true, nil},
		{"ejabberd: no account", []string{nodeLastLogin, nodeUserStats}, "result", lastLogin("Never"), false, nil},
		{"prosody: account", []string{nodeAddUser, nodeUserStats}, "result",
			completed(nodeUserStats, "<x xmlns='jabber:x:data' type='result'><field var='rostersize'><value>0</value></field></x>"), true, nil},
		{"prosody: no account", []string{nodeUserStats}, "result", completed(nodeUserStats, note("error", "User does not exist")), false, nil},
		{"refused", []string{nodeUserStats}, "error", stanzaErr("auth", "forbidden", ""), false, ErrNotAdmin},
		{"no way to ask", []string{nodeAddUser}, "", "", false, invites.ErrUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeServer(t)
			fs.set(func(fs *fakeServer) { fs.commands = tc.commands })
			a := scriptAdmin(t, fs, func(int, *element) (string, string) { return tc.typ, tc.answer })
			c, _ := connect(t, fs, nil, nil)
			got, err := c.AccountExists(ctxT(t, 5*time.Second), "bob")
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("AccountExists: %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("AccountExists = %v, %v; want %v", got, err, tc.want)
			}
			req := a.requests()[0]
			if f := submitted(t, req); !reflect.DeepEqual(f["accountjid"], []string{"bob@example.test"}) {
				t.Errorf("request %s", dumpElement(req))
			}
		})
	}
}

func TestAccountOpsConcurrent(t *testing.T) {
	// Many account operations at once over one link: every reply must reach
	// its caller (no lost replies, no deadlock with Serve).
	fs := newFakeServer(t)
	scriptAdmin(t, fs, func(int, *element) (string, string) { return "result", completed(nodeAddUser, "") })
	c, _ := connect(t, fs, nil, nil)
	ctx := ctxT(t, 20*time.Second)
	errs := make(chan error, 100)
	for i := 0; i < 100; i++ {
		go func() { errs <- c.CreateAccount(ctx, fmt.Sprintf("user%d", i), "password") }()
	}
	for i := 0; i < 100; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
