package component

import (
	"context"
	"encoding/xml"
	"errors"
	"strconv"
	"strings"
	"time"

	"mellium.im/xmpp/stanza"

	"xmpp-invites/i18n"
	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

// The ad-hoc commands (XEP-0050) of the component: the two of XEP-0401
// 0.6.0 and the admin commands, which have forms (XEP-0004). docs/inband.md
// describes them. Commands keep no state between steps: a command with a
// form answers execute with the form (status executing) and acts on the
// submitted form, so that a client may also submit the form, or complete,
// at once.

// Command nodes offered by the component.
const (
	nodeInvite        = "urn:xmpp:invite#invite"
	nodeCreateAccount = "urn:xmpp:invite#create-account"
	nodeAdminCreate   = "urn:xmpp-invites:admin#create"
	nodeAdminList     = "urn:xmpp-invites:admin#list"
	nodeAdminRevoke   = "urn:xmpp-invites:admin#revoke"
	nodeAdminReset    = "urn:xmpp-invites:admin#reset"
)

// nsInvitation is the FORM_TYPE of XEP-0401 result forms.
const nsInvitation = "urn:xmpp:invite#invitation"

// listMax bounds the invites one list shows, in a form or a chat.
const listMax = 50

// command is one ad-hoc command.
type command struct {
	node  string
	name  i18n.Message
	admin bool // admins only; the others are for every user of the domain
	// form is the form answered to execute; nil: the command has one step.
	form func(c *Component, loc *i18n.Localizer, r requester) xml.TokenReader
	// run carries the command out with the submitted values (nil when
	// none were), and returns the payload of the completed command: a
	// form or a note. It runs outside the Serve goroutine.
	run func(ctx context.Context, c *Component, loc *i18n.Localizer, r requester, v formData) (xml.TokenReader, error)
}

// commands are the component's commands, in the order disco#items lists
// them.
var commands = []command{
	{node: nodeInvite, name: i18n.Msg("xmpp_command_invite", "Invite someone to chat with you"), run: runInvite},
	{node: nodeCreateAccount, name: i18n.Msg("xmpp_command_create_account", "Create an account invite"), admin: true,
		form: createAccountForm, run: runCreateAccount},
	{node: nodeAdminCreate, name: i18n.Msg("xmpp_command_admin_create", "Create an invite (all options)"), admin: true,
		form: adminCreateForm, run: runAdminCreate},
	{node: nodeAdminList, name: i18n.Msg("xmpp_command_admin_list", "List pending invites"), admin: true, run: runAdminList},
	{node: nodeAdminRevoke, name: i18n.Msg("xmpp_command_admin_revoke", "Revoke an invite"), admin: true,
		form: adminRevokeForm, run: runAdminRevoke},
	{node: nodeAdminReset, name: i18n.Msg("xmpp_command_admin_reset", "Password reset link for a user"), admin: true,
		form: adminResetForm, run: runAdminReset},
}

// commandByNode returns the command of node, or nil.
func commandByNode(node string) *command {
	for i := range commands {
		if commands[i].node == node {
			return &commands[i]
		}
	}
	return nil
}

// may reports whether r may run cmd.
func (cmd *command) may(r requester) bool { return r.local && (!cmd.admin || r.admin) }

// formData are the values of a submitted form, by field.
type formData map[string][]string

// get returns the first value of field v, trimmed; "" when absent.
func (d formData) get(v string) string {
	if vals := d[v]; len(vals) > 0 {
		return strings.TrimSpace(vals[0])
	}
	return ""
}

// readForm returns the values of a submitted data form.
func readForm(x *element) formData {
	d := formData{}
	for _, f := range x.children("", "field") {
		if v := f.attr("var"); v != "" {
			d[v] = formValues(x, v)
		}
	}
	return d
}

// inputError is a submitted value that cannot be used; its text speaks
// the requester's language.
type inputError struct{ text string }

func (e *inputError) Error() string { return e.text }

// command handles an XEP-0050 request. It returns an immediate answer, or
// nil when a goroutine will answer. Its texts speak loc's language.
func (h *handler) command(iq stanza.IQ, loc *i18n.Localizer, req *element) xml.TokenReader {
	c := h.c
	node, action, sid := req.attr("node"), req.attr("action"), req.attr("sessionid")
	cmd := commandByNode(node)
	if cmd == nil {
		return iq.Error(stanza.Error{Type: stanza.Cancel, Condition: stanza.ItemNotFound})
	}
	if sid == "" {
		sid = newID()
	}
	x := req.child(nsData, "x")
	switch {
	case action == "cancel" || x.attr("type") == "cancel":
		return iq.Result(commandEl(node, sid, "canceled"))
	case action == "" || action == "execute" || action == "complete" || action == "next":
	default:
		return iq.Error(stanza.Error{Type: stanza.Modify, Condition: stanza.BadRequest,
			Text: map[string]string{loc.Lang(): loc.T("xmpp_command_steps", "This command has no previous step: execute, complete or cancel it.")}})
	}
	r := c.who(iq.From)
	if !r.local {
		return iq.Error(forbidden(loc, loc.T("xmpp_only_users", "Only users of {{.Domain}} can create invites here.", "Domain", c.servedNames())))
	}
	if !cmd.may(r) {
		return iq.Error(forbidden(loc, loc.T("xmpp_only_admins_command", "Only admins of {{.Domain}} can run this command.", "Domain", c.domain.String())))
	}
	var data formData
	if x != nil && x.attr("type") == "submit" {
		data = readForm(x)
	}
	if cmd.form != nil && data == nil && (action == "" || action == "execute") {
		// The first step: the form. complete (or a submitted form) with
		// the defaults skips it.
		actions := el2("actions", []xml.Attr{attr("execute", "complete")}, el(name("", "complete"), nil))
		return iq.Result(commandEl(node, sid, "executing", actions, cmd.form(c, loc, r)))
	}
	l := h.l
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		ctx, cancel := context.WithTimeout(l.ctx, mintTimeout)
		defer cancel()
		reply := c.commandResult(ctx, iq, loc, cmd, sid, r, data)
		if err := l.s.Send(ctx, reply); err != nil && l.ctx.Err() == nil {
			c.log.Warn("could not send a command result", "node", node, "to", iq.From.String(), "err", err)
		}
	}()
	return nil
}

// el2 is an element in the parent's namespace.
func el2(local string, attrs []xml.Attr, children ...xml.TokenReader) xml.TokenReader {
	return el(name("", local), attrs, children...)
}

// commandResult runs cmd and builds its answer in loc's language. Forms'
// values (links, the expiry) are for machines and stay as XEP-0401 writes
// them.
func (c *Component) commandResult(ctx context.Context, iq stanza.IQ, loc *i18n.Localizer, cmd *command, sid string, r requester, data formData) xml.TokenReader {
	payload, err := cmd.run(ctx, c, loc, r, data)
	if err == nil {
		return iq.Result(commandEl(cmd.node, sid, "completed", payload))
	}
	var in *inputError
	if errors.As(err, &in) {
		return iq.Error(stanza.Error{Type: stanza.Modify, Condition: stanza.BadRequest, Text: map[string]string{loc.Lang(): in.text}})
	}
	ref := c.refusal(loc, err)
	if ref.internal {
		c.log.Error("command failed", "node", cmd.node, "requester", r.bare.String(), "err", err)
	}
	if ref.note {
		return iq.Result(commandEl(cmd.node, sid, "completed", noteEl("error", ref.text)))
	}
	return iq.Error(stanza.Error{Type: ref.typ, Condition: ref.cond, Text: map[string]string{ref.lang(loc): ref.text}})
}

// noteEl is an XEP-0050 note of type typ (info, warn, error).
func noteEl(typ, s string) xml.TokenReader {
	return el(name("", "note"), []xml.Attr{attr("type", typ)}, text(s))
}

// refusal is how the component says that an invite, a list or a
// revocation was refused: as a stanza error with a condition, or (the
// daily limit) as a completed command with an error note; in chats as
// text.
type refusal struct {
	typ      stanza.ErrorType
	cond     stanza.Condition
	text     string
	note     bool // a completed command with an error note
	internal bool // our failure: logged
	english  bool // the text is the API's English, whatever loc is
}

func (r refusal) lang(loc *i18n.Localizer) string {
	if r.english {
		return i18n.Source
	}
	return loc.Lang()
}

// refusal maps the errors of invites.Service's CreateFor, ListFor and
// RevokeFor onto what the requester is told, in loc's language.
func (c *Component) refusal(loc *i18n.Localizer, err error) refusal {
	var (
		verr *invites.ValidationError
		na   *invites.NotAllowedError
	)
	switch {
	case errors.Is(err, invites.ErrQuota):
		return refusal{note: true, text: c.quotaText(loc, err)}
	case errors.As(err, &na):
		var msg string
		switch na.Rule {
		case invites.RuleOtherDomain:
			msg = loc.T("xmpp_only_users", "Only users of {{.Domain}} can create invites here.", "Domain", c.domain.String())
		case invites.RuleUserInvites:
			msg = loc.T("xmpp_only_admins", "Only admins of {{.Domain}} can create account invites.", "Domain", c.domain.String())
		case invites.RuleAdminOnly:
			msg = loc.T("xmpp_admin_only", "Only admins can create reset invites or invites for a fixed username.")
		default:
			// The chain limits, and anything else CreateFor refuses.
			msg = c.notAllowedText(loc, err)
		}
		return refusal{typ: stanza.Auth, cond: stanza.Forbidden, text: msg}
	case errors.As(err, &verr):
		switch verr.Field {
		case "ttl":
			if max := c.maxTTL(); max > 0 && strings.Contains(verr.Msg, "exceed") {
				return refusal{typ: stanza.Modify, cond: stanza.BadRequest,
					text: loc.T("xmpp_ttl_too_long", "An invite can be valid for at most {{.Max}}.", "Max", validityLabel(loc, max))}
			}
		case "username":
			switch verr.Code {
			case invites.CodeNoAccount:
				return refusal{typ: stanza.Cancel, cond: stanza.ItemNotFound,
					text: loc.T("create_no_account", "There is no account {{.JID}} on the chat server.", "JID", verr.Value)}
			case invites.CodeReserved:
				return refusal{typ: stanza.Modify, cond: stanza.NotAcceptable,
					text: loc.T("xmpp_username_reserved", "The username {{.Username}} is reserved.", "Username", verr.Value)}
			}
		case "uses":
			if strings.Contains(verr.Msg, "between") {
				return refusal{typ: stanza.Modify, cond: stanza.BadRequest,
					text: loc.T("xmpp_uses_range", "The number of uses must be between 1 and {{.Max}}.", "Max", invites.MaxUses)}
			}
		}
		// The API's words, in English, and marked so.
		return refusal{typ: stanza.Modify, cond: stanza.BadRequest, text: verr.Error(), english: true}
	case errors.Is(err, invites.ErrProtected):
		return refusal{typ: stanza.Auth, cond: stanza.Forbidden,
			text: loc.T("xmpp_protected", "A reset invite for an admin or a reserved account can only be made with the command line.")}
	case errors.Is(err, keystore.ErrNotFound):
		return refusal{typ: stanza.Cancel, cond: stanza.ItemNotFound,
			text: loc.T("xmpp_invite_not_found", "There is no such invite, or it is not yours.")}
	case errors.Is(err, keystore.ErrRevoked):
		return refusal{typ: stanza.Cancel, cond: stanza.Conflict, text: loc.T("xmpp_invite_revoked_already", "This invite was already revoked.")}
	case errors.Is(err, keystore.ErrUsedUp):
		return refusal{typ: stanza.Cancel, cond: stanza.Conflict, text: loc.T("xmpp_invite_used_up", "This invite has been used up.")}
	case errors.Is(err, keystore.ErrExpired):
		return refusal{typ: stanza.Cancel, cond: stanza.Conflict, text: loc.T("xmpp_invite_expired", "This invite has expired.")}
	}
	return refusal{typ: stanza.Wait, cond: stanza.InternalServerError, internal: true,
		text: loc.T("xmpp_invite_failed", "The invite could not be created. Please try again later.")}
}

// maxTTL is max_ttl.
func (c *Component) maxTTL() time.Duration { return c.minter.Config().MaxTTL }

// invitationForm is the XEP-0401 result form of a new invite: the hidden
// FORM_TYPE, uri, landing-url and expire (omitted for an invite that
// does not expire, as XEP-0401 says). withID adds the invite's ID, which
// the admin commands and chat words revoke by.
func invitationForm(loc *i18n.Localizer, created invites.Created, withID bool) xml.TokenReader {
	title := loc.T("xmpp_contact_invite_created", "Contact invite created")
	switch created.Invite.Type {
	case keystore.TypeAccount:
		title = loc.T("xmpp_account_invite_created", "Account invite created")
	case keystore.TypeReset:
		title = loc.T("xmpp_reset_invite_created", "Password reset invite created")
	}
	fields := []formField{
		{Var: "FORM_TYPE", Type: "hidden", Values: []string{nsInvitation}},
		{Var: "uri", Type: "text-single", Label: loc.T("xmpp_field_uri", "Invite URI"), Values: []string{created.URI}},
		{Var: "landing-url", Type: "text-single", Label: loc.T("xmpp_field_link", "Invite link"), Values: []string{created.LandingURL}},
	}
	if !created.Invite.NeverExpires() {
		fields = append(fields, formField{Var: "expire", Type: "text-single", Label: loc.T("xmpp_field_expires", "Expires"),
			Values: []string{formatExpire(created.Invite.Expires)}})
	}
	if withID {
		fields = append(fields, formField{Var: "id", Type: "text-single", Label: loc.T("xmpp_field_id", "Invite ID"),
			Values: []string{created.Invite.ID}})
	}
	return dataForm("result", title, fields...)
}

// runInvite: urn:xmpp:invite#invite, the requester's contact invite.
func runInvite(ctx context.Context, c *Component, loc *i18n.Localizer, r requester, _ formData) (xml.TokenReader, error) {
	created, err := c.mint(ctx, r, invites.Request{Type: keystore.TypeContact})
	if err != nil {
		return nil, err
	}
	return invitationForm(loc, created, false), nil
}

// createAccountForm is the form of urn:xmpp:invite#create-account, as
// XEP-0401 shows it: an optional username and roster-subscription.
func createAccountForm(_ *Component, loc *i18n.Localizer, _ requester) xml.TokenReader {
	return dataForm("form", loc.T("xmpp_form_create_account", "Account invite"),
		formField{Var: "username", Type: "text-single", Label: loc.T("xmpp_field_username_optional", "Username (empty: the invited person chooses)")},
		formField{Var: "roster-subscription", Type: "boolean", Label: loc.T("xmpp_field_roster_subscription", "Become my contact"), Values: []string{"0"}},
	)
}

// runCreateAccount: urn:xmpp:invite#create-account. With
// roster-subscription the invite is the admin's contact invite that lets
// the invitee register (the new account becomes the admin's contact);
// that kind of invite has no fixed username.
func runCreateAccount(ctx context.Context, c *Component, loc *i18n.Localizer, r requester, v formData) (xml.TokenReader, error) {
	sub, ok := parseBool(v.get("roster-subscription"))
	if !ok {
		return nil, &inputError{loc.T("xmpp_bad_boolean", "{{.Field}} must be true or false.", "Field", "roster-subscription")}
	}
	user := v.get("username")
	req := invites.Request{Type: keystore.TypeAccount, Username: user}
	if sub {
		if user != "" {
			return nil, &inputError{loc.T("xmpp_subscription_fixed_user", "An invite that makes the new account your contact lets the invited person choose the username: leave the username empty, or turn the roster subscription off.")}
		}
		req = invites.Request{Type: keystore.TypeContact}
	}
	created, err := c.mint(ctx, r, req)
	if err != nil {
		return nil, err
	}
	return invitationForm(loc, created, false), nil
}

// parseBool reads an XEP-0004 boolean; "" is false.
func parseBool(s string) (value, ok bool) {
	switch s {
	case "", "0", "false":
		return false, true
	case "1", "true":
		return true, true
	}
	return false, false
}

// adminCreateForm is the form of the admin's create command.
func adminCreateForm(c *Component, loc *i18n.Localizer, _ requester) xml.TokenReader {
	return dataForm("form", loc.T("xmpp_form_admin_create", "New invite"),
		formField{Var: "type", Type: "list-single", Label: loc.T("xmpp_field_type", "Type"), Values: []string{string(keystore.TypeAccount)},
			Options: []formOption{
				{Label: loc.T("xmpp_type_account", "Account: register a new account"), Value: string(keystore.TypeAccount)},
				{Label: loc.T("xmpp_type_contact", "Contact: register and become my contact"), Value: string(keystore.TypeContact)},
				{Label: loc.T("xmpp_type_reset", "Reset: set a new password for an account"), Value: string(keystore.TypeReset)},
			}},
		formField{Var: "username", Type: "text-single", Label: loc.T("xmpp_field_username_fixed", "Username (fixed for an account invite, the account for a reset)")},
		c.validityField(loc),
		formField{Var: "uses", Type: "text-single", Label: loc.T("xmpp_field_uses", "Uses"), Values: []string{"1"}},
		formField{Var: "note", Type: "text-single", Label: loc.T("xmpp_field_note", "Note (seen by admins only)")},
	)
}

// validityCandidates are the validities the forms offer, up to max_ttl.
var validityCandidates = []string{"1h", "12h", "1d", "3d", "1w", "2w", "4w"}

// validityField is the form field of a validity: the candidates up to
// max_ttl and max_ttl itself, and never where allow_never_expiring is on
// (the command is for admins); empty means the default of the invite's
// type (default_ttl, reset_ttl).
func (c *Component) validityField(loc *i18n.Localizer) formField {
	max := c.maxTTL()
	f := formField{Var: "validity", Type: "list-single", Label: loc.T("xmpp_field_validity", "Valid for (empty: the default)")}
	seen := map[time.Duration]bool{}
	for _, v := range validityCandidates {
		d, _, _ := parseValidity(v)
		if max > 0 && d > max {
			continue
		}
		seen[d] = true
		f.Options = append(f.Options, formOption{Label: validityLabel(loc, d), Value: v})
	}
	if max > 0 && !seen[max] {
		f.Options = append(f.Options, formOption{Label: validityLabel(loc, max), Value: formatValidity(max)})
	}
	if c.minter.Config().AllowNeverExpiring {
		f.Options = append(f.Options, formOption{Label: loc.T("xmpp_validity_never", "Does not expire (not for resets)"), Value: "never"})
	}
	return f
}

// runAdminCreate: an invite of any type with every option.
func runAdminCreate(ctx context.Context, c *Component, loc *i18n.Localizer, r requester, v formData) (xml.TokenReader, error) {
	req := invites.Request{Type: keystore.Type(v.get("type")), Username: v.get("username"), Note: v.get("note")}
	if req.Type == "" {
		req.Type = keystore.TypeAccount
	}
	if !req.Type.Valid() {
		return nil, &inputError{loc.T("xmpp_bad_type", "The type must be account, contact or reset.")}
	}
	if s := v.get("validity"); s != "" {
		d, never, ok := parseValidity(s)
		if !ok {
			return nil, &inputError{loc.T("xmpp_bad_validity", "The validity must be a number of hours, days or weeks such as 12h, 3d or 2w.")}
		}
		req.TTL, req.Never = d, never
	}
	if s := v.get("uses"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > invites.MaxUses {
			return nil, &inputError{loc.T("xmpp_uses_range", "The number of uses must be between 1 and {{.Max}}.", "Max", invites.MaxUses)}
		}
		req.Uses = n
	}
	if req.Type == keystore.TypeReset {
		req.Accounts = c
	}
	created, err := c.mint(ctx, r, req)
	if msg, ok := neverRefusal(loc, req, err); ok {
		return nil, &inputError{msg}
	}
	if err != nil {
		return nil, err
	}
	return invitationForm(loc, created, true), nil
}

// neverRefusal words the refusal of a request for an invite that does not
// expire: invites.Service refuses it unless allow_never_expiring is on,
// for people who are not admins, and always for resets. ok is false when
// err is not such a refusal.
func neverRefusal(loc *i18n.Localizer, req invites.Request, err error) (msg string, ok bool) {
	var verr *invites.ValidationError
	switch {
	case !req.Never || err == nil:
		return "", false
	case errors.Is(err, invites.ErrNotAllowed):
		return loc.T("xmpp_never_admins", "Only admins can create invites that do not expire."), true
	case errors.As(err, &verr) && verr.Field == "ttl" && req.Type == keystore.TypeReset:
		return loc.T("xmpp_never_reset", "A password reset invite always expires."), true
	case errors.As(err, &verr) && verr.Field == "ttl":
		return loc.T("xmpp_never_unavailable", "Invites that do not expire are not available here."), true
	}
	return "", false
}

// runAdminList: the pending invites, newest first, as a form with one item
// per invite.
func runAdminList(ctx context.Context, c *Component, loc *i18n.Localizer, r requester, _ formData) (xml.TokenReader, error) {
	invs, err := c.list(ctx, r)
	if err != nil {
		return nil, err
	}
	cols := []formField{
		{Var: "id", Label: loc.T("xmpp_field_id", "Invite ID")},
		{Var: "type", Label: loc.T("xmpp_field_type", "Type")},
		{Var: "uses", Label: loc.T("xmpp_field_uses", "Uses")},
		{Var: "expire", Label: loc.T("xmpp_field_expires", "Expires")},
		{Var: "creator", Label: loc.T("xmpp_field_creator", "Created by")},
	}
	rows := make([][]string, 0, len(invs))
	for i, inv := range invs {
		if i == listMax {
			break
		}
		exp := formatExpire(inv.Expires)
		if inv.NeverExpires() {
			exp = "never"
		}
		rows = append(rows, []string{inv.ID, string(inv.Type), strconv.Itoa(inv.Uses) + "/" + strconv.Itoa(inv.MaxUses), exp, inv.Creator})
	}
	title := loc.N("xmpp_list_title", len(rows), "{{.Count}} pending invite", "{{.Count}} pending invites")
	if len(invs) > listMax {
		title = loc.N("xmpp_list_title_newest", listMax, "The newest {{.Count}} pending invite", "The newest {{.Count}} pending invites")
	}
	return reportForm(title, cols, rows), nil
}

// list returns the pending invites r may see, newest first: listMax and
// one more, to tell whether there are more.
func (c *Component) list(ctx context.Context, r requester) ([]keystore.Invite, error) {
	return c.minter.ListFor(ctx, r.person(), keystore.ListOptions{Newest: true, Limit: listMax + 1})
}

// adminRevokeForm asks for the ID of the invite to revoke.
func adminRevokeForm(_ *Component, loc *i18n.Localizer, _ requester) xml.TokenReader {
	return dataForm("form", loc.T("xmpp_form_revoke", "Revoke an invite"),
		formField{Var: "id", Type: "text-single", Label: loc.T("xmpp_field_id", "Invite ID"), Required: true})
}

// runAdminRevoke revokes the invite named in the form.
func runAdminRevoke(ctx context.Context, c *Component, loc *i18n.Localizer, r requester, v formData) (xml.TokenReader, error) {
	id := v.get("id")
	if id == "" {
		return nil, &inputError{loc.T("xmpp_revoke_needs_id", "Give the ID of the invite to revoke.")}
	}
	inv, err := c.revoke(ctx, r, id)
	if err != nil {
		return nil, err
	}
	return noteEl("info", loc.T("xmpp_revoked", "Invite {{.ID}} is revoked.", "ID", inv.ID)), nil
}

// revoke revokes the invite id for r, and logs it.
func (c *Component) revoke(ctx context.Context, r requester, id string) (keystore.Invite, error) {
	inv, err := c.minter.RevokeFor(ctx, r.person(), id)
	if err != nil {
		return inv, err
	}
	c.log.Info("invite revoked", "source", "xmpp", "id", inv.ID, "by", r.bare.String())
	return inv, nil
}

// adminResetForm asks for the account whose password is to be reset.
func adminResetForm(c *Component, loc *i18n.Localizer, _ requester) xml.TokenReader {
	return dataForm("form", loc.T("xmpp_form_reset", "Password reset link"),
		formField{Var: "username", Type: "text-single", Required: true,
			Label: loc.T("xmpp_field_reset_user", "Username on {{.Domain}}", "Domain", c.domain.String())})
}

// runAdminReset makes a reset invite for the user named in the form.
func runAdminReset(ctx context.Context, c *Component, loc *i18n.Localizer, r requester, v formData) (xml.TokenReader, error) {
	user, ok := c.localUser(v.get("username"))
	if !ok {
		return nil, &inputError{loc.T("xmpp_reset_needs_user", "Give the username of an account on {{.Domain}}.", "Domain", c.domain.String())}
	}
	created, err := c.mint(ctx, r, invites.Request{Type: keystore.TypeReset, Username: user, Accounts: c})
	if err != nil {
		return nil, err
	}
	return invitationForm(loc, created, true), nil
}

// localUser reads a username of the domain: a localpart, or a bare JID of
// the domain.
func (c *Component) localUser(s string) (string, bool) {
	if s == "" || strings.ContainsAny(s, "/ \t\n") {
		return "", false
	}
	if local, domain, ok := strings.Cut(s, "@"); ok {
		if !strings.EqualFold(domain, c.domain.String()) || local == "" {
			return "", false
		}
		s = local
	}
	return s, true
}

// person is r as invites' rules see them.
func (r requester) person() invites.Person {
	return invites.Person{JID: r.bare.String(), Admin: r.admin}
}

// parseValidity reads a validity as the chat words and forms write it:
// Nh, Nd or Nw (N from 1 to 99999), or never.
func parseValidity(s string) (d time.Duration, never, ok bool) {
	s = strings.ToLower(s)
	if s == "never" {
		return 0, true, true
	}
	if len(s) < 2 || len(s) > 6 {
		return 0, false, false
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || n < 1 || s[0] == '+' {
		return 0, false, false
	}
	unit := map[byte]time.Duration{'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[s[len(s)-1]]
	if unit == 0 {
		return 0, false, false
	}
	return time.Duration(n) * unit, false, true
}

// formatValidity writes d as parseValidity reads it, in the largest whole
// unit (rounded up to the hour).
func formatValidity(d time.Duration) string {
	h := int((d + time.Hour - 1) / time.Hour)
	switch {
	case h%(7*24) == 0:
		return strconv.Itoa(h/(7*24)) + "w"
	case h%24 == 0:
		return strconv.Itoa(h/24) + "d"
	}
	return strconv.Itoa(h) + "h"
}

// validityLabel says d in loc's language, in its largest whole unit.
func validityLabel(loc *i18n.Localizer, d time.Duration) string {
	v := formatValidity(d)
	n, _ := strconv.Atoi(v[:len(v)-1])
	switch v[len(v)-1] {
	case 'w':
		return loc.N("xmpp_weeks", n, "{{.Count}} week", "{{.Count}} weeks")
	case 'd':
		return loc.N("xmpp_days", n, "{{.Count}} day", "{{.Count}} days")
	}
	return loc.N("xmpp_hours", n, "{{.Count}} hour", "{{.Count}} hours")
}
