package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/urfave/cli/v2"

	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

// withStore loads the config, checks HOST (the first positional argument)
// and opens the store for a management command.
func (a *appState) withStore(c *cli.Context, min, max int, usage string,
	fn func(ctx context.Context, cfg Config, st *keystore.Store, args []string) error) error {
	args, err := positional(c, min, max, usage)
	if err != nil {
		return err
	}
	cfg, err := a.config(c)
	if err != nil {
		return err
	}
	if err := checkHost(cfg, args[0]); err != nil {
		return err
	}
	st, err := openStore(c.Context, cfg, keystore.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(c.Context, cfg, st, args[1:])
}

func (a *appState) keyCommand() *cli.Command {
	return &cli.Command{
		Name:  "key",
		Usage: "manage API keys",
		Subcommands: []*cli.Command{
			{
				Name:      "create",
				Usage:     "create an API key and print it (once)",
				ArgsUsage: "HOST [NAME]",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "manage", Usage: "may also create reset and contact invites and list, show and revoke invites"},
					&cli.StringFlag{Name: "expires", Usage: "key stops working after `DURATION` (e.g. 720h)"},
					&cli.IntFlag{Name: "quota", Usage: "at most `N` invites per hour (0: unlimited)"},
					&cli.StringFlag{Name: "label", Usage: "public `TEXT` shown to invitees as \"Invited by\" (default: the site name; NAME stays private)"},
				},
				Action: func(c *cli.Context) error {
					return a.withStore(c, 1, 2, "[--manage] [--expires DUR] [--quota N] [--label TEXT] HOST [NAME]",
						func(ctx context.Context, cfg Config, st *keystore.Store, args []string) error {
							p := keystore.KeyParams{Scope: keystore.ScopeCreate, Quota: c.Int("quota"), Label: c.String("label")}
							if len(args) == 1 {
								p.Name = args[0]
							}
							if err := invites.CheckText("NAME", p.Name); err != nil {
								return usageErr("%v", err)
							}
							if err := invites.CheckText("--label", p.Label); err != nil {
								return usageErr("%v", err)
							}
							if c.Bool("manage") {
								p.Scope = keystore.ScopeManage
							}
							if p.Quota < 0 {
								return usageErr("--quota must not be negative")
							}
							if v := c.String("expires"); v != "" {
								d, err := time.ParseDuration(v)
								if err != nil || d <= 0 {
									return usageErr("--expires %q is not a positive duration such as 720h", v)
								}
								p.Expires = time.Now().Add(d)
							}
							_, cred, err := st.CreateKey(ctx, p)
							if err != nil {
								return failErr("%v", err)
							}
							fmt.Fprintln(a.stdout, cred)
							return nil
						})
				},
			},
			{
				Name:      "list",
				Usage:     "list API keys, oldest first",
				ArgsUsage: "HOST",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "long", Usage: "add scope, created, last used and expiry"},
				},
				Action: func(c *cli.Context) error {
					return a.withStore(c, 1, 1, "[--long] HOST",
						func(ctx context.Context, cfg Config, st *keystore.Store, args []string) error {
							keys, err := st.ListKeys(ctx)
							if err != nil {
								return failErr("%v", err)
							}
							for _, k := range keys {
								if c.Bool("long") {
									fmt.Fprintf(a.stdout, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, termText(k.Name), k.Scope,
										rfc3339(k.Created), rfc3339OrDash(k.LastUsed), rfc3339OrDash(k.Expires))
								} else {
									fmt.Fprintf(a.stdout, "%s\t%s\n", k.ID, termText(k.Name))
								}
							}
							return nil
						})
				},
			},
			{
				Name:      "delete",
				Usage:     "delete an API key; it stops working at once",
				ArgsUsage: "HOST ID",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "revoke-invites", Usage: "also revoke the pending invites this key created"},
				},
				Action: func(c *cli.Context) error {
					return a.withStore(c, 2, 2, "[--revoke-invites] HOST ID",
						func(ctx context.Context, cfg Config, st *keystore.Store, args []string) error {
							n, err := st.DeleteKey(ctx, args[0], c.Bool("revoke-invites"))
							if errors.Is(err, keystore.ErrNotFound) {
								return failErr("no key with ID %q", args[0])
							}
							if err != nil {
								return failErr("%v", err)
							}
							if c.Bool("revoke-invites") {
								fmt.Fprintf(a.stderr, "Deleted key %s and revoked %d pending invites.\n", args[0], n)
							}
							return nil
						})
				},
			},
		},
	}
}

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
					&cli.StringFlag{Name: "ttl", Usage: "valid for `DURATION` (default: invites.default_ttl, reset: invites.reset_ttl)"},
					&cli.IntFlag{Name: "uses", Value: 1, Usage: "how many accounts may use it (1-1000)"},
					&cli.StringFlag{Name: "note", Usage: "a note for yourself, shown in lists"},
					&cli.BoolFlag{Name: "allow-admin", Usage: "allow a reset invite for an admin's account or a reserved name"},
				},
				Action: func(c *cli.Context) error {
					return a.withStore(c, 1, 1, "[--type T] [--username U] [--ttl DUR] [--uses N] [--note TEXT] HOST",
						func(ctx context.Context, cfg Config, st *keystore.Store, args []string) error {
							r := invites.Request{
								Type: keystore.Type(c.String("type")), Username: c.String("username"),
								Uses: c.Int("uses"), Note: c.String("note"), Creator: "cli",
								AllowRegister: true, AllowAdmin: c.Bool("allow-admin"),
							}
							if c.Int("uses") == 0 {
								return usageErr("--uses must be between 1 and %d", invites.MaxUses)
							}
							if v := c.String("ttl"); v != "" {
								d, err := invites.ParseTTL(v)
								if err != nil {
									return usageErr("--%v", err)
								}
								r.TTL = d
							}
							created, err := newService(st, cfg).Create(ctx, r)
							var ve *invites.ValidationError
							if errors.As(err, &ve) {
								return usageErr("--%v", ve)
							}
							if errors.Is(err, invites.ErrProtected) {
								return failErr("%s@%s is an admin's account or a reserved name: add --allow-admin to make a reset invite for it", r.Username, cfg.Domain)
							}
							if err != nil {
								return failErr("%v", err)
							}
							fmt.Fprintln(a.stdout, created.LandingURL)
							return nil
						})
				},
			},
			{
				Name:      "list",
				Usage:     "list pending invites, oldest first",
				ArgsUsage: "HOST",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "all", Usage: "include used, expired and revoked invites, with a STATE column"},
				},
				Action: func(c *cli.Context) error {
					return a.withStore(c, 1, 1, "[--all] HOST",
						func(ctx context.Context, cfg Config, st *keystore.Store, args []string) error {
							list, err := st.ListInvites(ctx, keystore.ListOptions{All: c.Bool("all")})
							if err != nil {
								return failErr("%v", err)
							}
							now := time.Now()
							for _, inv := range list {
								line := []string{inv.ID, string(inv.Type), termText(orDash(inv.Username)),
									fmt.Sprintf("%d/%d", inv.Uses, inv.MaxUses), rfc3339(inv.Expires), termText(inv.Creator), termText(inv.Note)}
								if c.Bool("all") {
									line = append(line, string(inv.State(now)))
								}
								fmt.Fprintln(a.stdout, strings.Join(line, "\t"))
							}
							return nil
						})
				},
			},
			{
				Name:      "show",
				Usage:     "show every field of an invite and its uses",
				ArgsUsage: "HOST ID|TOKEN",
				Action: func(c *cli.Context) error {
					return a.withStore(c, 2, 2, "HOST ID|TOKEN",
						func(ctx context.Context, cfg Config, st *keystore.Store, args []string) error {
							inv, err := st.GetInvite(ctx, args[0])
							if errors.Is(err, keystore.ErrNotFound) {
								return failErr("no invite %q", args[0])
							}
							if err != nil {
								return failErr("%v", err)
							}
							uses, err := st.Uses(ctx, inv.ID)
							if err != nil {
								return failErr("%v", err)
							}
							printInvite(a.stdout, inv, uses, time.Now())
							return nil
						})
				},
			},
			{
				Name:      "revoke",
				Usage:     "revoke an invite so it can no longer be used",
				ArgsUsage: "HOST ID|TOKEN",
				Action: func(c *cli.Context) error {
					return a.withStore(c, 2, 2, "HOST ID|TOKEN",
						func(ctx context.Context, cfg Config, st *keystore.Store, args []string) error {
							_, err := st.RevokeInvite(ctx, args[0])
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
							return nil
						})
				},
			},
		},
	}
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
	fmt.Fprintf(tw, "Expires:\t%s\n", rfc3339(inv.Expires))
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

func rfc3339OrDash(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return rfc3339(t)
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
	}, nil)
}
