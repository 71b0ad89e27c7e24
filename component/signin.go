package component

import (
	"context"
	"errors"
	"fmt"
	"time"

	"mellium.im/xmpp/jid"

	"xmpp-invites/i18n"
	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

// Sign-in links for the web portal (docs/portal.md) travel as chat
// messages from the component: the pages send one to the address a
// browser asked for (SendSignIn), and a user who sends the chat word
// login gets one back. The link itself is never logged.

// fromChat is the From of a link asked for with the chat word login.
const fromChat = "chat"

// chatSignIn answers the chat word login: an unbound sign-in link for the
// sender, under the per-address limit, in loc's language.
func (c *Component) chatSignIn(ctx context.Context, loc *i18n.Localizer, r requester) string {
	link, err := c.minter.SignInLink(ctx, r.bare.String(), fromChat, nil)
	var limit *keystore.LimitError
	switch {
	case errors.As(err, &limit):
		return loc.N("xmpp_signin_limit", invites.SignInsPerHour,
			"You have been sent {{.Count}} sign-in link in the last hour, the most there can be. You can ask for the next one from {{.Next}}.",
			"You have been sent {{.Count}} sign-in links in the last hour, the most there can be. You can ask for the next one from {{.Next}}.",
			"Next", loc.Date(invites.NextSignIn(limit)))
	case err != nil:
		c.log.Error("could not create a sign-in link", "source", "chat", "requester", r.bare.String(), "err", err)
		return loc.T("xmpp_signin_failed", "Sorry, the sign-in link could not be created. Please try again later.")
	}
	c.log.Info("sign-in link sent", "source", "chat", "to", r.bare.String())
	return c.signInText(loc, link, fromChat, invites.SignInTTL)
}

// SendSignIn sends a sign-in link for the portal to the bare JID to, as a
// chat message in the language the user last spoke to the component, else
// lang (an Accept-Language value or a tag; "" is the default language).
// The message says where the link was asked for (from: a client address,
// or "chat"), how long it is valid (ttl), that it works once, and that
// ignoring it is safe. While the link to the server is down the error
// wraps invites.ErrLinkDown.
func (c *Component) SendSignIn(ctx context.Context, to, lang, link, from string, ttl time.Duration) error {
	j, err := jid.Parse(to)
	if err != nil || j.Localpart() == "" {
		return fmt.Errorf("send sign-in link: %q is not a user's address", to)
	}
	if link == "" || ttl <= 0 {
		return errors.New("send sign-in link: link and validity are required")
	}
	j = j.Bare()
	loc, ok := c.lastLocalizer(j.String())
	if !ok {
		loc = c.cat.Accept(lang)
	}
	if err := c.notify(ctx, j, loc.Lang(), c.signInText(loc, link, from, ttl)); err != nil {
		return fmt.Errorf("send sign-in link: %w", err)
	}
	return nil
}

// signInText is the message that carries a sign-in link, in loc's
// language.
func (c *Component) signInText(loc *i18n.Localizer, link, from string, ttl time.Duration) string {
	minutes := int((ttl + time.Minute - 1) / time.Minute)
	site := c.siteName()
	if from == fromChat {
		return loc.N("xmpp_signin_chat", minutes,
			"Here is your link to sign in to {{.Site}}; you asked for it in this chat:\n{{.Link}}\n\nIt is valid for {{.Count}} minute and works once. Do not pass it on: it signs you in. If you did not ask for it, ignore this message: nothing happens without the link.",
			"Here is your link to sign in to {{.Site}}; you asked for it in this chat:\n{{.Link}}\n\nIt is valid for {{.Count}} minutes and works once. Do not pass it on: it signs you in. If you did not ask for it, ignore this message: nothing happens without the link.",
			"Site", site, "Link", link)
	}
	return loc.N("xmpp_signin_web", minutes,
		"Here is your link to sign in to {{.Site}}; it was asked for from {{.From}}:\n{{.Link}}\n\nIt is valid for {{.Count}} minute and works once. Do not pass it on: it signs you in. If you did not ask for it, ignore this message: nothing happens without the link.",
		"Here is your link to sign in to {{.Site}}; it was asked for from {{.From}}:\n{{.Link}}\n\nIt is valid for {{.Count}} minutes and works once. Do not pass it on: it signs you in. If you did not ask for it, ignore this message: nothing happens without the link.",
		"Site", site, "From", from, "Link", link)
}
