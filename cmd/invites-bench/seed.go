package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"xmpp-invites/keystore"
)

// seedBatch is how many invites one keystore.Seed transaction stores.
const seedBatch = 50_000

// seedSpan is how far back the seeded invites' creation times go.
const seedSpan = 30 * 24 * time.Hour

// seeded describes a seeded database: what to look up in it afterwards.
type seeded struct {
	Invites  int           `json:"invites"`
	Pending  int           `json:"pending"`
	Seconds  float64       `json:"seconds"`
	Oldest   time.Time     `json:"oldest"`
	token    string        // a pending invite's token
	middleID string        // an invite in the middle, for paging
	creator  string        // the most common creator
	took     time.Duration // wall time
}

// seedDB fills a new database at path with n invites through
// keystore.Seed: a month of creation times, one in twenty used, one in
// twenty expired, one in fifty revoked, the rest pending.
func seedDB(ctx context.Context, path string, n int) (seeded, error) {
	begin := time.Now()
	// Seeding needs no durability: NORMAL skips the fsyncs.
	st, err := keystore.Open(ctx, path, keystore.Options{Synchronous: "NORMAL"})
	if err != nil {
		return seeded{}, fmt.Errorf("seed: %w", err)
	}
	defer st.Close()
	st = st.ForDomain(benchDomain)
	now := time.Now().UTC()
	oldest := now.Add(-seedSpan)
	step := seedSpan / time.Duration(max(n, 1))
	creators := []string{"key:benchkey0001", "key:benchkey0002", "key:benchkey0003", "cli", "xmpp:admin@example.test"}
	res := seeded{Invites: n, Oldest: oldest, creator: creators[0]}
	batch := make([]keystore.SeedInvite, 0, seedBatch)
	for start := 0; start < n; start += seedBatch {
		batch = batch[:0]
		for i := start; i < min(start+seedBatch, n); i++ {
			created := oldest.Add(time.Duration(i) * step)
			si := keystore.SeedInvite{Created: created, InviteParams: keystore.InviteParams{
				Type: keystore.TypeAccount, Creator: creators[i%len(creators)], MaxUses: 1, Expires: now.Add(7 * 24 * time.Hour)}}
			switch {
			case i%20 == 0:
				si.Uses = []keystore.Use{{JID: fmt.Sprintf("user%d@%s", i, benchDomain), Time: created.Add(10 * time.Minute)}}
			case i%20 == 1:
				si.Expires = created.Add(time.Hour)
			case i%50 == 2:
				si.Revoked = created.Add(time.Minute)
			default:
				res.Pending++
			}
			batch = append(batch, si)
		}
		invs, tokens, err := st.Seed(ctx, batch)
		if err != nil {
			return res, err
		}
		for j, inv := range invs {
			i := start + j
			if i == n/2 {
				res.middleID = inv.ID
			}
			if inv.State(now) == keystore.StatePending && (res.token == "" || i > n/2 && i < n/2+20) {
				res.token = tokens[j]
			}
		}
	}
	res.took = time.Since(begin)
	res.Seconds = res.took.Seconds()
	return res, nil
}

// queryTiming is one keystore call timed on the seeded database.
type queryTiming struct {
	Name   string  `json:"name"`
	Ms     float64 `json:"ms"`
	Rows   int     `json:"rows"`
	Detail string  `json:"detail,omitempty"`
}

// timeQueries calls keystore's own list, count, lookup and purge on the
// seeded database and times each. Purge runs last: it deletes rows.
func timeQueries(ctx context.Context, path string, s seeded) ([]queryTiming, error) {
	st, err := keystore.Open(ctx, path, keystore.Options{})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	st = st.ForDomain(benchDomain)
	var out []queryTiming
	timed := func(name, detail string, fn func() (int, error)) error {
		t0 := time.Now()
		n, err := fn()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, queryTiming{Name: name, Ms: ms(time.Since(t0)), Rows: n, Detail: detail})
		return nil
	}
	steps := []struct {
		name, detail string
		fn           func() (int, error)
	}{
		{"ListInvites pending, first 100", "invite list / GET /api/v1/invites", func() (int, error) {
			l, err := st.ListInvites(ctx, keystore.ListOptions{Limit: 100})
			return len(l), err
		}},
		{"ListInvites pending, 100 after the middle", "paging with after=ID", func() (int, error) {
			l, err := st.ListInvites(ctx, keystore.ListOptions{After: s.middleID, Limit: 100})
			return len(l), err
		}},
		{"ListInvites all, 100 after the middle", "invite list --all", func() (int, error) {
			l, err := st.ListInvites(ctx, keystore.ListOptions{All: true, After: s.middleID, Limit: 100})
			return len(l), err
		}},
		{"CountInvites, one creator, last 24 h", "invite counts", func() (int, error) {
			return st.CountInvites(ctx, s.creator, time.Now().Add(-24*time.Hour))
		}},
		{"InviteByToken", "landing page lookup", func() (int, error) {
			_, err := st.InviteByToken(ctx, s.token)
			return 1, err
		}},
		{"Purge, one day of finished invites", "hourly background purge", func() (int, error) {
			return st.Purge(ctx, s.Oldest.Add(24*time.Hour))
		}},
	}
	for _, step := range steps {
		if err := timed(step.name, step.detail, step.fn); err != nil {
			return out, err
		}
	}
	return out, nil
}

// plan is the EXPLAIN QUERY PLAN of one keystore statement, judged.
type plan struct {
	keystore.QueryPlan
	Indexed bool   `json:"indexed"`
	Note    string `json:"note,omitempty"`
}

// explain asks keystore for the plans of its statements on the database at
// path and judges whether each is indexed: no line may scan a table, but
// for the primary-key walk of the LIMITed lists.
func explain(ctx context.Context, path string) ([]plan, error) {
	st, err := keystore.Open(ctx, path, keystore.Options{})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	st = st.ForDomain(benchDomain)
	qps, err := st.QueryPlans(ctx)
	if err != nil {
		return nil, err
	}
	var out []plan
	for _, qp := range qps {
		p := plan{QueryPlan: qp, Indexed: true}
		for _, line := range qp.Plan {
			if !strings.HasPrefix(line, "SCAN ") || strings.Contains(line, " USING ") {
				continue
			}
			if qp.KeyWalk && strings.HasPrefix(line, "SCAN invites") {
				p.Note = "walks the primary key in seq order and stops after LIMIT rows that match"
				continue
			}
			p.Indexed, p.Note = false, "full table scan: "+line
		}
		out = append(out, p)
	}
	return out, nil
}
