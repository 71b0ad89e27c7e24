package component

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"mellium.im/xmpp/jid"
)

// Validate checks the configuration as New would, so that check and serve
// refuse the same mistakes before anything starts.
func (cfg Config) Validate() error {
	me, err := jid.Parse(cfg.JID)
	if err != nil || cfg.JID == "" || me.Localpart() != "" || me.Resourcepart() != "" {
		return fmt.Errorf("component: jid %q is not a domain JID such as invites.example.com", cfg.JID)
	}
	domain, err := jid.Parse(cfg.Domain)
	if err != nil || cfg.Domain == "" || domain.Localpart() != "" || domain.Resourcepart() != "" {
		return fmt.Errorf("component: domain %q is not a domain such as example.com", cfg.Domain)
	}
	if me.Equal(domain) {
		return fmt.Errorf("component: jid %q must differ from the domain", cfg.JID)
	}
	if host, port, err := net.SplitHostPort(cfg.Server); err != nil || host == "" || port == "" {
		return fmt.Errorf("component: server %q is not host:port", cfg.Server)
	}
	if cfg.Secret == "" {
		return errors.New("component: secret is empty")
	}
	if cfg.PingInterval < 0 {
		return errors.New("component: ping interval must not be negative")
	}
	if cfg.UserInvitesPerDay < 0 {
		return errors.New("component: user invites per day must not be negative")
	}
	for _, a := range cfg.Admins {
		if j, err := jid.Parse(strings.TrimSpace(a)); err != nil || j.Localpart() == "" {
			return fmt.Errorf("component: admin %q is not a bare JID such as admin@%s", a, cfg.Domain)
		}
	}
	return nil
}
