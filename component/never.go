package component

import (
	"xmpp-invites/i18n"
	"xmpp-invites/invites"
)

// neverChatInvite is the chat answer with a new invite that never expires
// (allow_never_expiring, admins only): it says so rather than "expires on"
// the stored 31 December 9999. ok is false for invites that expire, which
// keep their usual answer.
func neverChatInvite(loc *i18n.Localizer, created invites.Created) (answer string, ok bool) {
	if !created.Invite.NeverExpires() {
		return "", false
	}
	return loc.N("xmpp_chat_invite_never", created.Invite.MaxUses-created.Invite.Uses,
		"Here is your invite link. Send it to the person you are inviting; it works once and does not expire.\n{{.Link}}\n\nIf they already have an XMPP app: {{.URI}}",
		"Here is your invite link. Send it to the people you are inviting; it works {{.Count}} times and does not expire.\n{{.Link}}\n\nIf they already have an XMPP app: {{.URI}}",
		"Link", created.LandingURL, "URI", created.URI), true
}
