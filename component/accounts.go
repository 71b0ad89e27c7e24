package component

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"time"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"xmpp-invites/invites"
)

// The account operations below implement invites.Accounts and
// invites.Followups. While the link is down they fail at once with an error
// wrapping invites.ErrLinkDown; if the link ends while the server is still
// working on a request, the error also wraps context.Canceled, because the
// request may have been carried out.

var (
	_ invites.Accounts  = (*Component)(nil)
	_ invites.Followups = (*Component)(nil)
)

// current returns the link, or an error wrapping invites.ErrLinkDown.
func (c *Component) current(op string) (*link, error) {
	l := c.cur.Load()
	if l == nil {
		return nil, fmt.Errorf("%s: %w", op, invites.ErrLinkDown)
	}
	return l, nil
}

// userJID returns username@Domain.
func (c *Component) userJID(username string) (jid.JID, error) {
	if username == "" {
		return jid.JID{}, errors.New("empty username")
	}
	j, err := jid.New(username, c.domain.Domainpart(), "")
	if err != nil {
		return jid.JID{}, fmt.Errorf("invalid username %q: %w", username, err)
	}
	return j, nil
}

// CreateAccount creates username@Domain with XEP-0133 add-user. A taken
// username gives an error wrapping invites.ErrUsernameTaken (ejabberd
// answers <conflict/>, Prosody a completed command with an error note); a
// server that did not make the component an admin gives ErrNotAdmin.
func (c *Component) CreateAccount(ctx context.Context, username, password string) error {
	user, err := c.userJID(username)
	if err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	if password == "" {
		return errors.New("create account: empty password")
	}
	start := time.Now()
	_, err = c.adminCommand(ctx, "create account "+user.String(), nodeAddUser,
		formField{Var: "accountjid", Type: "jid-single", Values: []string{user.String()}},
		formField{Var: "password", Type: "text-private", Values: []string{password}},
		formField{Var: "password-verify", Type: "text-private", Values: []string{password}},
	)
	var ne *noteError
	switch {
	case isCondition(err, stanza.Conflict),
		errors.As(err, &ne) && strings.Contains(strings.ToLower(ne.text), "exist"):
		return fmt.Errorf("create account %s: %w", user, invites.ErrUsernameTaken)
	case err != nil:
		return err
	}
	c.log.Info("account created", "jid", user.String(), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// ChangePassword sets a new password for username@Domain with XEP-0133
// change-user-password.
func (c *Component) ChangePassword(ctx context.Context, username, password string) error {
	user, err := c.userJID(username)
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	if password == "" {
		return errors.New("change password: empty password")
	}
	_, err = c.adminCommand(ctx, "change password of "+user.String(), nodeChangePassword,
		formField{Var: "accountjid", Type: "jid-single", Values: []string{user.String()}},
		formField{Var: "password", Type: "text-private", Values: []string{password}},
	)
	if err != nil {
		return err
	}
	c.log.Info("password changed", "jid", user.String())
	return nil
}

// DeleteAccount deletes username@Domain with XEP-0133 delete-user.
func (c *Component) DeleteAccount(ctx context.Context, username string) error {
	user, err := c.userJID(username)
	if err != nil {
		return fmt.Errorf("delete account: %w", err)
	}
	_, err = c.adminCommand(ctx, "delete account "+user.String(), nodeDeleteUser,
		formField{Var: "accountjids", Type: "jid-multi", Values: []string{user.String()}},
	)
	if err != nil {
		return err
	}
	c.log.Info("account deleted", "jid", user.String())
	return nil
}

// noteError is an error note in a completed command.
type noteError struct{ text string }

func (e *noteError) Error() string { return "the server answered: " + e.text }

// Unwrap makes every error note an invites.ErrRefused.
func (e *noteError) Unwrap() error { return invites.ErrRefused }

// adminCommand runs an XEP-0133 command on the server: first as one
// request with the filled form and action "complete" (Prosody and ejabberd
// take that), and when the server wants the usual two steps, as execute →
// complete with its session ID.
func (c *Component) adminCommand(ctx context.Context, op, node string, fields ...formField) (*element, error) {
	l, err := c.current(op)
	if err != nil {
		return nil, err
	}
	form := func() xml.TokenReader {
		all := append([]formField{{Var: "FORM_TYPE", Type: "hidden", Values: []string{nsAdmin}}}, fields...)
		return dataForm("submit", "", all...)
	}
	cmd, err := c.execute(ctx, l, node, "complete", "", form())
	if isCondition(err, stanza.BadRequest) {
		// The server wants a session first.
		cmd, err = c.execute(ctx, l, node, "execute", "", nil)
	}
	if err == nil && cmd.attr("status") == "executing" {
		sid := cmd.attr("sessionid")
		if sid == "" {
			return nil, fmt.Errorf("%s: the server's %s form has no session ID", op, node)
		}
		cmd, err = c.execute(ctx, l, node, "complete", sid, form())
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, c.adminError(node, err))
	}
	if st := cmd.attr("status"); st != "completed" {
		return nil, fmt.Errorf("%s: the server's %s command ended with status %q", op, node, st)
	}
	for _, n := range cmd.children("", "note") {
		if n.attr("type") == "error" {
			return nil, fmt.Errorf("%s: %w", op, &noteError{text: strings.TrimSpace(n.Text)})
		}
	}
	return cmd, nil
}

// execute sends one ad-hoc command request and returns the <command/> of
// the reply.
func (c *Component) execute(ctx context.Context, l *link, node, action, sid string, payload xml.TokenReader) (*element, error) {
	attrs := []xml.Attr{attr("node", node), attr("action", action)}
	if sid != "" {
		attrs = append(attrs, attr("sessionid", sid))
	}
	var children []xml.TokenReader
	if payload != nil {
		children = append(children, payload)
	}
	reply, err := c.request(ctx, l, stanza.SetIQ, c.domain, el(name(nsCommands, "command"), attrs, children...))
	if err != nil {
		return nil, err
	}
	cmd := reply.child(nsCommands, "command")
	if cmd == nil {
		return nil, fmt.Errorf("the server's answer to %s has no command", node)
	}
	return cmd, nil
}

// adminError explains a refused XEP-0133 request. Conditions other than the
// mapped ones keep the stanza.Error in the chain.
func (c *Component) adminError(node string, err error) error {
	var se stanza.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Condition {
	case stanza.Forbidden, stanza.NotAuthorized, stanza.NotAllowed:
		return fmt.Errorf("%w (%w): %s refused %s with %s; make %s an admin of %s (see docs/servers.md)",
			ErrNotAdmin, invites.ErrRefused, c.domain, node, describe(se), c.jid, c.domain)
	case stanza.ServiceUnavailable, stanza.FeatureNotImplemented:
		return fmt.Errorf("%w: %s does not offer %s (%s)", invites.ErrUnsupported, c.domain, node, describe(se))
	}
	return fmt.Errorf("%s answered %s: %w (%w)", c.domain, describe(se), se, invites.ErrRefused)
}

// AccountExists asks the server whether username@Domain exists. Neither
// server tells a component through disco#info (Prosody answers
// service-unavailable and ejabberd subscription-required for every bare
// JID, account or not), so it uses XEP-0133:
//
//   - where the server offers get-user-lastlogin (ejabberd), "Never" means
//     no account: ejabberd's mod_last records a time at registration. (A
//     server without mod_last says "Never" for every account that has not
//     logged in.)
//   - else user-stats (Prosody), which completes with the error note "User
//     does not exist" for a name without an account.
func (c *Component) AccountExists(ctx context.Context, username string) (bool, error) {
	user, err := c.userJID(username)
	if err != nil {
		return false, fmt.Errorf("account exists: %w", err)
	}
	op := "check account " + user.String()
	l, err := c.current(op)
	if err != nil {
		return false, err
	}
	cmds, err := c.serverCommands(ctx, l)
	if err != nil {
		return false, fmt.Errorf("%s: %w", op, err)
	}
	account := formField{Var: "accountjid", Type: "jid-single", Values: []string{user.String()}}
	switch {
	case cmds[nodeLastLogin]:
		cmd, err := c.adminCommand(ctx, op, nodeLastLogin, account)
		if err != nil {
			return false, err
		}
		v := formValues(cmd.child(nsData, "x"), "lastlogin")
		if len(v) == 0 {
			return false, fmt.Errorf("%s: the server's %s answer has no lastlogin field", op, nodeLastLogin)
		}
		return v[0] != "Never", nil
	case cmds[nodeUserStats]:
		_, err := c.adminCommand(ctx, op, nodeUserStats, account)
		var ne *noteError
		switch {
		case errors.As(err, &ne) && strings.Contains(strings.ToLower(ne.text), "not exist"):
			return false, nil
		case err != nil:
			return false, err
		}
		return true, nil
	}
	return false, fmt.Errorf("%s: the server offers neither %s nor %s: %w", op, nodeLastLogin, nodeUserStats, invites.ErrUnsupported)
}

// serverCommands returns the server's command nodes for the component,
// from the probe made at connect or, if that has not answered yet, asked
// now.
func (c *Component) serverCommands(ctx context.Context, l *link) (map[string]bool, error) {
	if cmds := l.commands(c.domain.String()); cmds != nil {
		return cmds, nil
	}
	list, err := c.listCommands(ctx, l)
	if err != nil {
		return nil, err
	}
	l.setCommands(c.domain.String(), list)
	return l.commands(c.domain.String()), nil
}

// AddMutualContacts puts a and b (bare JIDs of Domain) in each other's
// roster with subscription both, through the XEP-0356 roster permission.
// Without a roster "set" or "both" grant it returns invites.ErrUnsupported.
func (c *Component) AddMutualContacts(ctx context.Context, a, b string) error {
	l, err := c.current("add contacts")
	if err != nil {
		return err
	}
	privs, _ := l.privileges(c.domain.String())
	if t := privs["roster"]; t != "both" && t != "set" {
		return fmt.Errorf("add contacts: no XEP-0356 roster permission: %w", invites.ErrUnsupported)
	}
	ja, err := jid.Parse(a)
	if err != nil {
		return fmt.Errorf("add contacts: %q: %w", a, err)
	}
	jb, err := jid.Parse(b)
	if err != nil {
		return fmt.Errorf("add contacts: %q: %w", b, err)
	}
	ja, jb = ja.Bare(), jb.Bare()
	set := func(owner, contact jid.JID) error {
		item := el(name("", "item"), []xml.Attr{attr("jid", contact.String()), attr("subscription", "both")})
		_, err := c.request(ctx, l, stanza.SetIQ, owner, el(name(nsRoster, "query"), nil, item))
		if err != nil {
			var se stanza.Error
			if errors.As(err, &se) {
				return fmt.Errorf("add %s to the roster of %s: server answered %s: %w", contact, owner, describe(se), se)
			}
			return fmt.Errorf("add %s to the roster of %s: %w", contact, owner, err)
		}
		return nil
	}
	if err := errors.Join(set(ja, jb), set(jb, ja)); err != nil {
		return err
	}
	c.log.Info("contacts added", "a", ja.String(), "b", jb.String())
	return nil
}

// Notify sends a chat message from the component to a JID.
func (c *Component) Notify(ctx context.Context, to, body string) error {
	j, err := jid.Parse(to)
	if err != nil {
		return fmt.Errorf("notify %q: %w", to, err)
	}
	return c.notify(ctx, j, "", body)
}

// NotifyJoined tells inviter (a bare JID) that account joined with their
// invite, in the language the inviter last spoke to the component, else
// the catalogue's default.
func (c *Component) NotifyJoined(ctx context.Context, inviter, account string) error {
	j, err := jid.Parse(inviter)
	if err != nil {
		return fmt.Errorf("notify %q: %w", inviter, err)
	}
	loc := c.localizerFor(j.Bare().String())
	return c.notify(ctx, j, loc.Lang(), loc.T("xmpp_joined", "{{.JID}} joined with your invite", "JID", account))
}

// notify sends body to j as a chat message whose xml:lang is lang ("":
// none).
func (c *Component) notify(ctx context.Context, j jid.JID, lang, body string) error {
	l, err := c.current("notify")
	if err != nil {
		return err
	}
	msg := stanza.Message{To: j, From: c.jid, Type: stanza.ChatMessage, Lang: lang}
	if err := l.s.Send(ctx, msg.Wrap(textEl("body", body))); err != nil {
		return fmt.Errorf("notify %s: %w: %v", j, invites.ErrLinkDown, err)
	}
	return nil
}
