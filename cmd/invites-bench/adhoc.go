package main

import (
	"context"
	"encoding/xml"
	"fmt"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"xmpp-invites/internal/xmpptest"
)

// XEP-0050 and XEP-0401 names.
const (
	nsCommands        = "http://jabber.org/protocol/commands"
	nodeCreateAccount = "urn:xmpp:invite#create-account"
)

// commandReply is the part of an ad-hoc command result the benchmark checks.
type commandReply struct {
	XMLName xml.Name `xml:"http://jabber.org/protocol/commands command"`
	Status  string   `xml:"status,attr"`
	Note    string   `xml:"note"`
	Form    struct {
		Fields []struct {
			Var    string   `xml:"var,attr"`
			Values []string `xml:"value"`
		} `xml:"field"`
	} `xml:"jabber:x:data x"`
}

// field returns the first value of a result form field.
func (r commandReply) field(name string) string {
	for _, f := range r.Form.Fields {
		if f.Var == name && len(f.Values) > 0 {
			return f.Values[0]
		}
	}
	return ""
}

// xmppClient is a logged-in client session with its read loop running.
type xmppClient struct{ sess *xmpp.Session }

// login opens a client session on srv and starts its read loop.
func login(ctx context.Context, srv *xmpptest.Server, user, password string) (*xmppClient, error) {
	sess, err := srv.Dial(ctx, user, password)
	if err != nil {
		return nil, err
	}
	go sess.Serve(nil)
	return &xmppClient{sess: sess}, nil
}

func (c *xmppClient) close() {
	c.sess.Close()
	c.sess.Conn().Close()
}

// execute runs the create-account command at to in one request and checks
// that it completed with an invite. It completes at once: xmpp-invites
// answers execute with the XEP-0401 form first, and creates the invite
// on complete; Prosody's mod_invites_adhoc has one step for any action.
func (c *xmppClient) execute(ctx context.Context, to jid.JID) (commandReply, error) {
	payload := xmlstream.Wrap(nil, xml.StartElement{
		Name: xml.Name{Space: nsCommands, Local: "command"},
		Attr: []xml.Attr{
			{Name: xml.Name{Local: "node"}, Value: nodeCreateAccount},
			{Name: xml.Name{Local: "action"}, Value: "complete"},
		},
	})
	var r commandReply
	if err := c.sess.UnmarshalIQElement(ctx, payload, stanza.IQ{Type: stanza.SetIQ, To: to}, &r); err != nil {
		return r, err
	}
	if r.Status != "completed" {
		return r, fmt.Errorf("command status %q, want completed (note %q)", r.Status, r.Note)
	}
	if r.field("landing-url") == "" && r.field("uri") == "" {
		return r, fmt.Errorf("completed without an invite (note %q)", r.Note)
	}
	return r, nil
}

// measureCommands runs the create-account command at to over the client
// sessions, one command in flight per session.
func measureCommands(ctx context.Context, clients []*xmppClient, to jid.JID, warmup, dur time.Duration) (result, error) {
	return drive(ctx, len(clients), warmup, dur, func(ctx context.Context, i int) error {
		_, err := clients[i].execute(ctx, to)
		return err
	})
}
