package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

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
				Action: a.keyCreate,
			},
			{
				Name:      "list",
				Usage:     "list API keys, oldest first",
				ArgsUsage: "HOST",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "long", Usage: "add scope, created, last used and expiry"},
					&cli.BoolFlag{Name: "json", Usage: "print a JSON array with every field, for scripts"},
				},
				Action: a.keyList,
			},
			{
				Name:      "delete",
				Usage:     "delete an API key; it stops working at once",
				ArgsUsage: "HOST ID",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "revoke-invites", Usage: "also revoke the pending invites this key created"},
				},
				Action: a.keyDelete,
			},
		},
	}
}

func (a *appState) keyCreate(c *cli.Context) error {
	_, st, args, err := a.hostStore(c, 1, 2, "[--manage] [--expires DUR] [--quota N] [--label TEXT] HOST [NAME]")
	if err != nil {
		return err
	}
	defer st.Close()
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
	k, cred, err := st.CreateKey(c.Context, p)
	if err != nil {
		return failErr("%v", err)
	}
	a.audit(c, st, "key.create", k.ID, "scope="+string(k.Scope)+" name="+k.Name)
	fmt.Fprintln(a.stdout, cred)
	return nil
}

// keyJSON is a key in key list --json.
type keyJSON struct {
	ID       string  `json:"id"`
	Name     string  `json:"name"`
	Label    string  `json:"label"` // empty: the site name
	Scope    string  `json:"scope"`
	Created  string  `json:"created"`
	LastUsed *string `json:"last_used"` // null: never used
	Expires  *string `json:"expires"`   // null: never expires
	Quota    int     `json:"quota"`     // invites per hour, 0: unlimited
}

func (a *appState) keyList(c *cli.Context) error {
	_, st, _, err := a.hostStore(c, 1, 1, "[--long] [--json] HOST")
	if err != nil {
		return err
	}
	defer st.Close()
	keys, err := st.ListKeys(c.Context)
	if err != nil {
		return failErr("%v", err)
	}
	if c.Bool("json") {
		out := make([]keyJSON, 0, len(keys))
		for _, k := range keys {
			out = append(out, keyJSON{ID: k.ID, Name: k.Name, Label: k.Label, Scope: string(k.Scope),
				Created: rfc3339(k.Created), LastUsed: rfc3339OrNull(k.LastUsed), Expires: rfc3339OrNull(k.Expires), Quota: k.Quota})
		}
		return a.printJSON(out)
	}
	cols := []string{"ID", "NAME"}
	if c.Bool("long") {
		cols = append(cols, "SCOPE", "CREATED", "LAST_USED", "EXPIRES")
	}
	t := a.table(cols...)
	for _, k := range keys {
		if c.Bool("long") {
			t.row(k.ID, termText(k.Name), string(k.Scope), rfc3339(k.Created), rfc3339OrDash(k.LastUsed), rfc3339OrDash(k.Expires))
		} else {
			t.row(k.ID, termText(k.Name))
		}
	}
	return nil
}

func (a *appState) keyDelete(c *cli.Context) error {
	_, st, args, err := a.hostStore(c, 2, 2, "[--revoke-invites] HOST ID")
	if err != nil {
		return err
	}
	defer st.Close()
	id := args[0]
	n, err := st.DeleteKey(c.Context, id, c.Bool("revoke-invites"))
	if errors.Is(err, keystore.ErrNotFound) {
		return failErr("no key with ID %q", id)
	}
	if err != nil {
		return failErr("%v", err)
	}
	a.audit(c, st, "key.delete", id, fmt.Sprintf("invites revoked=%d", n))
	if c.Bool("revoke-invites") {
		fmt.Fprintf(a.stdout, "deleted key %s and revoked %d pending invites\n", id, n)
	} else {
		fmt.Fprintf(a.stdout, "deleted key %s; its pending invites stay valid (--revoke-invites revokes them)\n", id)
	}
	return nil
}
