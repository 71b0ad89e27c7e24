package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/urfave/cli/v2"

	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

func (a *appState) inviteCommand() *cli.Command {
	return &cli.Command{
		Name:  "invite",
		Usage: "manage invites",
		Subcommands: []*cli.Command{
			{
				Name:      "create",
				Usage:     "create an invite and print its landing URL",
				ArgsUsage: "HOST",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "type", Value: "account", Usage: "account, reset or contact"},
					&cli.StringFlag{Name: "username", Usage: "account: fixed username; reset: the account; contact: the inviter"},
					&cli.StringFlag{Name: "ttl", Usage: "valid for `DURATION` (default: invites.default_ttl, reset: invites.reset_ttl), or never where invites.allow_never_expiring"},
					&cli.IntFlag{Name: "uses", Value: 1, Usage: "how many accounts may use it (1-1000)"},
					&cli.StringFlag{Name: "note", Usage: "a note for yourself, shown in lists"},
					&cli.BoolFlag{Name: "allow-admin", Usage: "allow a reset invite for an admin's account or a reserved name"},
					&cli.StringSliceFlag{Name: "room", Usage: "invite the new account to the group chat `JID` (repeatable; on invites.muc_domains)"},
					&cli.StringFlag{Name: "circle", Usage: "the new account joins circle `NAME` (see circle create)"},
				},
				Action: a.inviteCreate,
			},
			{
				Name:      "list",
				Usage:     "list pending invites, oldest first",
				ArgsUsage: "HOST",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "all", Usage: "include used, expired and revoked invites, with a STATE column"},
					&cli.BoolFlag{Name: "json", Usage: "print a JSON array with every field, for scripts"},
				},
				Action: a.inviteList,
			},
			{
				Name:      "show",
				Usage:     "show every field of an invite and its uses",
				ArgsUsage: "HOST ID|TOKEN",
				Action:    a.inviteShow,
			},
			{
				Name:      "revoke",
				Usage:     "revoke an invite so it can no longer be used",
				ArgsUsage: "HOST ID|TOKEN",
				Action:    a.inviteRevoke,
			},
		},
	}
}

func (a *appState) inviteCreate(c *cli.Context) error {
	cfg, st, _, err := a.hostStore(c, 1, 1, "[--type T] [--username U] [--ttl DUR] [--uses N] [--note TEXT] [--allow-admin] [--room JID]... [--circle NAME] HOST")
	if err != nil {
		return err
	}
	defer st.Close()
	r := invites.Request{
		Type: keystore.Type(c.String("type")), Username: c.String("username"),
		Uses: c.Int("uses"), Note: c.String("note"), Creator: "cli",
		AllowRegister: true, AllowAdmin: c.Bool("allow-admin"),
		Rooms: c.StringSlice("room"), Circle: c.String("circle"),
	}
	if c.Int("uses") == 0 {
		return usageErr("--uses must be between 1 and %d", invites.MaxUses)
	}
	if v := c.String("ttl"); v != "" {
		d, never, err := invites.ParseValidity(v)
		if err != nil {
			return usageErr("--%v", err)
		}
		r.TTL, r.Never = d, never
	}
	created, err := newService(st, cfg).Create(c.Context, r)
	var ve *invites.ValidationError
	switch {
	case errors.As(err, &ve):
		return usageErr("--%v", ve)
	case errors.Is(err, invites.ErrProtected):
		return failErr("%s@%s is an admin's account or a reserved name: add --allow-admin to make a reset invite for it", r.Username, cfg.Domain)
	case err != nil:
		return failErr("%v", err)
	}
	a.audit(c, st, "invite.create", created.Invite.ID, fmt.Sprintf("%s uses=%d", created.Invite.Type, created.Invite.MaxUses))
	fmt.Fprintln(a.stdout, created.LandingURL)
	return nil
}

// audit records what an operator did with the CLI in the audit log, as
// "cli" (the portal records admins by address). The action is done: a
// failure to record it is a warning.
func (a *appState) audit(c *cli.Context, st *keystore.Store, action, target, detail string) {
	if err := st.Audit(c.Context, "cli", action, target, detail); err != nil {
		fmt.Fprintf(a.stderr, "warning: not recorded in the audit log: %v\n", err)
	}
}

func (a *appState) inviteList(c *cli.Context) error {
	_, st, _, err := a.hostStore(c, 1, 1, "[--all] [--json] HOST")
	if err != nil {
		return err
	}
	defer st.Close()
	all := c.Bool("all")
	list, err := st.ListInvites(c.Context, keystore.ListOptions{All: all})
	if err != nil {
		return failErr("%v", err)
	}
	now := time.Now()
	if c.Bool("json") {
		out := make([]invites.JSON, 0, len(list))
		for _, inv := range list {
			out = append(out, invites.ToJSON(inv, now))
		}
		return a.printJSON(out)
	}
	cols := []string{"ID", "TYPE", "USERNAME", "USES", "EXPIRES", "CREATOR", "NOTE"}
	if all {
		cols = append(cols, "STATE")
	}
	t := a.table(cols...)
	for _, inv := range list {
		line := []string{inv.ID, string(inv.Type), termText(orDash(inv.Username)),
			fmt.Sprintf("%d/%d", inv.Uses, inv.MaxUses), expiresText(inv), termText(inv.Creator), termText(inv.Note)}
		if all {
			line = append(line, string(inv.State(now)))
		}
		t.row(line...)
	}
	return nil
}

func (a *appState) inviteShow(c *cli.Context) error {
	_, st, args, err := a.hostStore(c, 2, 2, "HOST ID|TOKEN")
	if err != nil {
		return err
	}
	defer st.Close()
	inv, err := st.GetInvite(c.Context, args[0])
	if errors.Is(err, keystore.ErrNotFound) {
		return failErr("no invite %q", args[0])
	}
	if err != nil {
		return failErr("%v", err)
	}
	uses, err := st.Uses(c.Context, inv.ID)
	if err != nil {
		return failErr("%v", err)
	}
	printInvite(a.stdout, inv, uses, time.Now())
	return nil
}

func (a *appState) inviteRevoke(c *cli.Context) error {
	_, st, args, err := a.hostStore(c, 2, 2, "HOST ID|TOKEN")
	if err != nil {
		return err
	}
	defer st.Close()
	inv, err := st.RevokeInvite(c.Context, args[0])
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return failErr("no invite %q", args[0])
	case errors.Is(err, keystore.ErrRevoked):
		return failErr("invite %s is already revoked", args[0])
	case errors.Is(err, keystore.ErrUsedUp):
		return failErr("invite %s is already used up", args[0])
	case errors.Is(err, keystore.ErrExpired):
		return failErr("invite %s has already expired", args[0])
	case err != nil:
		return failErr("%v", err)
	}
	a.audit(c, st, "invite.revoke", inv.ID, string(inv.Type))
	// The ID, never the token, even when the token named it.
	fmt.Fprintf(a.stdout, "revoked invite %s (%s, %d/%d uses)\n", inv.ID, inv.Type, inv.Uses, inv.MaxUses)
	return nil
}

func printInvite(w io.Writer, inv keystore.Invite, uses []keystore.Use, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "ID:\t%s\n", inv.ID)
	fmt.Fprintf(tw, "Type:\t%s\n", inv.Type)
	fmt.Fprintf(tw, "State:\t%s\n", inv.State(now))
	fmt.Fprintf(tw, "Username:\t%s\n", termText(orDash(inv.Username)))
	fmt.Fprintf(tw, "Creator:\t%s\n", termText(inv.Creator))
	fmt.Fprintf(tw, "Note:\t%s\n", termText(orDash(inv.Note)))
	fmt.Fprintf(tw, "Allows registration:\t%t\n", inv.AllowRegister)
	fmt.Fprintf(tw, "Created:\t%s\n", rfc3339(inv.Created))
	fmt.Fprintf(tw, "Expires:\t%s\n", expiresText(inv))
	fmt.Fprintf(tw, "Uses:\t%d/%d\n", inv.Uses, inv.MaxUses)
	fmt.Fprintf(tw, "Revoked:\t%s\n", rfc3339OrDash(inv.Revoked))
	for _, u := range uses {
		fmt.Fprintf(tw, "Used by:\t%s\t%s\n", termText(u.JID), rfc3339(u.Time))
	}
	tw.Flush()
}

// termText makes a stored value safe to print: a value with anything but
// graphic characters and spaces (an escape sequence, a tab or newline that
// would break the columns, a bidirectional override, invalid UTF-8) is
// printed quoted, with those characters escaped as Go does ("\x1b[2J",
// "\u202e"). New values cannot hold them (invites.CheckText), but an older
// database, or one written by other means, may.
func termText(s string) string {
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsGraphic(r) {
			return strconv.QuoteToGraphic(s)
		}
	}
	return s
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// expiresText is an invite's expiry in text output: "never" for an invite
// that never expires (not its stored year 9999).
func expiresText(inv keystore.Invite) string {
	if inv.NeverExpires() {
		return "never"
	}
	return rfc3339(inv.Expires)
}

func rfc3339OrDash(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return rfc3339(t)
}

func rfc3339OrNull(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := rfc3339(t)
	return &s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// newService builds the invite rules from the config.
func newService(st *keystore.Store, cfg Config) *invites.Service {
	return invites.New(st, invites.Config{
		Domain: cfg.Domain, PublicURL: cfg.PublicURL, SiteName: cfg.SiteName,
		DefaultTTL: cfg.DefaultTTL, MaxTTL: cfg.MaxTTL, ResetTTL: cfg.ResetTTL, Retention: cfg.Retention,
		AllowUserInvites: cfg.AllowUserInvites, UserInvitesPerDay: cfg.UserInvitesPerDay,
		PasswordMinLength: cfg.PasswordMinLength, Timing: cfg.Timing, Admins: cfg.Admins,
		ReservedUsernames: cfg.ReservedUsernames, ComponentJID: cfg.ComponentJID,
		AllowNeverExpiring: cfg.AllowNeverExpiring,
		MaxInviteTree:      cfg.MaxInviteTree, MinAccountAge: cfg.MinAccountAge, RegistrationWatchers: cfg.RegistrationWatchers,
		MUCDomains: cfg.MUCDomains, MaxCircleSize: cfg.MaxCircleSize,
	}, nil)
}
