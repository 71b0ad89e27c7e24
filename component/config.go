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
	if err := cfg.link().Validate(); err != nil {
		return err
	}
	return cfg.served(nil).validate(jid.MustParse(cfg.JID))
}

// Validate checks the link's part of the configuration.
func (l Link) Validate() error {
	me, err := jid.Parse(l.JID)
	if err != nil || l.JID == "" || me.Localpart() != "" || me.Resourcepart() != "" {
		return fmt.Errorf("component: jid %q is not a domain JID such as invites.example.com", l.JID)
	}
	if host, port, err := net.SplitHostPort(l.Server); err != nil || host == "" || port == "" {
		return fmt.Errorf("component: server %q is not host:port", l.Server)
	}
	if l.Secret == "" {
		return errors.New("component: secret is empty")
	}
	if l.PingInterval < 0 {
		return errors.New("component: ping interval must not be negative")
	}
	return nil
}

// validate checks one served domain of the link whose JID is me.
func (d Domain) validate(me jid.JID) error {
	domain, err := jid.Parse(d.Name)
	if err != nil || d.Name == "" || domain.Localpart() != "" || domain.Resourcepart() != "" {
		return fmt.Errorf("component: domain %q is not a domain such as example.com", d.Name)
	}
	if me.Equal(domain) {
		return fmt.Errorf("component: jid %q must differ from the domain", me)
	}
	if d.UserInvitesPerDay < 0 {
		return errors.New("component: user invites per day must not be negative")
	}
	for _, a := range d.Admins {
		if j, err := jid.Parse(strings.TrimSpace(a)); err != nil || j.Localpart() == "" {
			return fmt.Errorf("component: admin %q is not a bare JID such as admin@%s", a, d.Name)
		}
	}
	return nil
}

// validateDomains checks the domains of a link: at least one, each valid,
// none twice.
func validateDomains(me jid.JID, domains []Domain) error {
	if len(domains) == 0 {
		return errors.New("component: a link serves at least one domain")
	}
	seen := map[string]bool{}
	for _, d := range domains {
		if err := d.validate(me); err != nil {
			return err
		}
		name := jid.MustParse(d.Name).Domainpart()
		if seen[name] {
			return fmt.Errorf("component: domain %s is served twice by the link", name)
		}
		seen[name] = true
	}
	return nil
}

// link is the link's part of cfg.
func (cfg Config) link() Link {
	return Link{JID: cfg.JID, Server: cfg.Server, Secret: cfg.Secret, PingInterval: cfg.PingInterval, Version: cfg.Version}
}

// served is the domain's part of cfg, with minter.
func (cfg Config) served(minter Minter) Domain {
	return Domain{Name: cfg.Domain, Admins: cfg.Admins, UserInvitesPerDay: cfg.UserInvitesPerDay,
		SiteName: cfg.SiteName, Catalog: cfg.Catalog, Minter: minter}
}
