package component

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mellium.im/xmpp/jid"
)

// fakeServer is a scripted XEP-0114 server on 127.0.0.1:0. It performs the
// handshake, answers the requests a real server answers for the component
// (ping, the command list, XEP-0133 through a test hook), routes test
// stanzas to the component, and checks that every stanza the component
// sends carries from = its JID.
type fakeServer struct {
	t      *testing.T
	ln     net.Listener
	jid    string // the component's JID
	domain string
	secret string

	accepts atomic.Int32 // TCP connections accepted
	conns   chan *fakeConn

	mu sync.Mutex
	// mode decides what happens to the n-th connection (1-based).
	mode func(n int) connMode
	// privilege is sent as a message from the domain after the handshake.
	privilege string
	// commands are listed at disco#items node=commands on the domain.
	commands []string
	// others are further domains the server answers for, as for domain;
	// domainCommands, when set for a domain, replaces commands there.
	others         []string
	domainCommands map[string][]string
	// handle may answer a stanza from the component; true means handled.
	handle func(fc *fakeConn, e *element) bool
	// noPong stops answering pings.
	noPong bool
	// silentClose leaves the component's </stream:stream> unanswered.
	silentClose bool
	badFrom     []string
	current     *fakeConn
}

// connMode is the fate of one accepted connection.
type connMode int

const (
	modeOK     connMode = iota // handshake and serve
	modeReject                 // not-authorized stream error
	modeDrop                   // close TCP right after accept
	modeClose                  // handshake, then </stream:stream>
)

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs := &fakeServer{
		t: t, ln: ln, jid: "invites.example.test", domain: "example.test", secret: "s3cret",
		conns:    make(chan *fakeConn, 100),
		commands: []string{nodeAddUser, nodeChangePassword, nodeDeleteUser},
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		fs.mu.Lock()
		if fs.current != nil {
			fs.current.conn.Close()
		}
		bad := fs.badFrom
		fs.mu.Unlock()
		wg.Wait()
		for _, b := range bad {
			t.Errorf("component sent a stanza without from=%s: %s", fs.jid, b)
		}
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			n := int(fs.accepts.Add(1))
			wg.Add(1)
			go func() {
				defer wg.Done()
				fs.serve(conn, n)
			}()
		}
	}()
	return fs
}

func (fs *fakeServer) addr() string { return fs.ln.Addr().String() }

func (fs *fakeServer) set(f func(fs *fakeServer)) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f(fs)
}

// config returns a component config for this server.
func (fs *fakeServer) config() Config {
	return Config{
		JID: fs.jid, Server: fs.addr(), Secret: fs.secret, Domain: fs.domain,
		Admins: []string{"admin@example.test"}, UserInvitesPerDay: 3, Version: "1.2.3",
	}
}

// fakeConn is one accepted component connection.
type fakeConn struct {
	fs       *fakeServer
	n        int
	conn     net.Conn
	wmu      sync.Mutex
	in       chan *element // stanzas not answered by the server itself
	done     chan struct{} // closed when the reader ends
	gotClose atomic.Bool   // the component sent </stream:stream>
}

func (fs *fakeServer) serve(conn net.Conn, n int) {
	defer conn.Close()
	fs.mu.Lock()
	mode := modeOK
	if fs.mode != nil {
		mode = fs.mode(n)
	}
	priv := fs.privilege
	fs.mu.Unlock()
	if mode == modeDrop {
		return
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	d := xml.NewDecoder(conn)
	start, err := nextStart(d)
	if err != nil || start.Name.Local != "stream" {
		return
	}
	id := fmt.Sprintf("stream%d", n)
	fmt.Fprintf(conn, "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "+
		"xmlns:stream='http://etherx.jabber.org/streams' from='%s' id='%s'>", fs.jid, id)
	start, err = nextStart(d)
	if err != nil || start.Name.Local != "handshake" {
		return
	}
	var hs struct {
		Value string `xml:",chardata"`
	}
	if err := d.DecodeElement(&hs, &start); err != nil {
		return
	}
	sum := sha1.Sum([]byte(id + fs.secret))
	if mode == modeReject || hs.Value != hex.EncodeToString(sum[:]) {
		fmt.Fprint(conn, "<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>")
		return
	}
	_ = conn.SetDeadline(time.Time{})
	fmt.Fprint(conn, "<handshake/>")
	if mode == modeClose {
		fmt.Fprint(conn, "</stream:stream>")
		// Wait for the component's side of the close, then hang up.
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		for {
			if _, err := d.Token(); err != nil {
				return
			}
		}
	}
	fc := &fakeConn{fs: fs, n: n, conn: conn, in: make(chan *element, 100), done: make(chan struct{})}
	defer close(fc.done)
	if priv != "" {
		fc.send(priv)
	}
	fs.mu.Lock()
	fs.current = fc
	fs.mu.Unlock()
	select {
	case fs.conns <- fc:
	default: // nobody is waiting for it
	}
	for {
		tok, err := d.Token()
		if err != nil {
			return
		}
		switch t := tok.(type) {
		case xml.EndElement:
			if t.Name.Local == "stream" {
				fc.gotClose.Store(true)
				fs.mu.Lock()
				silent := fs.silentClose
				fs.mu.Unlock()
				if silent {
					_, _ = io.Copy(io.Discard, conn) // until the component hangs up
					return
				}
				fc.send("</stream:stream>")
				return
			}
		case xml.StartElement:
			var e element
			if err := d.DecodeElement(&e, &t); err != nil {
				return
			}
			// ejabberd wants the component's domain as the sender's
			// domain; answers to IQs sent to user@component or to
			// component/resource carry those addresses.
			if f, err := jid.Parse(e.attr("from")); err != nil || e.attr("from") == "" || f.Domainpart() != fs.jid {
				fs.mu.Lock()
				fs.badFrom = append(fs.badFrom, dumpElement(&e))
				fs.mu.Unlock()
			}
			if !fs.answer(fc, &e) {
				fc.in <- &e
			}
		}
	}
}

func nextStart(d *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		if s, ok := tok.(xml.StartElement); ok {
			return s, nil
		}
	}
}

// answer plays the server's part for stanzas addressed to the domain.
func (fs *fakeServer) answer(fc *fakeConn, e *element) bool {
	fs.mu.Lock()
	handle, noPong, cmds := fs.handle, fs.noPong, fs.commands
	to := e.attr("to")
	served := to == fs.domain || slices.Contains(fs.others, to)
	if dc, ok := fs.domainCommands[to]; ok {
		cmds = dc
	}
	fs.mu.Unlock()
	if handle != nil && handle(fc, e) {
		return true
	}
	if e.XMLName.Local != "iq" || !served {
		return false
	}
	p := e.payload()
	switch {
	case p == nil:
		return false
	case p.XMLName.Space == nsPing:
		if !noPong {
			fc.send(fmt.Sprintf("<iq type='result' from='%s' to='%s' id='%s'/>", to, fs.jid, e.attr("id")))
		}
		return true
	case p.XMLName.Space == nsDiscoItems && p.attr("node") == nsCommands:
		var b strings.Builder
		for _, n := range cmds {
			fmt.Fprintf(&b, "<item jid='%s' node='%s' name='x'/>", to, n)
		}
		fc.send(fmt.Sprintf("<iq type='result' from='%s' to='%s' id='%s'><query xmlns='%s' node='%s'>%s</query></iq>",
			to, fs.jid, e.attr("id"), nsDiscoItems, nsCommands, b.String()))
		return true
	}
	return false
}

// send writes raw XML to the component.
func (fc *fakeConn) send(s string) {
	fc.wmu.Lock()
	defer fc.wmu.Unlock()
	_, _ = fc.conn.Write([]byte(s))
}

// reply answers the IQ e from the domain with a raw payload (may be "")
// and type typ ("result" or "error").
func (fc *fakeConn) reply(e *element, typ, payload string) {
	fc.send(fmt.Sprintf("<iq type='%s' from='%s' to='%s' id='%s'>%s</iq>",
		typ, e.attr("to"), fc.fs.jid, e.attr("id"), payload))
}

// await returns the next unanswered stanza that matches, failing the test
// after 5 s. Stanzas that do not match are dropped.
func (fc *fakeConn) await(t *testing.T, what string, match func(e *element) bool) *element {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case e := <-fc.in:
			if match(e) {
				return e
			}
			t.Logf("fake server: skipped %s", dumpElement(e))
		case <-timeout:
			t.Fatalf("fake server: no %s from the component within 5s", what)
			return nil
		}
	}
}

// awaitID returns the stanza with the given id.
func (fc *fakeConn) awaitID(t *testing.T, id string) *element {
	t.Helper()
	return fc.await(t, "stanza id="+id, func(e *element) bool { return e.attr("id") == id })
}

// hangUpHard makes the fake server close its side of this connection with a
// reset instead of a FIN, so that the connection leaves no socket in
// TIME_WAIT. A fuzz target opens a link per input, thousands a second, and
// every TIME_WAIT socket holds a loopback port for a minute: without this,
// binding the next fake server's listener fails with "address already in
// use" after about a minute of fuzzing.
func (fc *fakeConn) hangUpHard(t *testing.T) {
	t.Helper()
	if tc, ok := fc.conn.(*net.TCPConn); ok {
		if err := tc.SetLinger(0); err != nil {
			t.Fatalf("fake server: SetLinger: %v", err)
		}
	}
}

// quiet fails the test if the component sends an unanswered stanza within d.
func (fc *fakeConn) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case e := <-fc.in:
		t.Fatalf("component sent %s, want nothing", dumpElement(e))
	case <-time.After(d):
	}
}

// nextConn waits for the next connection that completed the handshake.
func (fs *fakeServer) nextConn(t *testing.T) *fakeConn {
	t.Helper()
	select {
	case fc := <-fs.conns:
		return fc
	case <-time.After(10 * time.Second):
		t.Fatalf("fake server: no component connection within 10s (accepts: %d)", fs.accepts.Load())
		return nil
	}
}

// dumpElement prints an element compactly for failure messages.
func dumpElement(e *element) string {
	if e == nil {
		return "<nil>"
	}
	var b strings.Builder
	var rec func(e *element)
	rec = func(e *element) {
		fmt.Fprintf(&b, "<%s", e.XMLName.Local)
		if e.XMLName.Space != "" && e.XMLName.Space != "jabber:component:accept" {
			fmt.Fprintf(&b, " xmlns=%q", e.XMLName.Space)
		}
		for _, a := range e.Attrs {
			if a.Name.Local != "xmlns" {
				fmt.Fprintf(&b, " %s=%q", a.Name.Local, a.Value)
			}
		}
		b.WriteString(">")
		b.WriteString(strings.TrimSpace(e.Text))
		for i := range e.Children {
			rec(&e.Children[i])
		}
		fmt.Fprintf(&b, "</%s>", e.XMLName.Local)
	}
	rec(e)
	return b.String()
}
