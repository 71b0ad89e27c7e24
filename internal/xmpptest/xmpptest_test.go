package xmpptest

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/component"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

var kinds = []string{Prosody, Ejabberd}

const (
	nsDiscoItems = "http://jabber.org/protocol/disco#items"
	nodeCommands = "http://jabber.org/protocol/commands"
	nodeAddUser  = "http://jabber.org/protocol/admin#add-user"
)

// TestLoginKillRestart proves accounts created with Register work, wrong
// passwords fail, and data survives a crash and restart.
func TestLoginKillRestart(t *testing.T) {
	t.Parallel()
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			begin := time.Now()
			s := Start(t, kind, Options{Admins: []string{"admin@" + Domain}})
			t.Logf("%s ready in %v (c2s %s, component %s)", kind, time.Since(begin).Round(time.Millisecond), s.C2SAddr, s.ComponentAddr)

			begin = time.Now()
			s.Register(t, "admin", "admin-pw")
			s.Register(t, "alice", "alice-pw")
			t.Logf("two registrations took %v", time.Since(begin).Round(time.Millisecond))

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			login := func(user, pw string) error {
				sess, err := s.Login(t, ctx, user, pw)
				if err == nil {
					if got := sess.LocalAddr().Bare().String(); got != user+"@"+s.Domain {
						t.Errorf("bound JID = %s, want %s@%s", sess.LocalAddr(), user, s.Domain)
					}
					if sess.LocalAddr().Resourcepart() == "" {
						t.Errorf("bound JID %s has no resource", sess.LocalAddr())
					}
					sess.Close()
				}
				return err
			}
			if err := login("alice", "alice-pw"); err != nil {
				t.Fatalf("login alice with the right password: %v", err)
			}
			if err := login("alice", "wrong"); err == nil {
				t.Fatal("login alice with a wrong password succeeded, want an error")
			}
			if err := login("nobody", "alice-pw"); err == nil {
				t.Fatal("login as an unregistered user succeeded, want an error")
			}

			s.Kill(t)
			if err := login("alice", "alice-pw"); err == nil {
				t.Fatal("login succeeded on a killed server")
			}
			begin = time.Now()
			s.Restart(t)
			t.Logf("%s restarted in %v", kind, time.Since(begin).Round(time.Millisecond))
			if err := login("alice", "alice-pw"); err != nil {
				t.Fatalf("login alice after Kill+Restart: %v", err)
			}
			if err := login("admin", "admin-pw"); err != nil {
				t.Fatalf("login admin after Kill+Restart: %v", err)
			}

			begin = time.Now()
			s.Stop()
			t.Logf("%s stopped in %v", kind, time.Since(begin).Round(time.Millisecond))
			s.Stop() // idempotent
		})
	}
}

// TestComponent proves the XEP-0114 configuration: the handshake with the
// secret works (raw and with mellium), a wrong secret is refused, XEP-0356
// privileges are advertised, and the component sees the XEP-0133 commands.
func TestComponent(t *testing.T) {
	t.Parallel()
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			s := Start(t, kind, Options{Privilege: true})

			if c, err := dialComponent(s, "wrong-"+s.Secret); err == nil {
				c.conn.Close()
				t.Fatal("handshake with a wrong secret succeeded")
			} else if !strings.Contains(err.Error(), "not-authorized") {
				t.Errorf("handshake with a wrong secret: %v, want a not-authorized stream error", err)
			}

			c, err := dialComponent(s, s.Secret)
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			defer c.conn.Close()

			// The privilege advertisement comes unasked after the handshake;
			// the disco#items reply may overtake it.
			req := fmt.Sprintf(`<iq type='get' id='items1' from='%s' to='%s'><query xmlns='%s' node='%s'/></iq>`,
				s.ComponentJID, s.Domain, nsDiscoItems, nodeCommands)
			if _, err := io.WriteString(c.conn, req); err != nil {
				t.Fatal(err)
			}
			var perms map[string]string
			var items *element
			for perms == nil || items == nil {
				el, err := c.next(5 * time.Second)
				if err != nil {
					t.Fatalf("waiting for the privilege advertisement (got %v) and the disco#items reply (got %v): %v",
						perms != nil, items != nil, err)
				}
				switch {
				case el.XMLName.Local == "message" && strings.Contains(el.Inner, "urn:xmpp:privilege:"):
					perms, err = privileges(el.Inner)
					if err != nil {
						t.Fatalf("privilege advertisement %s: %v", el.Inner, err)
					}
				case el.XMLName.Local == "iq" && el.attr("id") == "items1":
					items = &el
				}
			}
			if perms["roster"] != "both" || perms["message"] != "outgoing" {
				t.Errorf("privileges = %v, want roster=both and message=outgoing", perms)
			}
			if items.attr("type") != "result" {
				t.Fatalf("disco#items on %s as the component: %s", nodeCommands, items.Inner)
			}
			if !strings.Contains(items.Inner, nodeAddUser) {
				t.Errorf("the component does not see %s (not an admin?): %s", nodeAddUser, items.Inner)
			}
			c.conn.Close()

			// mellium's component package, as the service uses it. The
			// server may take a moment to drop the previous connection.
			deadline := time.Now().Add(10 * time.Second)
			for {
				err := dialMellium(s)
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("mellium component session: %v", err)
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}

// TestAdmins proves Options.Admins: an admin sees the XEP-0133 commands, a
// plain user does not.
func TestAdmins(t *testing.T) {
	t.Parallel()
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			s := Start(t, kind, Options{Admins: []string{"admin@" + Domain}})
			s.Register(t, "admin", "admin-pw")
			s.Register(t, "alice", "alice-pw")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for _, tc := range []struct {
				user  string
				admin bool
			}{{"admin", true}, {"alice", false}} {
				sess, err := s.Login(t, ctx, tc.user, tc.user+"-pw")
				if err != nil {
					t.Fatalf("login %s: %v", tc.user, err)
				}
				go sess.Serve(nil)
				items, err := commandItems(ctx, sess, s.Domain)
				if err != nil {
					t.Fatalf("disco#items as %s: %v", tc.user, err)
				}
				if got := strings.Contains(items, nodeAddUser); got != tc.admin {
					t.Errorf("%s sees add-user: %v, want %v; items: %s", tc.user, got, tc.admin, items)
				}
			}
		})
	}
}

// TestIsolation runs two servers of each kind at once and proves they share
// neither ports nor data.
func TestIsolation(t *testing.T) {
	t.Parallel()
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			// Starting at the same time as the other tests' servers is the
			// concurrency test; these two then run side by side.
			a, b := Start(t, kind, Options{}), Start(t, kind, Options{})
			if a.C2SAddr == b.C2SAddr || a.ComponentAddr == b.ComponentAddr || a.Secret == b.Secret {
				t.Fatalf("instances share an address or secret: %+v %+v", a, b)
			}
			a.Register(t, "carol", "carol-pw")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := a.Login(t, ctx, "carol", "carol-pw"); err != nil {
				t.Fatalf("login on the first instance: %v", err)
			}
			if _, err := b.Login(t, ctx, "carol", "carol-pw"); err == nil {
				t.Fatal("an account of the first instance logs in on the second")
			}
		})
	}
}

// TestProsodyOptions starts Prosody with HTTP, further host modules and
// configuration lines, as cmd/invites-bench does: mod_invites_api, reached
// with a key made by Ctl, creates an invite over HTTP, into the SQL storage
// that the configuration lines select.
func TestProsodyOptions(t *testing.T) {
	t.Parallel()
	s := StartProsody(t, Options{HTTP: true, Modules: []string{"invites", "invites_api"},
		Config: []string{`storage = "sql"`, `sql = { driver = "SQLite3", database = "prosody.sqlite" }`}})
	if s.HTTPAddr == "" {
		t.Fatal("HTTPAddr is empty with HTTP set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := s.Ctl(ctx, "mod_invites_api", "create", s.Domain, "test")
	if err != nil {
		t.Fatalf("prosodyctl mod_invites_api create: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	key := strings.TrimSpace(lines[len(lines)-1])
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.HTTPAddr+"/invites_api?key="+url.QueryEscape(key), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = s.Domain
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Location") == "" {
		t.Fatalf("GET /invites_api: %s, Location %q; want 201 with an invite", resp.Status, resp.Header.Get("Location"))
	}
	if _, err := os.Stat(filepath.Join(s.dir, "data", "prosody.sqlite")); err != nil {
		t.Errorf("the Config lines did not select SQL storage: %v", err)
	}
}

// TestNewRefusesProsodyOptions checks that ejabberd refuses the options
// only Prosody has, before starting anything.
func TestNewRefusesProsodyOptions(t *testing.T) {
	if _, err := New(Ejabberd, t.TempDir(), Options{HTTP: true}); err == nil {
		t.Fatal("New(ejabberd) with HTTP: no error")
	}
}

// TestHostsOption checks Options.Hosts before anything starts, and the
// addresses of accounts on further hosts.
func TestHostsOption(t *testing.T) {
	for _, bad := range [][]string{{Domain}, {"b.test", "b.test"}, {"user@b.test"}, {"B.test"}} {
		if _, err := hosts(bad); err == nil {
			t.Errorf("hosts %q accepted", bad)
		}
	}
	s := &Server{Kind: Prosody, Domain: Domain, Hosts: []string{"b.test"}}
	for in, want := range map[string]string{"alice": "alice@" + Domain, "bob@b.test": "bob@b.test", "carol@" + Domain: "carol@" + Domain} {
		if got, err := s.address(in); err != nil || got.String() != want {
			t.Errorf("address(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	if _, err := s.address("eve@c.test"); err == nil {
		t.Error("address on a host the server does not have: no error")
	}
}

// TestAvailable checks the kind names.
func TestAvailable(t *testing.T) {
	if err := Available("openfire"); err == nil {
		t.Error(`Available("openfire") = nil, want an error`)
	}
	for _, kind := range kinds {
		t.Logf("Available(%q) = %v", kind, Available(kind))
	}
}

// element is any stanza, decoded loosely.
type element struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Inner   string     `xml:",innerxml"`
}

func (e element) attr(name string) string {
	for _, a := range e.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// privileges decodes a XEP-0356 advertisement (namespace version 1 or 2)
// into access → type.
func privileges(inner string) (map[string]string, error) {
	var p struct {
		Perms []struct {
			Access string `xml:"access,attr"`
			Type   string `xml:"type,attr"`
		} `xml:"perm"`
	}
	if err := xml.Unmarshal([]byte(inner), &p); err != nil {
		return nil, err
	}
	m := make(map[string]string)
	for _, perm := range p.Perms {
		m[perm.Access] = perm.Type
	}
	return m, nil
}

// rawComponent is a component stream driven by hand.
type rawComponent struct {
	conn net.Conn
	dec  *xml.Decoder
}

// next reads the next top-level element of the stream.
func (c *rawComponent) next(timeout time.Duration) (element, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
	for {
		tok, err := c.dec.Token()
		if err != nil {
			return element{}, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			var el element
			err := c.dec.DecodeElement(&el, &se)
			return el, err
		}
	}
}

// dialComponent performs the XEP-0114 handshake by hand: the handshake is
// the hex SHA-1 of the stream ID followed by the secret.
func dialComponent(s *Server, secret string) (*rawComponent, error) {
	conn, err := net.DialTimeout("tcp", s.ComponentAddr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c := &rawComponent{conn: conn, dec: xml.NewDecoder(conn)}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = fmt.Fprintf(conn, `<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='%s'>`, s.ComponentJID)
	if err != nil {
		conn.Close()
		return nil, err
	}
	var id string
	for id == "" {
		tok, err := c.dec.Token()
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("reading the stream header: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != "stream" {
				conn.Close()
				return nil, fmt.Errorf("got <%s> instead of a stream header", se.Name.Local)
			}
			for _, a := range se.Attr {
				if a.Name.Local == "id" {
					id = a.Value
				}
			}
			if id == "" {
				conn.Close()
				return nil, errors.New("stream header without id")
			}
		}
	}
	sum := sha1.Sum([]byte(id + secret))
	if _, err := fmt.Fprintf(conn, "<handshake>%s</handshake>", hex.EncodeToString(sum[:])); err != nil {
		conn.Close()
		return nil, err
	}
	el, err := c.next(10 * time.Second)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("waiting for the handshake reply: %w", err)
	}
	if el.XMLName.Local != "handshake" || strings.TrimSpace(el.Inner) != "" {
		conn.Close()
		return nil, fmt.Errorf("handshake answered with <%s>%s", el.XMLName.Local, el.Inner)
	}
	_ = conn.SetDeadline(time.Time{})
	return c, nil
}

// dialMellium opens and closes a session with mellium.im/xmpp/component.
func dialMellium(s *Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", s.ComponentAddr)
	if err != nil {
		return err
	}
	defer conn.Close()
	sess, err := component.NewSession(ctx, jid.MustParse(s.ComponentJID), []byte(s.Secret), conn)
	if err != nil {
		return err
	}
	return sess.Close()
}

// commandItems returns the raw disco#items reply for the ad-hoc commands
// node of the server.
func commandItems(ctx context.Context, sess *xmpp.Session, domain string) (string, error) {
	query := xmlstream.Wrap(nil, xml.StartElement{
		Name: xml.Name{Space: nsDiscoItems, Local: "query"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "node"}, Value: nodeCommands}},
	})
	resp, err := sess.SendIQElement(ctx, query, stanza.IQ{Type: stanza.GetIQ, To: jid.MustParse(domain)})
	if err != nil {
		return "", err
	}
	defer resp.Close()
	var b strings.Builder
	enc := xml.NewEncoder(&b)
	if _, err := xmlstream.Copy(enc, resp); err != nil {
		return "", err
	}
	if err := enc.Flush(); err != nil {
		return "", err
	}
	return b.String(), nil
}
