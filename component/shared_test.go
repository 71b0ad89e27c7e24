package component

import (
	"errors"
	"strings"
	"testing"
	"time"

	"xmpp-invites/invites"
	"xmpp-invites/metrics"
)

// sharedLink connects one link serving example.test (admin@example.test)
// and other.test (boss@other.test and root@elsewhere.test) to fs, whose
// other.test lists only change-user-password and grants roster privileges.
func sharedLink(t *testing.T, fs *fakeServer, mA, mB *fakeMinter, m *metrics.Metrics) (a, b *Component, fc *fakeConn) {
	t.Helper()
	fs.set(func(fs *fakeServer) {
		fs.others = []string{"other.test"}
		fs.domainCommands = map[string][]string{"other.test": {nodeChangePassword}}
		fs.privilege = "<message from='other.test' to='invites.example.test'><privilege xmlns='urn:xmpp:privilege:2'>" +
			"<perm access='roster' type='both'/></privilege></message>"
	})
	a, err := NewLink(Link{JID: fs.jid, Server: fs.addr(), Secret: fs.secret, Version: "1.2.3"}, []Domain{
		{Name: "example.test", Admins: []string{"admin@example.test"}, UserInvitesPerDay: 3, Minter: mA},
		{Name: "other.test", Admins: []string{"boss@other.test", "root@elsewhere.test"}, UserInvitesPerDay: 2, Minter: mB},
	}, testLogger(t), m)
	if err != nil {
		t.Fatal(err)
	}
	b = a.For("other.test")
	if b == nil || b.Domain() != "other.test" || a.Domain() != "example.test" {
		t.Fatalf("views: %v and %v", a, b)
	}
	startRun(t, a)
	fc = fs.nextConn(t)
	waitUp(t, a)
	return a, b, fc
}

func TestSharedLinkRights(t *testing.T) {
	fs := newFakeServer(t)
	m := metrics.New()
	a, b, _ := sharedLink(t, fs, &fakeMinter{}, &fakeMinter{}, m)
	if b.State() != "up" {
		t.Errorf("other.test's view: state %q, want up (one link)", b.State())
	}
	if a.For("nowhere.test") != nil || b.For("example.test") != a {
		t.Error("For: wrong views")
	}
	eventually(t, "both reports", func() bool {
		_, okA := a.Rights()
		_, okB := b.Rights()
		return okA && okB
	})
	ra, _ := a.Rights()
	rb, _ := b.Rights()
	if !ra.CanCreateAccounts || len(ra.Privileges) != 0 {
		t.Errorf("example.test: %+v, want add-user and no privileges", ra)
	}
	if rb.CanCreateAccounts || !rb.CanChangePasswords || rb.Privileges["roster"] != "both" {
		t.Errorf("other.test: %+v, want change-user-password only and roster=both", rb)
	}
	if err := a.AddMutualContacts(ctxT(t, time.Second), "x@example.test", "y@example.test"); !errors.Is(err, invites.ErrUnsupported) {
		t.Errorf("example.test's AddMutualContacts: %v, want ErrUnsupported (the roster permission is other.test's)", err)
	}
	body := scrape(t, m)
	for _, want := range []string{`domain="example.test"} 1`, `domain="other.test"} 1`} {
		if !strings.Contains(body, "xmpp_invites_component_up{"+want) {
			t.Errorf("metrics lack component_up{%s:\n%s", want, body)
		}
	}
}

func TestSharedLinkRoutesByDomain(t *testing.T) {
	fs := newFakeServer(t)
	mA, mB := &fakeMinter{}, &fakeMinter{}
	type cmdReq struct{ to, account string }
	got := make(chan cmdReq, 10)
	fs.set(func(fs *fakeServer) {
		fs.handle = func(fc *fakeConn, e *element) bool {
			cmd := e.child(nsCommands, "command")
			if cmd == nil || e.attr("type") != "set" {
				return false
			}
			got <- cmdReq{e.attr("to"), strings.Join(formValues(cmd.child(nsData, "x"), "accountjid"), ",")}
			fc.reply(e, "result", completed(cmd.attr("node"), ""))
			return true
		}
	})
	a, b, fc := sharedLink(t, fs, mA, mB, nil)

	t.Run("accounts go to the view's domain", func(t *testing.T) {
		if err := b.CreateAccount(ctxT(t, 5*time.Second), "bob", "pw"); err != nil {
			t.Fatalf("other.test: CreateAccount: %v", err)
		}
		if r := <-got; r != (cmdReq{"other.test", "bob@other.test"}) {
			t.Errorf("other.test's add-user %+v, want to other.test for bob@other.test", r)
		}
		if err := a.CreateAccount(ctxT(t, 5*time.Second), "bob", "pw"); err != nil {
			t.Fatalf("example.test: CreateAccount: %v", err)
		}
		if r := <-got; r != (cmdReq{"example.test", "bob@example.test"}) {
			t.Errorf("example.test's add-user %+v, want to example.test for bob@example.test", r)
		}
	})
	t.Run("chat of a user of other.test", func(t *testing.T) {
		chat(t, fc, "bob@other.test/x", "chat", "invite")
		if n := len(mA.requests()); n != 0 {
			t.Errorf("example.test minted %d invites for a user of other.test", n)
		}
		if p := mB.people(); len(p) != 1 || p[0] != (invites.Person{JID: "bob@other.test"}) {
			t.Errorf("other.test minted for %+v, want bob@other.test", p)
		}
		mB.setErr(invites.ErrQuota)
		defer mB.setErr(nil)
		if got := chat(t, fc, "bob@other.test/x", "chat", "invite"); !strings.Contains(got, "limit of 2 invites per day") {
			t.Errorf("quota of other.test: %q", got)
		}
	})
	t.Run("commands by each domain's admins", func(t *testing.T) {
		resultForm(t, execute(t, fc, "boss@other.test/y", "s1", nodeCreateAccount, "complete"))
		p := mB.people()
		if last := p[len(p)-1]; last != (invites.Person{JID: "boss@other.test", Admin: true}) {
			t.Errorf("other.test minted for %+v, want its admin", last)
		}
		wantCondition(t, execute(t, fc, "bob@other.test/y", "s3", nodeCreateAccount, "complete"), "forbidden")
		// An admin of example.test acts for example.test.
		resultForm(t, execute(t, fc, "admin@example.test/y", "s4", nodeCreateAccount, "complete"))
		if p := mA.people(); len(p) != 1 || !p[0].Admin {
			t.Errorf("example.test minted for %+v, want its admin once", p)
		}
	})
	t.Run("strangers hear every domain", func(t *testing.T) {
		if got := chat(t, fc, stranger, "chat", "invite"); !strings.Contains(got, "users of example.test, other.test only") {
			t.Errorf("stranger: %q", got)
		}
		e := execute(t, fc, stranger, "s5", nodeInvite, "execute")
		wantCondition(t, e, "forbidden")
		if !strings.Contains(dumpElement(e), "example.test, other.test") {
			t.Errorf("stranger's command: %s", dumpElement(e))
		}
	})
	t.Run("an outside admin signs in to the domain listing them", func(t *testing.T) {
		chat(t, fc, "root@elsewhere.test/x", "chat", "login")
		if got := mB.signInRequests(); len(got) != 1 || got[0] != "root@elsewhere.test chat" {
			t.Errorf("other.test's sign-ins %q, want root@elsewhere.test's", got)
		}
		if got := mA.signInRequests(); len(got) != 0 {
			t.Errorf("example.test's sign-ins %q, want none", got)
		}
	})
}

func TestNewLinkValidates(t *testing.T) {
	link := Link{JID: "invites.example.com", Server: "127.0.0.1:5347", Secret: "s"}
	for _, tc := range []struct {
		name    string
		domains []Domain
		want    string
	}{
		{"none", nil, "at least one"},
		{"twice", []Domain{{Name: "a.example", Minter: &fakeMinter{}}, {Name: "A.example", Minter: &fakeMinter{}}}, "twice"},
		{"no minter", []Domain{{Name: "a.example", Minter: &fakeMinter{}}, {Name: "b.example"}}, "minter"},
		{"jid is a domain", []Domain{{Name: "a.example", Minter: &fakeMinter{}}, {Name: "invites.example.com", Minter: &fakeMinter{}}}, "differ"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewLink(link, tc.domains, nil, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewLink: %v, want an error about %q", err, tc.want)
			}
		})
	}
}

func TestCheckLinkReportsEachDomain(t *testing.T) {
	fs := newFakeServer(t)
	fs.set(func(fs *fakeServer) {
		fs.others = []string{"other.test"}
		fs.domainCommands = map[string][]string{"other.test": {nodeChangePassword}}
		fs.privilege = "<message from='other.test' to='invites.example.test'><privilege xmlns='urn:xmpp:privilege:2'>" +
			"<perm access='roster' type='both'/></privilege></message>"
	})
	reps, err := CheckLink(ctxT(t, 10*time.Second), Link{JID: fs.jid, Server: fs.addr(), Secret: fs.secret},
		[]string{"example.test", "other.test"}, testLogger(t))
	if err != nil || len(reps) != 2 {
		t.Fatalf("CheckLink: %v, %d reports", err, len(reps))
	}
	if !reps[0].CanCreateAccounts || len(reps[0].Privileges) != 0 {
		t.Errorf("example.test: %+v, want add-user and no privileges", reps[0])
	}
	if reps[1].CanCreateAccounts || !reps[1].CanChangePasswords || reps[1].Privileges["roster"] != "both" {
		t.Errorf("other.test: %+v, want change-user-password and roster=both only", reps[1])
	}
	if n := fs.accepts.Load(); n != 1 {
		t.Errorf("%d connections, want one for the link", n)
	}
}
