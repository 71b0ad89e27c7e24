package invites

import (
	"context"
	"errors"
	"fmt"

	"xmpp-invites/keystore"
)

// checkChain applies the invite-chain limits (docs/chains.md) to a request
// of p's: a person who is not an admin may create an invite that lets
// someone register (an account invite, or a contact invite that allows
// registration) only while the invite tree of their account has fewer
// than MaxInviteTree accounts, and, if their account was made through an
// invite, once it is MinAccountAge old. Plain contact invites add no
// account and are never limited. Refusals are *NotAllowedError.
func (s *Service) checkChain(ctx context.Context, p Person, r Request) error {
	registers := r.Type == keystore.TypeAccount || (r.Type == keystore.TypeContact && r.AllowRegister)
	if p.Admin || !registers {
		return nil
	}
	if s.cfg.MinAccountAge > 0 {
		acc, err := s.store.Account(ctx, p.JID)
		switch {
		case errors.Is(err, keystore.ErrNotFound):
			// Not made through us: not ours to age.
		case err != nil:
			return fmt.Errorf("check the account's age: %w", err)
		default:
			if next := acc.Created.Add(s.cfg.MinAccountAge); s.now().Before(next) {
				return &NotAllowedError{Rule: RuleTooNew, Age: s.cfg.MinAccountAge, Next: next}
			}
		}
	}
	if s.cfg.MaxInviteTree > 0 {
		tree, err := s.store.InviteTree(ctx, p.JID, s.cfg.Admins, s.cfg.MaxInviteTree)
		if err != nil {
			return fmt.Errorf("check the invite tree: %w", err)
		}
		if tree.Size >= s.cfg.MaxInviteTree {
			return &NotAllowedError{Rule: RuleTreeFull, Limit: s.cfg.MaxInviteTree}
		}
	}
	return nil
}
