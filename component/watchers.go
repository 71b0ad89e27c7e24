package component

import (
	"context"
	"strings"

	"mellium.im/xmpp/jid"

	"xmpp-invites/i18n"
	"xmpp-invites/invites"
)

var _ invites.RegistrationNotifier = (*Component)(nil)

// NotifyWatchers tells each registration watcher in a chat message that an
// account was made through an invite: its address, the invite, the
// invite's creator and the time in UTC, in the language the watcher last
// wrote to the component in (else the catalogue's default). It is best
// effort: a watcher it cannot reach is logged and skipped.
func (c *Component) NotifyWatchers(ctx context.Context, watchers []string, n invites.Registered) {
	for _, w := range watchers {
		j, err := jid.Parse(w)
		if err == nil {
			loc := c.localizerFor(j.Bare().String())
			body := loc.T("xmpp_watch_registered", "New account {{.JID}} on {{.Time}}: invite {{.Invite}}, created by {{.Creator}}.",
				"JID", n.JID, "Invite", n.InviteID, "Creator", creatorText(loc, n.Creator), "Time", loc.Date(n.At))
			err = c.notify(ctx, j.Bare(), loc.Lang(), body)
		}
		if err != nil {
			c.log.Warn("could not tell a registration watcher about a new account", "watcher", w, "jid", n.JID, "err", err)
		}
	}
}

// creatorText names an invite's creator for people: the address of an
// XMPP user, an API key by its ID, or the command line.
func creatorText(loc *i18n.Localizer, creator string) string {
	if j, ok := strings.CutPrefix(creator, "xmpp:"); ok {
		return j
	}
	if id, ok := strings.CutPrefix(creator, "key:"); ok {
		return loc.T("xmpp_watch_key", "the API key {{.ID}}", "ID", id)
	}
	if creator == "cli" {
		return loc.T("xmpp_watch_cli", "the command line")
	}
	return creator
}
