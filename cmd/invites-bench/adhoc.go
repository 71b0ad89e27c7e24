package main

import (
	"context"
	"encoding/xml"
	"fmt"
	"net"
	"sync"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// XEP-0050 and XEP-0401 names.
const (
	nsCommands        = "http://jabber.org/protocol/commands"
	nodeCreateAccount = "urn:xmpp:invite#create-account"
)

// xmppResult is one ad-hoc command measurement.
type xmppResult struct {
	Server     string  `json:"server"`
	Target     string  `json:"target"`
	Sessions   int     `json:"sessions"`
	Seconds    float64 `json:"seconds"`
	OK         int     `json:"ok"`
	Errors     int     `json:"errors"`
	PerSecond  float64 `json:"per_second"`
	Latency    latency `json:"latency"`
	CPU        cpuUse  `json:"cpu"`
	FirstError string  `json:"first_error,omitempty"`
}

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
type xmppClient struct {
	sess *xmpp.Session
	conn net.Conn
}

// login opens a client session on addr (plain TCP on loopback; the server
// allows PLAIN there), binds a resource and starts the read loop.
func login(ctx context.Context, addr, user, password string) (*xmppClient, error) {
	me, err := jid.New(user, benchDomain, "")
	if err != nil {
		return nil, err
	}
	conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("login %s: %w", me, err)
	}
	features := []xmpp.StreamFeature{
		xmpp.SASL("", password, sasl.ScramSha1, sasl.Plain),
		xmpp.BindResource(),
	}
	sess, err := xmpp.NewSession(ctx, me.Domain(), me, conn, xmpp.Secure,
		xmpp.NewNegotiator(func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
			return xmpp.StreamConfig{Features: features}
		}))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("login %s: %w", me, err)
	}
	go sess.Serve(nil)
	return &xmppClient{sess: sess, conn: conn}, nil
}

func (c *xmppClient) close() {
	c.sess.Close()
	c.conn.Close()
}

// execute runs the one-step create-account command at to and checks that
// it completed with an invite.
func (c *xmppClient) execute(ctx context.Context, to jid.JID) (commandReply, error) {
	payload := xmlstream.Wrap(nil, xml.StartElement{
		Name: xml.Name{Space: nsCommands, Local: "command"},
		Attr: []xml.Attr{
			{Name: xml.Name{Local: "node"}, Value: nodeCreateAccount},
			{Name: xml.Name{Local: "action"}, Value: "execute"},
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

// commandTimeout bounds how long a command may stay unanswered after the
// end of a measurement.
const commandTimeout = 30 * time.Second

// measureCommands runs the create-account command at to over sessions
// client sessions, one command in flight per session, for warmup (discarded)
// plus dur.
func measureCommands(ctx context.Context, clients []*xmppClient, to jid.JID, warmup, dur time.Duration) (xmppResult, error) {
	res := xmppResult{Target: to.String(), Sessions: len(clients), Seconds: dur.Seconds()}
	from := time.Now().Add(warmup)
	until := from.Add(dur)
	lats := make([][]time.Duration, len(clients))
	errs := make([]int, len(clients))
	firsts := make([]error, len(clients))
	// One context for the whole measurement, cancelled only once no session
	// is sending: mellium's Session.Send arms a goroutine per write that sets
	// the connection's write deadline into the past when the write's context
	// ends, and one that fires late breaks the next write on that connection
	// (a per-command context cancelled after each answer would race).
	mctx, cancel := context.WithDeadline(ctx, until.Add(commandTimeout))
	defer cancel()
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for mctx.Err() == nil {
				t0 := time.Now()
				if t0.After(until) {
					return
				}
				_, err := c.execute(mctx, to)
				t1 := time.Now()
				if err != nil {
					errs[i]++
					if firsts[i] == nil {
						firsts[i] = err
					}
					if errs[i] > 100 {
						return
					}
					time.Sleep(errorPause)
					continue
				}
				if !t0.Before(from) && !t1.After(until) {
					lats[i] = append(lats[i], t1.Sub(t0))
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return res, err
	}
	var all []time.Duration
	for i := range clients {
		all = append(all, lats[i]...)
		res.Errors += errs[i]
		if firsts[i] != nil && res.FirstError == "" {
			res.FirstError = firsts[i].Error()
		}
	}
	res.OK = len(all)
	res.PerSecond = float64(len(all)) / dur.Seconds()
	res.Latency = summarize(all)
	return res, nil
}
