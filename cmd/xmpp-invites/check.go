package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"xmpp-invites/component"
	"xmpp-invites/keystore"
)

func (a *appState) checkCommand() *cli.Command {
	return &cli.Command{
		Name:   "check",
		Usage:  "validate the config, open the database, try the component link and report its rights",
		Action: a.check,
	}
}

// check reports, line by line, what serve would find: the config, the
// connection limits, the database, and the component link with its rights.
func (a *appState) check(c *cli.Context) error {
	if _, err := positional(c, 0, 0, ""); err != nil {
		return err
	}
	cfgs, err := a.configs(c)
	if err != nil {
		return err
	}
	for _, cfg := range cfgs {
		fmt.Fprintf(a.stdout, "config: ok (domain %s, public_url %s)\n", cfg.Domain, cfg.PublicURL)
	}
	cfg := cfgs[0] // database, logging and [http] are the same in every domain
	connLim, nofile, err := connLimits(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "http: at most %d connections, %d per client address (file-descriptor limit %d)\n",
		connLim.Max, connLim.PerClient, nofile)
	st, err := openStore(c.Context, cfg, keystore.Options{})
	if err != nil {
		return err
	}
	nkeys := 0
	for _, d := range cfgs { // keys belong to one domain each
		keys, err := st.ForDomain(d.Domain).ListKeys(c.Context)
		if err != nil {
			st.Close()
			return failErr("database %s: %v", keystore.Redact(cfg.Database), err)
		}
		nkeys += len(keys)
	}
	st.Close()
	fmt.Fprintf(a.stdout, "database: ok (%s, %d API keys)\n", keystore.Redact(cfg.Database), nkeys)
	reported := map[looseFile]bool{}
	for _, cfg := range cfgs {
		for _, f := range looseFiles(cfg) {
			if !reported[f] {
				reported[f] = true
				fmt.Fprintf(a.stdout, "warning: %s %s has mode %04o: group or others can access it (chmod 600 %s)\n",
					f.option, f.path, f.mode, f.path)
			}
		}
	}
	// A running serve holds the component links: a second one would
	// be refused (Prosody: conflict) or silently steal it (ejabberd).
	if le := (*keystore.LockedError)(nil); !keystore.IsPostgres(cfg.Database) && errors.As(keystore.LockHeld(cfg.Database), &le) && slices.ContainsFunc(cfgs, func(c Config) bool { return c.ComponentSecret != "" }) {
		fmt.Fprintf(a.stdout, "serve: running (pid %d) with this database; the component link is in use by it, so check does not try it: see serve's log and /readyz on the admin listener\n", le.PID)
		return nil
	}
	// One connection per link, however many domains it serves, at the
	// place of its first domain.
	groups := map[int][]int{}
	for _, g := range linkGroups(cfgs) {
		groups[g[0]] = g
	}
	for i, cfg := range cfgs {
		g, ok := groups[i]
		if cfg.ComponentSecret == "" {
			fmt.Fprintf(a.stdout, "%s: disabled (component.secret is empty)\n", componentLabel(cfg, len(cfgs) > 1))
		}
		if !ok {
			continue
		}
		if keystore.IsPostgres(cfg.Database) && componentHeld(c.Context, cfg) {
			fmt.Fprintf(a.stdout, "serve: running with this database and the component %s, which it holds, so check does not try it: see that serve's log and /readyz on its admin listener\n", cfg.ComponentJID)
			continue
		}
		served := make([]Config, len(g))
		for j, i := range g {
			served[j] = cfgs[i]
		}
		if err := a.checkComponent(c.Context, served, len(cfgs) > 1); err != nil {
			return err
		}
	}
	return nil
}

// componentLabel names the component of cfg in check's output; named says
// which domain when there are several.
func componentLabel(cfg Config, named bool) string {
	if named {
		return "component of " + cfg.Domain
	}
	return "component"
}

// componentHeld reports whether a serve on cfg's PostgreSQL database holds
// cfg's component JID.
func componentHeld(ctx context.Context, cfg Config) bool {
	st, err := keystore.Open(ctx, cfg.Database, keystore.Options{})
	if err != nil {
		return false
	}
	defer st.Close()
	_, err = st.HoldName(ctx, "component:"+cfg.ComponentJID, false)
	return errors.Is(err, keystore.ErrNameHeld)
}

// checkComponent tries one component link, which serves the domains of
// served (one, or several with identical component tables), and reports
// each domain's rights; named says which domain when there are several.
func (a *appState) checkComponent(ctx context.Context, served []Config, named bool) error {
	cfg := served[0]
	domains := make([]string, len(served))
	for i, d := range served {
		domains[i] = d.Domain
	}
	label := componentLabel(cfg, named)
	if len(served) > 1 {
		label = "component of " + strings.Join(domains, ", ")
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	reps, err := component.CheckLink(ctx, componentLink(cfg), domains, a.logger(cfg))
	if errors.Is(err, component.ErrNotAuthorized) {
		return usageErr("%s: the XMPP server at %s rejected component.secret for %s", label, cfg.ComponentServer, cfg.ComponentJID)
	}
	if reps == nil || (err != nil && len(served) == 1) {
		return failErr("%s: %v", label, err)
	}
	if len(served) > 1 {
		fmt.Fprintf(a.stdout, "%s: connected to %s as %s (one link for %d domains)\n", label, cfg.ComponentServer, cfg.ComponentJID, len(served))
	} else {
		fmt.Fprintf(a.stdout, "%s: connected to %s as %s\n", label, cfg.ComponentServer, cfg.ComponentJID)
	}
	var denied []string
	for i, rep := range reps {
		on := ""
		if len(served) > 1 {
			on = " on " + domains[i]
		}
		fmt.Fprintf(a.stdout, "account creation%s (XEP-0133 add-user): %s\n", on, yesNo(rep.CanCreateAccounts))
		fmt.Fprintf(a.stdout, "password reset%s (XEP-0133 change-user-password): %s\n", on, yesNo(rep.CanChangePasswords))
		if len(rep.Privileges) == 0 {
			fmt.Fprintf(a.stdout, "privileges%s (XEP-0356): none granted (contact invites cannot add roster entries)\n", on)
		} else {
			for _, ns := range slices.Sorted(maps.Keys(rep.Privileges)) {
				fmt.Fprintf(a.stdout, "privilege%s (XEP-0356 %s): %s=%s\n", on, rep.PrivilegeNS, ns, rep.Privileges[ns])
			}
		}
		if !rep.CanCreateAccounts {
			denied = append(denied, domains[i])
		}
	}
	if err != nil {
		return failErr("%s: %v", label, err)
	}
	if len(denied) > 0 {
		return failErr("the server does not let %s create accounts: make it an admin of %s (see docs/servers.md)", cfg.ComponentJID, strings.Join(denied, " and of "))
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "permitted"
	}
	return "NOT permitted"
}
