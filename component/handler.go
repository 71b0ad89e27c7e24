package component

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

// XEP-0401 command nodes offered by the component.
const (
	nodeInvite        = "urn:xmpp:invite#invite"
	nodeCreateAccount = "urn:xmpp:invite#create-account"
)

// commandNames are the human names of the commands, by node.
var commandNames = map[string]string{
	nodeInvite:        "Invite someone to chat with you",
	nodeCreateAccount: "Create an account invite",
}

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
	se := stanza.Error{Type: stanza.Modify, Condition: stanza.BadRequest,
		Text: map[string]string{"": "The stanza could not be read."}}
	if bad.limit {
		se = stanza.Error{Type: stanza.Modify, Condition: stanza.PolicyViolation,
			Text: map[string]string{"": "The stanza is " + bad.reason + "."}}
	}
	return write(t, h.c.rawIQError(start.Attr, se))
}

// rawIQError answers an IQ get or set from its attributes as they came,
// for IQs that could not be read or whose addresses mellium's JID parser
// refuses (the server's accepted them): the answer goes back to the sender
// as written, from the address that was asked, or from the component when
// that cannot be parsed. An IQ get or set must be answered (RFC 6120
// 8.2.3), and mellium sends no default answer on a component stream.
func (c *Component) rawIQError(attrs []xml.Attr, se stanza.Error) xml.TokenReader {
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
	iq, err := h.c.incomingIQ(e)
	if err != nil {
		h.c.refusals.log(h.c.log, "iq", e.attr("from"), "an address that is not a valid JID")
		return write(t, h.c.rawIQError(e.Attrs, stanza.Error{Type: stanza.Modify, Condition: stanza.JIDMalformed}))
	}
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
		return write(t, h.c.discoInfo(iq, p.attr("node")))
	case typ == stanza.GetIQ && ns == nsDiscoItems && local == "query":
		return write(t, h.c.discoItems(iq, p.attr("node")))
	case typ == stanza.GetIQ && ns == nsPing && local == "ping":
		return write(t, iq.Result(nil))
	case typ == stanza.GetIQ && ns == nsVersion && local == "query":
		v := h.c.cfg.Version
		if v == "" {
			v = "unknown"
		}
		return write(t, iq.Result(el(name(nsVersion, "query"), nil, textEl("name", "xmpp-invites"), textEl("version", v))))
	case typ == stanza.SetIQ && ns == nsCommands && local == "command":
		if r := h.command(iq, p); r != nil {
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

// requester describes who sent a request.
type requester struct {
	bare  jid.JID
	local bool // an account of Domain
	admin bool
}

func (c *Component) who(from jid.JID) requester {
	bare := from.Bare()
	return requester{
		bare:  bare,
		local: from.Localpart() != "" && from.Domainpart() == c.domain.Domainpart(),
		admin: c.admins[bare.String()],
	}
}

// discoInfo answers disco#info for the component and its command nodes.
func (c *Component) discoInfo(iq stanza.IQ, node string) xml.TokenReader {
	identity := func(cat, typ, nm string) xml.TokenReader {
		return el(name("", "identity"), []xml.Attr{attr("category", cat), attr("type", typ), attr("name", nm)})
	}
	feature := func(v string) xml.TokenReader { return el(name("", "feature"), []xml.Attr{attr("var", v)}) }
	var parts []xml.TokenReader
	switch node {
	case "":
		parts = []xml.TokenReader{
			identity("component", "generic", "Invites"),
			feature(nsDiscoInfo), feature(nsDiscoItems), feature(nsCommands),
			feature(nsPing), feature(nsVersion),
		}
	case nsCommands:
		parts = []xml.TokenReader{identity("automation", "command-list", "Commands")}
	case nodeInvite, nodeCreateAccount:
		parts = []xml.TokenReader{
			identity("automation", "command-node", commandNames[node]),
			feature(nsCommands), feature(nsData),
		}
	default:
		return iq.Error(stanza.Error{Type: stanza.Cancel, Condition: stanza.ItemNotFound})
	}
	var attrs []xml.Attr
	if node != "" {
		attrs = []xml.Attr{attr("node", node)}
	}
	return iq.Result(el(name(nsDiscoInfo, "query"), attrs, parts...))
}

// discoItems answers disco#items: the commands node lists what the
// requester may run (create-account for admins only).
func (c *Component) discoItems(iq stanza.IQ, node string) xml.TokenReader {
	var items []xml.TokenReader
	switch node {
	case "":
	case nsCommands:
		r := c.who(iq.From)
		item := func(n string) xml.TokenReader {
			return el(name("", "item"), []xml.Attr{attr("jid", iq.To.String()), attr("node", n), attr("name", commandNames[n])})
		}
		if r.local {
			items = append(items, item(nodeInvite))
		}
		if r.local && r.admin {
			items = append(items, item(nodeCreateAccount))
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

// command handles an XEP-0050 request. It returns an immediate answer, or
// nil when a goroutine will answer.
func (h *handler) command(iq stanza.IQ, cmd *element) xml.TokenReader {
	c := h.c
	node, action, sid := cmd.attr("node"), cmd.attr("action"), cmd.attr("sessionid")
	if _, ok := commandNames[node]; !ok {
		return iq.Error(stanza.Error{Type: stanza.Cancel, Condition: stanza.ItemNotFound})
	}
	if sid == "" {
		sid = newID()
	}
	switch action {
	case "cancel":
		return iq.Result(commandEl(node, sid, "canceled"))
	case "", "execute", "complete", "next":
	default:
		return iq.Error(stanza.Error{Type: stanza.Modify, Condition: stanza.BadRequest,
			Text: map[string]string{"": "this command has one step: execute or cancel it"}})
	}
	r := c.who(iq.From)
	if !r.local {
		return iq.Error(forbidden(fmt.Sprintf("Only users of %s can create invites here.", c.domain)))
	}
	if node == nodeCreateAccount && !r.admin {
		return iq.Error(forbidden(fmt.Sprintf("Only admins of %s can create account invites.", c.domain)))
	}
	req := c.contactRequest(r)
	if node == nodeCreateAccount {
		req = invites.Request{Type: keystore.TypeAccount, Creator: "xmpp:" + r.bare.String()}
	}
	l := h.l
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		ctx, cancel := context.WithTimeout(l.ctx, mintTimeout)
		defer cancel()
		reply := c.commandResult(ctx, iq, node, sid, r, req)
		if err := l.s.Send(ctx, reply); err != nil && l.ctx.Err() == nil {
			c.log.Warn("could not send a command result", "node", node, "to", iq.From.String(), "err", err)
		}
	}()
	return nil
}

// commandResult mints the invite and builds the command's answer.
func (c *Component) commandResult(ctx context.Context, iq stanza.IQ, node, sid string, r requester, req invites.Request) xml.TokenReader {
	created, err := c.mint(ctx, req)
	var verr *invites.ValidationError
	switch {
	case errors.Is(err, invites.ErrQuota):
		return iq.Result(commandEl(node, sid, "completed",
			el(name("", "note"), []xml.Attr{attr("type", "error")}, text(c.quotaText(err)))))
	case errors.As(err, &verr):
		return iq.Error(stanza.Error{Type: stanza.Modify, Condition: stanza.BadRequest, Text: map[string]string{"": verr.Error()}})
	case errors.Is(err, invites.ErrProtected):
		return iq.Error(forbidden(invites.ErrProtected.Error()))
	case err != nil:
		c.log.Error("could not create an invite", "node", node, "requester", r.bare.String(), "err", err)
		return iq.Error(stanza.Error{Type: stanza.Wait, Condition: stanza.InternalServerError,
			Text: map[string]string{"": "The invite could not be created. Please try again later."}})
	}
	title := "Contact invite created"
	if req.Type == keystore.TypeAccount {
		title = "Account invite created"
	}
	form := dataForm("result", title,
		formField{Var: "landing-url", Type: "text-single", Label: "Invite link", Values: []string{created.LandingURL}},
		formField{Var: "uri", Type: "text-single", Label: "Invite URI", Values: []string{created.URI}},
		formField{Var: "expire", Type: "text-single", Label: "Expires", Values: []string{formatExpire(created.Invite.Expires)}},
	)
	return iq.Result(commandEl(node, sid, "completed", form))
}

// commandEl returns an ad-hoc <command/> element.
func commandEl(node, sid, status string, children ...xml.TokenReader) xml.TokenReader {
	return el(name(nsCommands, "command"),
		[]xml.Attr{attr("node", node), attr("sessionid", sid), attr("status", status)}, children...)
}

func forbidden(msg string) stanza.Error {
	return stanza.Error{Type: stanza.Auth, Condition: stanza.Forbidden, Text: map[string]string{"": msg}}
}

// contactRequest is the contact invite a user of Domain gets for themself.
func (c *Component) contactRequest(r requester) invites.Request {
	req := invites.Request{
		Type:          keystore.TypeContact,
		Username:      r.bare.Localpart(),
		Creator:       "xmpp:" + r.bare.String(),
		AllowRegister: r.admin || c.cfg.AllowUserInvites,
	}
	if !r.admin && c.cfg.UserInvitesPerDay > 0 {
		req.Limit = keystore.Limit{Max: c.cfg.UserInvitesPerDay, Since: c.now().Add(-userQuotaWindow)}
	}
	return req
}

// mint creates an invite and counts it.
func (c *Component) mint(ctx context.Context, req invites.Request) (invites.Created, error) {
	if c.minter == nil {
		return invites.Created{}, errors.New("no invite minter")
	}
	created, err := c.minter.Create(ctx, req)
	if err != nil {
		return created, err
	}
	c.m.InviteCreated("xmpp", string(created.Invite.Type))
	c.log.Info("invite created", "source", "xmpp", "type", string(created.Invite.Type),
		"id", created.Invite.ID, "creator", req.Creator)
	return created, nil
}

// userQuotaWindow is the window of user_invites_per_day.
const userQuotaWindow = 24 * time.Hour

func (c *Component) quotaText(err error) string {
	msg := fmt.Sprintf("You have reached the limit of %d invites per day.", c.cfg.UserInvitesPerDay)
	var limit *keystore.LimitError
	if errors.As(err, &limit) {
		// The oldest invite of the day leaves the window then; rounded up
		// to the minute, so the time given is never too early.
		next := limit.Oldest.Add(userQuotaWindow + time.Minute - time.Second).Truncate(time.Minute)
		return msg + " You can create the next one from " + next.UTC().Format("2006-01-02 15:04") + " UTC."
	}
	return msg + " Please try again later."
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
				h.l.setPrivileges(ns, parsePrivileges(p))
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
		answer := c.chatAnswer(ctx, r, body)
		msg := stanza.Message{To: from, From: c.jid, Type: stanza.ChatMessage}
		if err := l.s.Send(ctx, msg.Wrap(textEl("body", answer))); err != nil && l.ctx.Err() == nil {
			c.log.Warn("could not answer a chat message", "to", from.String(), "err", err)
		}
	}()
}

// chatAnswer is the component's answer to a chat message.
func (c *Component) chatAnswer(ctx context.Context, r requester, body string) string {
	if !r.local {
		return fmt.Sprintf("This service creates invites for users of %s only.", c.domain)
	}
	if !strings.EqualFold(body, "invite") {
		return c.helpText(r)
	}
	created, err := c.mint(ctx, c.contactRequest(r))
	switch {
	case errors.Is(err, invites.ErrQuota):
		return c.quotaText(err)
	case err != nil:
		c.log.Error("could not create an invite", "source", "chat", "requester", r.bare.String(), "err", err)
		return "Sorry, the invite could not be created. Please try again later."
	}
	return fmt.Sprintf("Here is your invite link. Send it to the person you want to chat with; "+
		"it works once and expires %s.\n%s\n\nIf they already have an XMPP app: %s",
		created.Invite.Expires.UTC().Format("2006-01-02 15:04 UTC"), created.LandingURL, created.URI)
}

func (c *Component) helpText(r requester) string {
	s := fmt.Sprintf("Send \"invite\" and I answer with a link that invites someone to chat with you on %s.", c.domain)
	if r.admin {
		s += " As an admin you can also create account invites with the ad-hoc command \"" + commandNames[nodeCreateAccount] + "\"."
	}
	return s
}

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
