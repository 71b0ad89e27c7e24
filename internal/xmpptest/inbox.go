package xmpptest

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// Message is a chat or normal message an Inbox received.
type Message struct {
	From string // as the server stamped it: "invites.example.test", "alice@example.test/res"
	Type string // "chat" or "normal"
	Body string // the first <body>
	// Room is the room of a XEP-0249 direct invitation (<x
	// xmlns='jabber:x:conference' jid='room@…'/>), else "". Invitations
	// come without a body: only WaitForInvitation takes them.
	Room string
}

// Inbox is a logged-in XMPP client, as a person's app would be: it has sent
// its initial presence and collects the chat and normal messages with a
// body that it receives, and XEP-0249 direct invitations (error,
// groupchat and headline messages, and other messages without a body such
// as chat states, are dropped). Tests wait for
// them with Next or WaitFor, and send with Send.
type Inbox struct {
	sess *xmpp.Session
	done chan struct{} // closed, with mu held, when the session's Serve returns

	mu      sync.Mutex
	msgs    []Message     // received, not yet taken by Next or WaitFor
	seen    []Message     // everything received, for error messages
	changed chan struct{} // closed (and replaced) when a message arrives or Serve returns
	err     error         // why Serve returned
}

// Receive logs in as localpart@Domain (see Login), sends initial presence,
// and returns an Inbox collecting the messages sent to that account. When
// it returns, the server has processed the presence, so a message sent to
// the bare JID from then on reaches the Inbox. Failures are fatal; t.Cleanup
// closes the session.
func (s *Server) Receive(t testing.TB, ctx context.Context, localpart, password string) *Inbox {
	t.Helper()
	sess, err := s.Login(t, ctx, localpart, password)
	if err != nil {
		t.Fatalf("xmpptest: Receive: %v", err)
	}
	in := &Inbox{sess: sess, done: make(chan struct{}), changed: make(chan struct{})}
	go func() {
		err := sess.Serve(xmpp.HandlerFunc(in.handle))
		in.mu.Lock()
		in.err = err
		close(in.done)
		close(in.changed)
		in.mu.Unlock()
	}()
	// Cleanups run last-in first-out: this one, before Login's, ends the
	// stream and waits for the Serve loop.
	t.Cleanup(func() {
		_ = sess.Close()
		_ = sess.Conn().Close()
		<-in.done
	})
	if err := sess.Send(ctx, stanza.Presence{}.Wrap(nil)); err != nil {
		t.Fatalf("xmpptest: Receive: initial presence of %s: %v", sess.LocalAddr(), err)
	}
	// A server handles a stream's stanzas in order: once the ping is
	// answered, the presence has been processed and the resource is
	// available for messages to the bare JID.
	ping := xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: "urn:xmpp:ping", Local: "ping"}})
	resp, err := sess.SendIQElement(ctx, ping, stanza.IQ{Type: stanza.GetIQ, To: sess.LocalAddr().Domain()})
	if err != nil {
		t.Fatalf("xmpptest: Receive: ping after the presence of %s: %v", sess.LocalAddr(), err)
	}
	_ = resp.Close()
	return in
}

// handle is the session's handler: it keeps chat and normal messages with a
// body and leaves everything else to the session's defaults.
func (in *Inbox) handle(r xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	if start.Name.Local != "message" {
		return nil
	}
	var m struct {
		From   string   `xml:"from,attr"`
		Type   string   `xml:"type,attr"`
		Bodies []string `xml:"body"`
		Rooms  []struct {
			JID string `xml:"jid,attr"`
		} `xml:"jabber:x:conference x"`
	}
	// The decoder must see the start element itself: it checks that the
	// end element the reader ends with matches one it has read.
	d := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(start.Copy()), r))
	if err := d.Decode(&m); err != nil {
		return nil // a message we cannot read is not one a test waits for
	}
	if m.Type == "" {
		m.Type = string(stanza.NormalMessage)
	}
	if (m.Type != string(stanza.ChatMessage) && m.Type != string(stanza.NormalMessage)) || (len(m.Bodies) == 0 && len(m.Rooms) == 0) {
		return nil
	}
	msg := Message{From: m.From, Type: m.Type}
	if len(m.Bodies) > 0 {
		msg.Body = m.Bodies[0]
	}
	if len(m.Rooms) > 0 {
		msg.Room = m.Rooms[0].JID
	}
	in.mu.Lock()
	in.msgs = append(in.msgs, msg)
	in.seen = append(in.seen, msg)
	close(in.changed)
	in.changed = make(chan struct{})
	in.mu.Unlock()
	return nil
}

// JID is the client's full address, with the resource the server bound.
func (in *Inbox) JID() jid.JID { return in.sess.LocalAddr() }

// Session is the underlying session, for stanzas Send does not cover. Its
// Serve loop is already running.
func (in *Inbox) Session() *xmpp.Session { return in.sess }

// Send sends a chat message with body to the address to (for example the
// chat word "login" to the component).
func (in *Inbox) Send(ctx context.Context, to, body string) error {
	addr, err := jid.Parse(to)
	if err != nil {
		return fmt.Errorf("xmpptest: send to %q: %w", to, err)
	}
	msg := stanza.Message{To: addr, Type: stanza.ChatMessage}
	b := xmlstream.Wrap(xmlstream.Token(xml.CharData(body)), xml.StartElement{Name: xml.Name{Local: "body"}})
	if err := in.sess.Send(ctx, msg.Wrap(b)); err != nil {
		return fmt.Errorf("xmpptest: send to %s: %w", addr, err)
	}
	return nil
}

// Next returns the body of the oldest message not yet taken from the
// address from, waiting for one until ctx ends. A bare from matches every
// resource of it; "" matches any sender.
func (in *Inbox) Next(ctx context.Context, from string) (string, error) {
	m, err := in.WaitFor(ctx, func(f, _ string) bool {
		return from == "" || f == from || (!strings.Contains(from, "/") && strings.HasPrefix(f, from+"/"))
	})
	return m.Body, err
}

// WaitFor returns, and takes, the oldest message not yet taken for which
// match(from, body) is true, waiting for one until ctx ends or the session
// ends. The error lists the messages received so far.
func (in *Inbox) WaitFor(ctx context.Context, match func(from, body string) bool) (Message, error) {
	// An invitation without a body is WaitForInvitation's.
	return in.waitFor(ctx, func(m Message) bool { return (m.Room == "" || m.Body != "") && match(m.From, m.Body) })
}

// WaitForInvitation returns, and takes, the oldest XEP-0249 direct
// invitation not yet taken from the address from (as Next matches it),
// waiting for one until ctx ends or the session ends.
func (in *Inbox) WaitForInvitation(ctx context.Context, from string) (Message, error) {
	return in.waitFor(ctx, func(m Message) bool {
		return m.Room != "" && (from == "" || m.From == from || (!strings.Contains(from, "/") && strings.HasPrefix(m.From, from+"/")))
	})
}

// waitFor is WaitFor over whole messages.
func (in *Inbox) waitFor(ctx context.Context, match func(Message) bool) (Message, error) {
	for {
		in.mu.Lock()
		for i, m := range in.msgs {
			if match(m) {
				in.msgs = append(in.msgs[:i:i], in.msgs[i+1:]...)
				in.mu.Unlock()
				return m, nil
			}
		}
		changed, seen := in.changed, in.received()
		select {
		case <-in.done:
			err := in.err
			in.mu.Unlock()
			if err == nil {
				err = errors.New("stream closed")
			}
			return Message{}, fmt.Errorf("xmpptest: %s: no such message, and the session ended (%v); received: %s", in.JID(), err, seen)
		default:
		}
		in.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return Message{}, fmt.Errorf("xmpptest: %s: no such message: %w; received: %s", in.JID(), ctx.Err(), seen)
		}
	}
}

// received describes the messages received so far; in.mu is held.
func (in *Inbox) received() string {
	if len(in.seen) == 0 {
		return "nothing"
	}
	parts := make([]string, len(in.seen))
	for i, m := range in.seen {
		parts[i] = fmt.Sprintf("%s %s %q", m.From, m.Type, m.Body)
		if m.Room != "" {
			parts[i] += " invitation to " + m.Room
		}
	}
	return strings.Join(parts, "; ")
}
