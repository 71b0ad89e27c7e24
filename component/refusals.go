package component

import (
	"errors"
	"time"

	"xmpp-invites/i18n"
	"xmpp-invites/invites"
)

// notAllowedText says, in loc's language, why invites.CreateFor refused a
// person's request (an *invites.NotAllowedError in err), naming the limit
// that the invite-chain rules met (docs/chains.md).
func (c *Component) notAllowedText(loc *i18n.Localizer, err error) string {
	var na *invites.NotAllowedError
	errors.As(err, &na)
	if na == nil {
		na = &invites.NotAllowedError{}
	}
	switch na.Rule {
	case invites.RuleTreeFull:
		return loc.N("xmpp_chain_tree_full", na.Limit,
			"Your invite tree has reached its limit of {{.Count}} account, so you cannot create invites for new accounts. You can still invite people who already have an address.",
			"Your invite tree has reached its limit of {{.Count}} accounts, so you cannot create invites for new accounts. You can still invite people who already have an address.")
	case invites.RuleTooNew:
		if na.Age%time.Hour == 0 {
			return loc.N("xmpp_chain_too_new_hours", int(na.Age/time.Hour),
				"Your account is new: accounts made with an invite can create invites for new accounts when they are {{.Count}} hour old. Yours can from {{.Next}}.",
				"Your account is new: accounts made with an invite can create invites for new accounts when they are {{.Count}} hours old. Yours can from {{.Next}}.",
				"Next", loc.Date(na.Next))
		}
		return loc.N("xmpp_chain_too_new_minutes", int((na.Age+time.Minute-1)/time.Minute),
			"Your account is new: accounts made with an invite can create invites for new accounts when they are {{.Count}} minute old. Yours can from {{.Next}}.",
			"Your account is new: accounts made with an invite can create invites for new accounts when they are {{.Count}} minutes old. Yours can from {{.Next}}.",
			"Next", loc.Date(na.Next))
	case invites.RuleOtherDomain:
		return loc.T("xmpp_only_users", "Only users of {{.Domain}} can create invites here.", "Domain", c.domain.String())
	}
	return loc.T("xmpp_only_admins", "Only admins of {{.Domain}} can create account invites.", "Domain", c.domain.String())
}
