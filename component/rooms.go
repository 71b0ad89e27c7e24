package component

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"time"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"xmpp-invites/invites"
)

// Namespaces of group chat presets (docs/presets.md).
const (
	nsMUCAdmin   = "http://jabber.org/protocol/muc#admin" // XEP-0045 §9: affiliations
	nsConference = "jabber:x:conference"                  // XEP-0249: direct MUC invitations
)

// sendTimeout bounds writing one stanza to the server.
const sendTimeout = 5 * time.Second

// InviteToRoom invites account (a bare JID) to the group chat room (a
// bare room JID). First it gives account the member affiliation through
// XEP-0045, so that members-only rooms let it in: that works where the
// component may change the room's affiliations (it is a room owner or
// admin, or an admin of the MUC service, see docs/presets.md). A refusal
// is logged and the invitation is sent all the same: an owner may still
// admit the account. Then it sends account a XEP-0249 direct invitation.
// The error is the invitation's only.
func (c *Component) InviteToRoom(ctx context.Context, room, account string) error {
	l, err := c.current("invite to room")
	if err != nil {
		return err
	}
	rj, err := jid.Parse(room)
	if err != nil || rj.Localpart() == "" {
		return fmt.Errorf("invite to room: %q is not a room address", room)
	}
	aj, err := jid.Parse(account)
	if err != nil {
		return fmt.Errorf("invite to room: %q: %w", account, err)
	}
	rj, aj = rj.Bare(), aj.Bare()
	item := el(name("", "item"), []xml.Attr{attr("affiliation", "member"), attr("jid", aj.String())})
	if _, err := c.request(ctx, l, stanza.SetIQ, rj, el(name(nsMUCAdmin, "query"), nil, item)); err != nil {
		var se stanza.Error
		if errors.As(err, &se) {
			c.log.Warn("group chat refused the member affiliation; the invitation is sent anyway (docs/presets.md)",
				"room", rj.String(), "jid", aj.String(), "error", describe(se))
		} else {
			c.log.Warn("member affiliation not set; the invitation is sent anyway", "room", rj.String(), "jid", aj.String(), "error", err)
		}
	}
	msg := stanza.Message{To: aj, From: c.jid, Type: stanza.NormalMessage}
	x := el(name(nsConference, "x"), []xml.Attr{attr("jid", rj.String())})
	// The invitation goes out even when the affiliation used up ctx.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sendTimeout)
	defer cancel()
	if err := l.s.Send(sctx, msg.Wrap(x)); err != nil {
		return fmt.Errorf("invite %s to %s: %w: %v", aj, rj, invites.ErrLinkDown, err)
	}
	c.log.Info("group chat invitation sent", "room", rj.String(), "jid", aj.String())
	return nil
}
