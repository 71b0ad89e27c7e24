package invites

import (
	"strings"

	"xmpp-invites/keystore"
)

// builtinReserved are the usernames no invite creates, whatever the
// config: names that speak for the service or its operators (admin,
// support, moderator), the names certificate authorities send domain
// validation mail to (admin, administrator, webmaster, hostmaster,
// postmaster: CA/Browser Forum Baseline Requirements 3.2.2.4.4, plus the
// older ssladmin), the role mailboxes of RFC 2142, and system accounts.
// docs/configuration.md lists them; a test keeps it complete.
var builtinReserved = []string{
	// Validation and role mailboxes (RFC 2142).
	"abuse", "admin", "administrator", "ftp", "hostmaster", "info", "mail",
	"noc", "postmaster", "security", "ssladmin", "support", "webmaster", "www",
	// Who speaks for the service.
	"contact", "help", "mod", "moderator", "official", "operator", "owner",
	"root", "service", "staff", "sysadmin", "system", "team",
	// System accounts and senders.
	"daemon", "mailer-daemon", "no-reply", "nobody", "noreply",
	// The protocol.
	"jabber", "xmpp",
}

// reservedSet prepares the built-in names, cfg.ReservedUsernames and the
// first label of cfg.ComponentJID. Names that cannot be prepared are left
// out: the config's are validated before they get here.
func reservedSet(cfg Config) map[string]struct{} {
	set := make(map[string]struct{}, len(builtinReserved)+len(cfg.ReservedUsernames)+1)
	add := func(name string) {
		if u, err := PrepareUsername(name); err == nil {
			set[u] = struct{}{}
		}
	}
	for _, name := range builtinReserved {
		add(name)
	}
	for _, name := range cfg.ReservedUsernames {
		add(name)
	}
	if label, _, _ := strings.Cut(cfg.ComponentJID, "."); label != "" {
		add(label)
	}
	return set
}

// Reserved reports whether username is reserved: built in, listed in
// reserved_usernames, or the first label of the component's JID. Names are
// compared after PrepareUsername, so "ADMIN" and fullwidth "Ａｄｍｉｎ" are
// reserved like "admin"; look-alikes from other scripts (Cyrillic "а") are
// not. A name that cannot be prepared is not reserved (it is malformed).
//
// Create refuses account invites for a reserved username and Check refuses
// registering one; contact and reset invites name an existing account, and
// their rules are the callers'.
func (s *Service) Reserved(username string) bool {
	u, err := PrepareUsername(username)
	if err != nil {
		return false
	}
	_, ok := s.reserved[u]
	return ok
}

// checkReserved refuses registering a reserved username. A fixed-username
// invite made before its name was reserved is refused too; the person
// cannot change that name, so the message is not about the user field.
func (s *Service) checkReserved(inv keystore.Invite, username string) error {
	if inv.Type == keystore.TypeReset || !s.Reserved(username) {
		return nil
	}
	if inv.Type == keystore.TypeAccount && inv.Username != "" {
		return coded(invalid("", "the username %q is reserved, so this invite cannot be used; please ask for a new one", username), CodeReservedFixed, username, 0)
	}
	return coded(invalid("user", "%q is reserved; please choose another one", username), CodeReserved, username, 0)
}
