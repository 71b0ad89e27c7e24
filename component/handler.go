package component

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"strings"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"xmpp-invites/i18n"
	"xmpp-invites/invites"
)

// handler receives every stanza of one link. It runs on the Serve
// goroutine, so it answers only what needs no round trip to the server;
// the rest goes to goroutines that reply with Session.Send. It always
// answers IQ get and set itself (with 'from', which ejabberd insists on).
type handler struct {
	c *Component
	l *link
}

// HandleXMPP implements xmpp.Handler. It returns an error only when the
// stream itself is broken or an answer cannot be written: Serve ends the
// link on any error, so nothing one stanza carries may cause one.
func (h *handler) HandleXMPP(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	// The view of the sender's domain answers (one view: always it).
	if v := h.c.route(rawAttr(start.Attr, "from")); v != h.c {
		h = &handler{c: v, l: h.l}
	}
	e, err := readElement(start.Copy(), t)
	var bad *badStanzaError
	if errors.As(err, &bad) {
		return h.refuse(t, start, bad)
	}
	if err != nil {
		return err
	}
	switch start.Name.Local {
	case "iq":
		return h.iq(t, e)
	case "message":
		h.message(e)
	}
	// Presence needs no answer: the component keeps no roster.
	return nil
}

// refuse answers a stanza that could not be read: an IQ get or set gets an
// error (policy-violation for a stanza over the component's limits,
// bad-request for invalid content), anything else is dropped. The log
// names the sender, never the content.
func (h *handler) refuse(t xmlstream.TokenWriter, start *xml.StartElement, bad *badStanzaError) error {
	from := rawAttr(start.Attr, "from")
	h.c.refusals.log(h.c.log, start.Name.Local, from, bad.reason)
	typ := stanza.IQType(rawAttr(start.Attr, "type"))
	if start.Name.Local != "iq" || (typ != stanza.GetIQ && typ != stanza.SetIQ) {
		return nil
	}
	loc, _ := h.localizer(start.Attr)
	se := stanza.Error{Type: stanza.Modify, Condition: stanza.BadRequest,
		Text: map[string]string{loc.Lang(): loc.T("xmpp_stanza_unreadable", "The stanza could not be read.")}}
	switch {
	case bad.tooDeep:
		se = stanza.Error{Type: stanza.Modify, Condition: stanza.PolicyViolation,
			Text: map[string]string{loc.Lang(): loc.T("xmpp_stanza_too_deep", "The stanza is nested deeper than {{.Max}} levels.", "Max", maxStanzaDepth)}}
	case bad.limit:
		se = stanza.Error{Type: stanza.Modify, Condition: stanza.PolicyViolation,
			Text: map[string]string{loc.Lang(): loc.T("xmpp_stanza_too_large", "The stanza has more than {{.Max}} elements.", "Max", maxStanzaElements)}}
	}
	return write(t, h.c.rawIQError(start.Attr, loc.Lang(), se))
}

// rawIQError answers an IQ get or set from its attributes as they came,
// for IQs that could not be read or whose addresses mellium's JID parser
// refuses (the server's accepted them): the answer goes back to the sender
// as written, from the address that was asked, or from the component when
// that cannot be parsed. An IQ get or set must be answered (RFC 6120
// 8.2.3), and mellium sends no default answer on a component stream. lang
// is the answer's xml:lang.
func (c *Component) rawIQError(attrs []xml.Attr, lang string, se stanza.Error) xml.TokenReader {
	from := c.jid.String()
	if to := rawAttr(attrs, "to"); to != "" {
		if j, err := jid.Parse(to); err == nil && j.Domainpart() == c.jid.Domainpart() {
			from = to
		}
	}
	a := []xml.Attr{attr("type", string(stanza.ErrorIQ)), attr("id", rawAttr(attrs, "id")), attr("from", from)}
	if to := rawAttr(attrs, "from"); to != "" {
		a = append(a, attr("to", to))
	}
	a = append(a, xml.Attr{Name: name(nsXML, "lang"), Value: lang})
	return el(name("", "iq"), a, se.TokenReader())
}

// rawAttr returns the value of the unqualified attribute local of a stanza.
func rawAttr(attrs []xml.Attr, local string) string {
	for _, a := range attrs {
		if a.Name.Local == local && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}

// iq answers an IQ get or set.
func (h *handler) iq(t xmlstream.TokenWriter, e *element) error {
	typ := stanza.IQType(e.attr("type"))
	if typ != stanza.GetIQ && typ != stanza.SetIQ {
		return nil // a late reply to a request that gave up waiting
	}
	loc, given := h.localizer(e.Attrs)
	iq, err := h.c.incomingIQ(e)
	if err != nil {
		h.c.refusals.log(h.c.log, "iq", e.attr("from"), "an address that is not a valid JID")
		return write(t, h.c.rawIQError(e.Attrs, loc.Lang(), stanza.Error{Type: stanza.Modify, Condition: stanza.JIDMalformed}))
	}
	// Every answer carries the language it speaks.
	iq.Lang = loc.Lang()
	h.c.remember(h.c.who(iq.From), loc, given)
	if iq.To.Localpart() != "" {
		// user@component: no such entity here.
		return write(t, iq.Error(stanza.Error{Type: stanza.Cancel, Condition: stanza.ServiceUnavailable}))
	}
	p := e.payload()
	if p == nil {
		return write(t, iq.Error(stanza.Error{Type: stanza.Modify, Condition: stanza.BadRequest}))
	}
	ns, local := p.XMLName.Space, p.XMLName.Local
	switch {
	case typ == stanza.GetIQ && ns == nsDiscoInfo && local == "query":
		return write(t, h.c.discoInfo(iq, loc, p.attr("node")))
	case typ == stanza.GetIQ && ns == nsDiscoItems && local == "query":
		return write(t, h.c.discoItems(iq, loc, p.attr("node")))
	case typ == stanza.GetIQ && ns == nsPing && local == "ping":
		return write(t, iq.Result(nil))
	case typ == stanza.GetIQ && ns == nsVersion && local == "query":
		v := h.c.cfg.Version
		if v == "" {
			v = "unknown"
		}
		return write(t, iq.Result(el(name(nsVersion, "query"), nil, textEl("name", "xmpp-invites"), textEl("version", v))))
	case typ == stanza.SetIQ && ns == nsCommands && local == "command":
		if r := h.command(iq, loc, p); r != nil {
			return write(t, r)
		}
		return nil
	}
	return write(t, iq.Error(stanza.Error{Type: stanza.Cancel, Condition: stanza.ServiceUnavailable}))
}

// write copies a stanza to the handler's writer.
func write(t xmlstream.TokenWriter, r xml.TokenReader) error {
	_, err := xmlstream.Copy(t, r)
	return err
}

// incomingIQ reads the addressing of an IQ and makes sure its answers go
// out from the address it was sent to (the component's JID when empty).
func (c *Component) incomingIQ(e *element) (stanza.IQ, error) {
	iq := stanza.IQ{ID: e.attr("id"), Type: stanza.IQType(e.attr("type"))}
	var err error
	if f := e.attr("from"); f != "" {
		if iq.From, err = jid.Parse(f); err != nil {
			return iq, err
		}
	}
	if to := e.attr("to"); to != "" {
		if iq.To, err = jid.Parse(to); err != nil {
			return iq, err
		}
	}
	if iq.To.Equal(jid.JID{}) {
		iq.To = c.jid
	}
	return iq, nil
}

// requester describes who sent a request to a domain's view.
type requester struct {
	bare  jid.JID
	local bool // an account of the view's domain
	admin bool // in the view's domain's admins
}

func (c *Component) who(from jid.JID) requester {
	bare := from.Bare()
	return requester{
		bare:  bare,
		local: from.Localpart() != "" && from.Domainpart() == c.domain.Domainpart(),
		admin: c.admins[bare.String()],
	}
}

// discoInfo answers disco#info for the component and its command nodes,
// the names in loc's language.
func (c *Component) discoInfo(iq stanza.IQ, loc *i18n.Localizer, node string) xml.TokenReader {
	identity := func(cat, typ, nm string) xml.TokenReader {
		return el(name("", "identity"), []xml.Attr{attr("category", cat), attr("type", typ), attr("name", nm)})
	}
	feature := func(v string) xml.TokenReader { return el(name("", "feature"), []xml.Attr{attr("var", v)}) }
	var parts []xml.TokenReader
	switch node {
	case "":
		parts = []xml.TokenReader{
			identity("component", "generic", loc.T("xmpp_service_name", "Invites")),
			feature(nsDiscoInfo), feature(nsDiscoItems), feature(nsCommands),
			feature(nsPing), feature(nsVersion),
		}
	case nsCommands:
		parts = []xml.TokenReader{identity("automation", "command-list", loc.T("xmpp_command_list", "Commands"))}
	default:
		cmd := commandByNode(node)
		if cmd == nil {
			return iq.Error(stanza.Error{Type: stanza.Cancel, Condition: stanza.ItemNotFound})
		}
		parts = []xml.TokenReader{
			identity("automation", "command-node", loc.M(cmd.name)),
			feature(nsCommands), feature(nsData),
		}
	}
	var attrs []xml.Attr
	if node != "" {
		attrs = []xml.Attr{attr("node", node)}
	}
	return iq.Result(el(name(nsDiscoInfo, "query"), attrs, parts...))
}

// discoItems answers disco#items: the commands node lists what the
// requester may run (the XEP-0401 invite for users of the domain, the
// others for admins only), named in loc's language.
func (c *Component) discoItems(iq stanza.IQ, loc *i18n.Localizer, node string) xml.TokenReader {
	var items []xml.TokenReader
	switch node {
	case "":
	case nsCommands:
		r := c.who(iq.From)
		for _, cmd := range commands {
			if cmd.may(r) {
				items = append(items, el(name("", "item"), []xml.Attr{attr("jid", iq.To.String()), attr("node", cmd.node), attr("name", loc.M(cmd.name))}))
			}
		}
	default:
		return iq.Error(stanza.Error{Type: stanza.Cancel, Condition: stanza.ItemNotFound})
	}
	var attrs []xml.Attr
	if node != "" {
		attrs = []xml.Attr{attr("node", node)}
	}
	return iq.Result(el(name(nsDiscoItems, "query"), attrs, items...))
}

// commandEl returns an ad-hoc <command/> element.
func commandEl(node, sid, status string, children ...xml.TokenReader) xml.TokenReader {
	return el(name(nsCommands, "command"),
		[]xml.Attr{attr("node", node), attr("sessionid", sid), attr("status", status)}, children...)
}

// forbidden is a forbidden error whose text msg speaks loc's language.
func forbidden(loc *i18n.Localizer, msg string) stanza.Error {
	return stanza.Error{Type: stanza.Auth, Condition: stanza.Forbidden, Text: map[string]string{loc.Lang(): msg}}
}

// mint creates an invite for r under a person's rules (invites.CreateFor)
// and counts it.
func (c *Component) mint(ctx context.Context, r requester, req invites.Request) (invites.Created, error) {
	if c.minter == nil {
		return invites.Created{}, errors.New("no invite minter")
	}
	created, err := c.minter.CreateFor(ctx, invites.Person{JID: r.bare.String(), Admin: r.admin}, req)
	if err != nil {
		return created, err
	}
	c.m.InviteCreated("xmpp", string(created.Invite.Type))
	c.log.Info("invite created", "source", "xmpp", "type", string(created.Invite.Type),
		"id", created.Invite.ID, "creator", created.Invite.Creator)
	return created, nil
}

// quotaText tells a user who reached user_invites_per_day when to come
// back, in loc's language.
func (c *Component) quotaText(loc *i18n.Localizer, err error) string {
	n := c.perDay
	// The oldest invite of the day leaves the window then; rounded up to
	// the minute, so the time given is never too early.
	if next := invites.QuotaNext(err); !next.IsZero() {
		return loc.N("xmpp_quota_next", n,
			"You have reached the limit of {{.Count}} invite per day. You can create the next one from {{.Next}}.",
			"You have reached the limit of {{.Count}} invites per day. You can create the next one from {{.Next}}.",
			"Next", loc.Date(next))
	}
	return loc.N("xmpp_quota_later", n,
		"You have reached the limit of {{.Count}} invite per day. Please try again later.",
		"You have reached the limit of {{.Count}} invites per day. Please try again later.")
}

// formatExpire prints an expiry in ISO 8601 UTC, as XEP-0401 shows it.
func formatExpire(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// newID returns a random identifier for command sessions.
func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// message handles an incoming message: the server's XEP-0356 privilege
// advertisement, or a chat request for an invite.
func (h *handler) message(e *element) {
	c := h.c
	typ := e.attr("type")
	if typ == "error" {
		return // never answer errors: no loops
	}
	from, err := jid.Parse(e.attr("from"))
	if err != nil {
		return
	}
	if from.Equal(c.domain) {
		for _, ns := range []string{nsPrivilege2, nsPrivilege1} {
			if p := e.child(ns, "privilege"); p != nil {
				h.l.setPrivileges(c.domain.String(), ns, parsePrivileges(p))
				return
			}
		}
		return
	}
	if typ != "chat" {
		return
	}
	if to, err := jid.Parse(e.attr("to")); err == nil && to.Localpart() != "" {
		return // user@component: nobody here
	}
	b := e.child("", "body")
	if b == nil || strings.TrimSpace(b.Text) == "" {
		return // chat states and receipts carry no body
	}
	body := strings.TrimSpace(b.Text)
	r := c.who(from)
	loc, given := h.localizer(e.Attrs)
	c.remember(r, loc, given)
	if !c.replies.allow(r.bare.String()) {
		c.log.Debug("chat reply suppressed: too many messages", "from", r.bare.String())
		return
	}
	l := h.l
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		ctx, cancel := context.WithTimeout(l.ctx, mintTimeout)
		defer cancel()
		answer := c.chatAnswer(ctx, loc, r, body)
		msg := stanza.Message{To: from, From: c.jid, Type: stanza.ChatMessage, Lang: loc.Lang()}
		if err := l.s.Send(ctx, msg.Wrap(textEl("body", answer))); err != nil && l.ctx.Err() == nil {
			c.log.Warn("could not answer a chat message", "to", from.String(), "err", err)
		}
	}()
}

// siteName is the name of the site: SiteName, else the domain.
func (c *Component) siteName() string { return c.site }

// parsePrivileges reads an XEP-0356 <privilege/> element (:1 or :2).
// IQ permissions of :2 carry namespaces as children; they are kept as
// "iq:NAMESPACE" → type.
func parsePrivileges(p *element) map[string]string {
	perms := make(map[string]string)
	for _, perm := range p.children("", "perm") {
		access := perm.attr("access")
		if access == "" {
			continue
		}
		if typ := perm.attr("type"); typ != "" {
			perms[access] = typ
		}
		for _, ns := range perm.children("", "namespace") {
			if n := ns.attr("ns"); n != "" {
				perms[access+":"+n] = ns.attr("type")
			}
		}
	}
	return perms
}
