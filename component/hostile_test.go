package component

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"xmpp-invites/invites"
)

// deepPayload returns n nested elements: inside a stanza, the stanza is
// n+1 levels deep. encoding/xml refuses to decode more than 10,000 levels.
func deepPayload(n int) string {
	return strings.Repeat("<a>", n) + strings.Repeat("</a>", n)
}

// linkStayed fails the test unless the component is still on its first
// connection: no reconnect happened.
func linkStayed(t *testing.T, fs *fakeServer, c *Component, fc *fakeConn) {
	t.Helper()
	select {
	case <-fc.done:
		t.Fatal("the fake server's connection ended: the component dropped the link")
	default:
	}
	if n := fs.accepts.Load(); n != 1 {
		t.Fatalf("%d connections accepted, want 1: the component reconnected", n)
	}
	if c.State() != "up" {
		t.Fatalf("link state %s, want up", c.State())
	}
}

// logTo makes the component log to the test log and to buf.
func logTo(t *testing.T, buf *logBuffer) func(*Component) {
	return func(c *Component) {
		c.log = slog.New(slog.NewTextHandler(io.MultiWriter(buf, &testWriter{t: t}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
}

// A message, a presence and an IQ nested 10,001 levels deep do not end the
// link: the IQ gets an error from the component, the others are dropped,
// each is logged with its sender, and the next stanza is answered.
func TestDeepStanzasKeepTheLink(t *testing.T) {
	fs := newFakeServer(t)
	var logs logBuffer
	c, fc := connect(t, fs, nil, logTo(t, &logs))
	deep := deepPayload(10000)

	fc.send(fmt.Sprintf("<message type='chat' from='%s' to='%s'>%s</message>", stranger, fs.jid, deep))
	fc.send(fmt.Sprintf("<presence from='%s' to='%s'>%s</presence>", stranger, fs.jid, deep))
	fc.send(fmt.Sprintf("<iq type='get' from='%s' to='%s' id='deep'>%s</iq>", stranger, fs.jid, deep))
	e := fc.awaitID(t, "deep")
	wantCondition(t, e, "policy-violation")
	if e.attr("from") != fs.jid || e.attr("to") != stranger {
		t.Errorf("error answer %s: want from %s to %s", dumpElement(e), fs.jid, stranger)
	}
	info := iqFrom(t, fc, alice, "get", "after", "<query xmlns='"+nsDiscoInfo+"'/>")
	wantType(t, info, "result")
	if info.child(nsDiscoInfo, "query") == nil {
		t.Errorf("disco#info answer without a query: %s", dumpElement(info))
	}
	linkStayed(t, fs, c, fc)

	out := logs.String()
	for _, kind := range []string{"message", "presence", "iq"} {
		want := fmt.Sprintf("stanza=%s from=%s reason=\"nested deeper than %d levels\"", kind, stranger, maxStanzaDepth)
		if strings.Count(out, want) != 1 {
			t.Errorf("log has %d lines with %q, want 1:\n%s", strings.Count(out, want), want, out)
		}
	}
	if strings.Contains(out, "<a>") {
		t.Errorf("the log shows a stanza's content:\n%s", out)
	}
}

// The component's own limit refuses far shallower stanzas, and stanzas at
// the limit are still read.
func TestStanzaLimits(t *testing.T) {
	fs := newFakeServer(t)
	c, fc := connect(t, fs, nil, nil)
	// The IQ and its <query/> are 2 of maxStanzaDepth levels.
	atLimit := "<query xmlns='" + nsDiscoInfo + "'>" + deepPayload(maxStanzaDepth-2) + "</query>"
	wantType(t, iqFrom(t, fc, alice, "get", "at", atLimit), "result")
	over := "<query xmlns='" + nsDiscoInfo + "'>" + deepPayload(maxStanzaDepth-1) + "</query>"
	wantCondition(t, iqFrom(t, fc, alice, "get", "over", over), "policy-violation")
	many := "<query xmlns='" + nsDiscoInfo + "'>" + strings.Repeat("<a/>", maxStanzaElements-1) + "</query>"
	wantCondition(t, iqFrom(t, fc, alice, "set", "many", many), "policy-violation")
	wantType(t, iqFrom(t, fc, alice, "get", "after", "<ping xmlns='urn:xmpp:ping'/>"), "result")
	linkStayed(t, fs, c, fc)
}

// Stanzas whose content mellium's stream reader rejects get an answer (an
// IQ) or are dropped, and the link stays. IQs whose addresses mellium's JID
// parser refuses are answered with jid-malformed (before, nobody answered).
func TestMalformedStanzasKeepTheLink(t *testing.T) {
	const streamNS = "http://etherx.jabber.org/streams"
	for _, tc := range []struct{ name, payload string }{
		{"stream features", "<features xmlns='" + streamNS + "'/>"},
		{"nested stream features", "<x><features xmlns='" + streamNS + "'><y/></features></x>"},
		{"stream error", "<error xmlns='" + streamNS + "'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></error>"},
		{"comment", "<x><!-- a comment --></x>"},
		{"processing instruction", "<x><?pi x?></x>"},
		{"directive", "<x><!DOCTYPE y></x>"},
		{"nested stream", "<x><stream xmlns='" + streamNS + "'/></x>"},
		{"nested stream with the header's prefix", "<stream:stream><y/></stream:stream>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeServer(t)
			c, fc := connect(t, fs, nil, nil)
			fc.send(fmt.Sprintf("<message type='chat' from='%s' to='%s'><body>invite</body>%s</message>", alice, fs.jid, tc.payload))
			wantCondition(t, iqFrom(t, fc, alice, "get", "bad", tc.payload), "bad-request")
			wantType(t, iqFrom(t, fc, alice, "get", "after", "<ping xmlns='urn:xmpp:ping'/>"), "result")
			linkStayed(t, fs, c, fc)
		})
	}
	for _, tc := range []struct{ name, from, to, wantFrom string }{
		{"bad sender", "a@b@c", "invites.example.test", "invites.example.test"},
		{"empty localpart", "@example.test", "invites.example.test/r", "invites.example.test/r"},
		{"bad recipient", alice, "x y@invites.example.test", "invites.example.test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeServer(t)
			c, fc := connect(t, fs, nil, nil)
			fc.send(fmt.Sprintf("<iq type='get' from='%s' to='%s' id='addr'><ping xmlns='urn:xmpp:ping'/></iq>", escapeAttr(tc.from), escapeAttr(tc.to)))
			e := fc.awaitID(t, "addr")
			wantCondition(t, e, "jid-malformed")
			if e.attr("to") != tc.from || e.attr("from") != tc.wantFrom {
				t.Errorf("answer %s: want from %s to %s", dumpElement(e), tc.wantFrom, tc.from)
			}
			wantType(t, iqFrom(t, fc, alice, "get", "after", "<ping xmlns='urn:xmpp:ping'/>"), "result")
			linkStayed(t, fs, c, fc)
		})
	}
}

// A reply to one of the component's own requests that it cannot read
// fails that request, not the link; an unreadable answer to a ping still
// proves the link alive.
func TestDeepRepliesKeepTheLink(t *testing.T) {
	fs := newFakeServer(t)
	deep := deepPayload(10000)
	var pings atomic.Int32
	fs.set(func(fs *fakeServer) {
		fs.handle = func(fc *fakeConn, e *element) bool {
			switch {
			case e.child(nsPing, "ping") != nil && e.attr("to") == fs.domain:
				pings.Add(1)
				fc.reply(e, "result", deep)
				return true
			case e.child(nsCommands, "command") != nil:
				fc.reply(e, "result", completed(nodeAddUser, deep))
				return true
			}
			return false
		}
	})
	c, fc := connect(t, fs, nil, func(c *Component) { c.cfg.PingInterval = 10 * time.Millisecond })
	err := c.CreateAccount(ctxT(t, 5*time.Second), "bob", "correct horse")
	var bad *badStanzaError
	if !errors.As(err, &bad) || !errors.Is(err, invites.ErrLinkDown) {
		t.Errorf("CreateAccount with an unreadable reply: %v, want a bad stanza that may have been carried out (ErrLinkDown)", err)
	}
	eventually(t, "three pings answered", func() bool { return pings.Load() >= 3 })
	wantType(t, iqFrom(t, fc, alice, "get", "after", "<ping xmlns='urn:xmpp:ping'/>"), "result")
	linkStayed(t, fs, c, fc)
}

// readElement builds the same tree as encoding/xml for stanzas within the
// limits.
func TestReadElementMatchesUnmarshal(t *testing.T) {
	for _, s := range []string{
		"<iq type='get' id='1'><query xmlns='" + nsDiscoInfo + "' node='n'/></iq>",
		"<message xmlns:x='urn:x' x:a='1' b='2'>a<body>hi &amp; <![CDATA[<there>]]></body>b<x:y>z</x:y>c</message>",
		"<iq><command xmlns='" + nsCommands + "'><x xmlns='jabber:x:data' type='submit'><field var='a'><value>1</value><value>2</value></field></x></command></iq>",
		"<presence/>",
	} {
		var want element
		if err := xml.Unmarshal([]byte(s), &want); err != nil {
			t.Fatal(err)
		}
		d := xml.NewDecoder(strings.NewReader(s))
		tok, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		got, err := readElement(tok.(xml.StartElement), d)
		if err != nil {
			t.Fatalf("readElement(%s): %v", s, err)
		}
		// %+v prints a nil slice and an empty one alike.
		if fmt.Sprintf("%+v", *got) != fmt.Sprintf("%+v", want) {
			t.Errorf("readElement(%s) = %+v, want %+v", s, *got, want)
		}
	}
}

// The log line about refused stanzas is rate-limited across senders.
func TestRefusalLogLimit(t *testing.T) {
	now := time.Unix(1000, 0)
	var buf logBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	r := refusalLog{now: func() time.Time { return now }}
	for i := 0; i < 3*refusalLinesPerMinute; i++ {
		r.log(log, "message", fmt.Sprintf("u%d@example.test", i), "too deep")
	}
	if n := strings.Count(buf.String(), "\n"); n != refusalLinesPerMinute {
		t.Fatalf("%d lines for %d refusals in a minute, want %d", n, 3*refusalLinesPerMinute, refusalLinesPerMinute)
	}
	now = now.Add(time.Minute)
	r.log(log, "iq", "v@example.test", "too deep")
	if want := fmt.Sprintf("not_logged_before=%d", 2*refusalLinesPerMinute); !strings.Contains(buf.String(), want) {
		t.Errorf("the next minute's line does not say %s:\n%s", want, buf.String())
	}
}
