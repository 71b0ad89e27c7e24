package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

// The CLI works on the database only, without the XMPP server: members it
// adds are recorded, and become contacts of the accounts that join the
// circle later (docs/presets.md).

// maxCircleArgs bounds the JIDs of one add or remove: the largest
// max_circle_size.
const maxCircleArgs = 10000

func (a *appState) circleCommand() *cli.Command {
	return &cli.Command{
		Name:  "circle",
		Usage: "manage circles: named sets of accounts that are each other's contacts",
		Subcommands: []*cli.Command{
			{Name: "create", Usage: "create an empty circle", ArgsUsage: "HOST NAME", Action: a.circleCreate},
			{Name: "add", Usage: "add accounts to a circle", ArgsUsage: "HOST NAME JID...", Action: a.circleAdd},
			{Name: "remove", Usage: "remove accounts from a circle (they stay contacts)", ArgsUsage: "HOST NAME JID...", Action: a.circleRemove},
			{
				Name: "list", Usage: "list circles, or the members of one", ArgsUsage: "HOST [NAME]",
				Flags:  []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON, for scripts"}},
				Action: a.circleList,
			},
			{Name: "delete", Usage: "delete a circle (its members stay contacts)", ArgsUsage: "HOST NAME", Action: a.circleDelete},
		},
	}
}

// circleErr says a store error of circle name in the CLI's words.
func circleErr(name string, err error) error {
	var ve *invites.ValidationError
	switch {
	case errors.As(err, &ve):
		return usageErr("%v", ve)
	case errors.Is(err, keystore.ErrNotFound):
		return failErr("no circle %q", name)
	case errors.Is(err, keystore.ErrExists):
		return failErr("circle %q exists already", name)
	}
	return failErr("%v", err)
}

func (a *appState) circleCreate(c *cli.Context) error {
	_, st, args, err := a.hostStore(c, 2, 2, "HOST NAME")
	if err != nil {
		return err
	}
	defer st.Close()
	name := args[0]
	if err := invites.CheckCircleName(name); err != nil {
		return circleErr(name, err)
	}
	if _, err := st.CreateCircle(c.Context, name); err != nil {
		return circleErr(name, err)
	}
	a.audit(c, st, "circle.create", name, "")
	fmt.Fprintf(a.stdout, "created circle %s\n", name)
	return nil
}

func (a *appState) circleAdd(c *cli.Context) error {
	cfg, st, args, err := a.hostStore(c, 3, 2+maxCircleArgs, "HOST NAME JID...")
	if err != nil {
		return err
	}
	defer st.Close()
	name := args[0]
	svc := newService(st, cfg)
	for _, j := range args[1:] {
		member, _, err := svc.AddCircleMember(c.Context, nil, name, j)
		if errors.Is(err, keystore.ErrLimit) {
			return failErr("circle %q is full (invites.max_circle_size = %d)", name, cfg.MaxCircleSize)
		}
		if errors.Is(err, keystore.ErrExists) {
			fmt.Fprintf(a.stdout, "%s is a member of %s already\n", j, name)
			continue
		}
		if err != nil {
			return circleErr(name, err)
		}
		a.audit(c, st, "circle.add", name, member)
		fmt.Fprintf(a.stdout, "added %s to %s\n", member, name)
	}
	return nil
}

func (a *appState) circleRemove(c *cli.Context) error {
	cfg, st, args, err := a.hostStore(c, 3, 2+maxCircleArgs, "HOST NAME JID...")
	if err != nil {
		return err
	}
	defer st.Close()
	name := args[0]
	svc := newService(st, cfg)
	for _, j := range args[1:] {
		member, err := svc.CircleMember(j)
		if err != nil {
			return circleErr(name, err)
		}
		if err := st.RemoveCircleMember(c.Context, name, member); errors.Is(err, keystore.ErrNotFound) {
			return failErr("%s is not a member of circle %q", member, name)
		} else if err != nil {
			return failErr("%v", err)
		}
		a.audit(c, st, "circle.remove", name, member)
		fmt.Fprintf(a.stdout, "removed %s from %s\n", member, name)
	}
	return nil
}

func (a *appState) circleList(c *cli.Context) error {
	_, st, args, err := a.hostStore(c, 1, 2, "[--json] HOST [NAME]")
	if err != nil {
		return err
	}
	defer st.Close()
	if len(args) == 1 {
		name := args[0]
		ms, err := st.CircleMembers(c.Context, name)
		if err != nil {
			return circleErr(name, err)
		}
		if c.Bool("json") {
			type memberJSON struct {
				JID   string `json:"jid"`
				Added string `json:"added"`
			}
			out := make([]memberJSON, 0, len(ms))
			for _, m := range ms {
				out = append(out, memberJSON{m.JID, rfc3339(m.Added)})
			}
			return a.printJSON(out)
		}
		t := a.table("JID", "ADDED")
		for _, m := range ms {
			t.row(termText(m.JID), rfc3339(m.Added))
		}
		return nil
	}
	cs, err := st.Circles(c.Context)
	if err != nil {
		return failErr("%v", err)
	}
	if c.Bool("json") {
		type circleJSON struct {
			Name    string `json:"name"`
			Created string `json:"created"`
			Size    int    `json:"size"`
		}
		out := make([]circleJSON, 0, len(cs))
		for _, ci := range cs {
			out = append(out, circleJSON{ci.Name, rfc3339(ci.Created), ci.Members})
		}
		return a.printJSON(out)
	}
	t := a.table("NAME", "MEMBERS", "CREATED")
	for _, ci := range cs {
		t.row(ci.Name, fmt.Sprint(ci.Members), rfc3339(ci.Created))
	}
	return nil
}

func (a *appState) circleDelete(c *cli.Context) error {
	_, st, args, err := a.hostStore(c, 2, 2, "HOST NAME")
	if err != nil {
		return err
	}
	defer st.Close()
	name := args[0]
	if err := st.DeleteCircle(c.Context, name); err != nil {
		return circleErr(name, err)
	}
	a.audit(c, st, "circle.delete", name, "")
	fmt.Fprintf(a.stdout, "deleted circle %s\n", name)
	return nil
}
