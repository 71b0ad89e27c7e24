package component

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"xmpp-invites/i18n"
	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

// The chat words (SPEC §6), for every client: English words,
// case-insensitive, answered in the language of the message.
//
//	invite [USES] [VALIDITY]   VALIDITY: Nh, Nd, Nw or never
//	reset USER                 admins; USER a localpart of the domain
//	list                       own pending invites; admins all
//	revoke ID                  own invites; admins any
//	login, help
//
// They are decided by the same rules as the HTTP side: invites.Service's
// CreateFor, ListFor and RevokeFor.

// chatAnswer is the component's answer to a chat message, in loc's
// language. The command words stay English (SPEC §6).
func (c *Component) chatAnswer(ctx context.Context, loc *i18n.Localizer, r requester, body string) string {
	words := strings.Fields(body)
	word, args := strings.ToLower(words[0]), words[1:]
	if word == "login" && (r.local || r.admin) {
		if len(args) > 0 {
			return usage(loc, "login")
		}
		return c.chatSignIn(ctx, loc, r)
	}
	if !r.local {
		return loc.T("xmpp_chat_strangers", "This service creates invites for users of {{.Domain}} only.", "Domain", c.servedNames())
	}
	switch word {
	case "invite":
		return c.chatInvite(ctx, loc, r, args)
	case "list":
		if len(args) > 0 {
			return usage(loc, "list")
		}
		return c.chatList(ctx, loc, r)
	case "revoke":
		if len(args) != 1 {
			return usage(loc, "revoke")
		}
		inv, err := c.revoke(ctx, r, args[0])
		if err != nil {
			return c.chatRefusal(loc, r, err)
		}
		return loc.T("xmpp_revoked", "Invite {{.ID}} is revoked.", "ID", inv.ID)
	case "reset":
		if !r.admin {
			return loc.T("xmpp_chat_reset_admins", "Only admins can create password reset links.")
		}
		user, ok := "", len(args) == 1
		if ok {
			user, ok = c.localUser(args[0])
		}
		if !ok {
			return usage(loc, "reset")
		}
		created, err := c.mint(ctx, r, invites.Request{Type: keystore.TypeReset, Username: user, Accounts: c})
		if err != nil {
			return c.chatRefusal(loc, r, err)
		}
		return loc.T("xmpp_chat_reset", "Here is the link that sets a new password for {{.User}}; it works once and expires on {{.Expires}} (invite {{.ID}}):\n{{.Link}}",
			"User", user+"@"+c.domain.String(), "Expires", loc.Date(created.Invite.Expires), "ID", created.Invite.ID, "Link", created.LandingURL)
	}
	return c.helpText(loc, r)
}

// chatInvite answers invite [USES] [VALIDITY]: the sender's contact
// invite (for admins one that also registers, as invites.CreateFor
// decides).
func (c *Component) chatInvite(ctx context.Context, loc *i18n.Localizer, r requester, args []string) string {
	req := invites.Request{Type: keystore.TypeContact}
	if len(args) > 0 {
		if n, err := strconv.Atoi(args[0]); err == nil && args[0][0] != '+' && args[0][0] != '-' {
			if n < 1 || n > invites.MaxUses {
				return loc.T("xmpp_uses_range", "The number of uses must be between 1 and {{.Max}}.", "Max", invites.MaxUses)
			}
			req.Uses = n
			args = args[1:]
		}
	}
	if len(args) > 0 {
		d, never, ok := parseValidity(args[0])
		if !ok {
			return usage(loc, "invite")
		}
		req.TTL, req.Never = d, never
		args = args[1:]
	}
	if len(args) > 0 {
		return usage(loc, "invite")
	}
	created, err := c.mint(ctx, r, req)
	if msg, ok := neverRefusal(loc, req, err); ok {
		return msg
	}
	if err != nil {
		return c.chatRefusal(loc, r, err)
	}
	if answer, ok := neverChatInvite(loc, created); ok {
		return answer
	}
	if n := created.Invite.MaxUses; n > 1 {
		return loc.N("xmpp_chat_invite_uses", n,
			"Here is your invite link. Send it to the people you want to chat with; it works {{.Count}} time and expires on {{.Expires}}.\n{{.Link}}\n\nIf they already have an XMPP app: {{.URI}}",
			"Here is your invite link. Send it to the people you want to chat with; it works {{.Count}} times and expires on {{.Expires}}.\n{{.Link}}\n\nIf they already have an XMPP app: {{.URI}}",
			"Expires", loc.Date(created.Invite.Expires), "Link", created.LandingURL, "URI", created.URI)
	}
	return loc.T("xmpp_chat_invite", "Here is your invite link. Send it to the person you want to chat with; it works once and expires on {{.Expires}}.\n{{.Link}}\n\nIf they already have an XMPP app: {{.URI}}",
		"Expires", loc.Date(created.Invite.Expires), "Link", created.LandingURL, "URI", created.URI)
}

// chatList answers list: one line per pending invite, newest first.
func (c *Component) chatList(ctx context.Context, loc *i18n.Localizer, r requester) string {
	invs, err := c.list(ctx, r)
	if err != nil {
		return c.chatRefusal(loc, r, err)
	}
	if len(invs) == 0 {
		return loc.T("xmpp_chat_list_empty", "There are no pending invites.")
	}
	var b strings.Builder
	if len(invs) > listMax {
		b.WriteString(loc.N("xmpp_list_title_newest", listMax, "The newest {{.Count}} pending invite", "The newest {{.Count}} pending invites"))
		invs = invs[:listMax]
	} else {
		b.WriteString(loc.N("xmpp_list_title", len(invs), "{{.Count}} pending invite", "{{.Count}} pending invites"))
	}
	b.WriteString(loc.Colon())
	for _, inv := range invs {
		exp := loc.T("xmpp_list_never", "never expires")
		if !inv.NeverExpires() {
			exp = loc.T("xmpp_list_expires", "expires {{.Date}}", "Date", loc.Date(inv.Expires))
		}
		fmt.Fprintf(&b, "\n%s  %s  %d/%d  %s", inv.ID, inv.Type, inv.Uses, inv.MaxUses, exp)
		if r.admin {
			b.WriteString("  " + inv.Creator)
		}
	}
	b.WriteString("\n\n" + loc.T("xmpp_chat_list_revoke", "Send \"revoke ID\" to revoke one."))
	return b.String()
}

// chatRefusal says why a chat request was refused.
func (c *Component) chatRefusal(loc *i18n.Localizer, r requester, err error) string {
	ref := c.refusal(loc, err)
	if ref.internal {
		c.log.Error("chat request failed", "requester", r.bare.String(), "err", err)
		return loc.T("xmpp_chat_failed", "Sorry, the invite could not be created. Please try again later.")
	}
	return ref.text
}

// usage is the short answer to a word with the wrong arguments.
func usage(loc *i18n.Localizer, word string) string {
	var form string
	switch word {
	case "invite":
		form = loc.T("xmpp_usage_invite", "invite [USES] [VALIDITY], for example \"invite\", \"invite 5\" or \"invite 3 2w\" (VALIDITY: 12h, 3d, 2w or never)")
	case "reset":
		form = loc.T("xmpp_usage_reset", "reset USER, for example \"reset alice\"")
	case "revoke":
		form = loc.T("xmpp_usage_revoke", "revoke ID, with the ID that \"list\" shows")
	default:
		form = word
	}
	return loc.T("xmpp_usage", "Usage: {{.Form}}. Send \"help\" for all words.", "Form", form)
}

// helpText lists the words r may use: the invite and login paragraphs
// that every locale has, and the other words between them.
func (c *Component) helpText(loc *i18n.Localizer, r requester) string {
	parts := []string{loc.T("xmpp_help", "Send \"invite\" and I answer with a link that invites someone to chat with you on {{.Domain}}.",
		"Domain", c.domain.String())}
	if r.admin {
		parts = append(parts, loc.T("xmpp_help_words_admin", "More words: \"invite USES VALIDITY\" (for example \"invite 5 2w\": 5 uses, valid for 2 weeks; VALIDITY in hours, days or weeks such as 12h, 3d, 2w), \"list\" (all pending invites), \"revoke ID\" (any invite), \"reset USER\" (a link that sets a new password for USER), \"help\". As an admin you find every option in the ad-hoc commands of {{.JID}}.",
			"JID", c.jid.String()))
	} else {
		parts = append(parts, loc.T("xmpp_help_words", "More words: \"invite USES VALIDITY\" (for example \"invite 5 2w\": 5 uses, valid for 2 weeks; VALIDITY in hours, days or weeks such as 12h, 3d, 2w), \"list\" (your pending invites), \"revoke ID\" (revoke one of them), \"help\"."))
	}
	parts = append(parts, loc.T("xmpp_signin_help", "Send \"login\" and I answer with a link that signs you in to the web pages of {{.Site}}, where you can create and manage invites.",
		"Site", c.siteName()))
	return strings.Join(parts, "\n\n")
}
