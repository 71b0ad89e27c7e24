package main

import (
	"strings"
	"testing"
)

func rate(server string, perSecond float64, errors int) httpResult {
	return httpResult{Server: server, Test: testAPI, Conns: targetConns, PerSecond: perSecond, Errors: errors}
}

func creationTargets(t *testing.T, r *results) (vsProsody, vsCeiling targetCheck) {
	t.Helper()
	for _, c := range judge(r, options{invites: 1}) {
		switch {
		case strings.HasPrefix(c.Name, "invite creation vs Prosody"):
			vsProsody = c
		case strings.HasPrefix(c.Name, "invite creation vs trivial"):
			vsCeiling = c
		}
	}
	return vsProsody, vsCeiling
}

// TestJudgeUsesRoundMeans checks that with several rounds the creation
// targets judge the means of the rounds, not the first measurement, and
// that an error in any round fails the target of that pair.
func TestJudgeUsesRoundMeans(t *testing.T) {
	pr := func(v float64) *httpResult { x := rate(srvProsody, v, 0); return &x }
	r := &results{
		HTTP: []httpResult{rate(srvCeiling, 10000, 0), rate(srvProsody, 100, 0), rate(srvXI, 3000, 0)},
		Rounds: []round{
			{Ceiling: rate(srvCeiling, 10000, 0), Prosody: pr(100), XI: rate(srvXI, 3000, 0)},
			{Ceiling: rate(srvCeiling, 8000, 0), Prosody: pr(200), XI: rate(srvXI, 5000, 0)},
		},
	}
	vsP, vsC := creationTargets(t, r)
	// Means: ceiling 9000, Prosody 150, xmpp-invites 4000. The first
	// measurements alone (30 %) would fail.
	if !vsC.Measured || !vsC.Pass || vsC.Value != "44.4 % (4000 vs 9000/s; means of 2 rounds)" {
		t.Errorf("vs ceiling: %+v", vsC)
	}
	if !vsP.Measured || vsP.Pass || vsP.Value != "26.7x (4000 vs 150.0/s; means of 2 rounds)" {
		t.Errorf("vs Prosody: %+v", vsP)
	}
	// It passes only while every round is clean.
	r.Rounds[1].Ceiling.Errors = 1
	if _, vsC = creationTargets(t, r); vsC.Pass {
		t.Errorf("an error in a round should fail the target: %+v", vsC)
	}
	// A round without Prosody: no Prosody mean, the target is not measured.
	r.Rounds[1].Prosody = nil
	if vsP, _ = creationTargets(t, r); vsP.Measured {
		t.Errorf("vs Prosody with a round missing it: %+v", vsP)
	}
	// One round: the single measurements decide.
	r.Rounds = r.Rounds[:1]
	if vsP, vsC = creationTargets(t, r); vsC.Value != "30.0 % (3000 vs 10000/s)" || vsP.Value != "30.0x (3000 vs 100.0/s)" || !vsP.Pass {
		t.Errorf("one round: %+v / %+v", vsC, vsP)
	}
}

func page(server string, perSecond float64, errors int) *httpResult {
	return &httpResult{Server: server, Test: testPage, Conns: targetConns, PerSecond: perSecond, Errors: errors}
}

func landingTarget(t *testing.T, r *results) targetCheck {
	t.Helper()
	for _, c := range judge(r, options{invites: 1}) {
		if strings.HasPrefix(c.Name, "landing page vs trivial") {
			return c
		}
	}
	t.Fatal("no landing page target")
	return targetCheck{}
}

// TestJudgeLandingUsesRoundMeans checks that the landing page target, like
// the creation targets, judges the means of the rounds when every round
// has the landing page, and the single measurements otherwise.
func TestJudgeLandingUsesRoundMeans(t *testing.T) {
	r := &results{
		HTTP: []httpResult{rate(srvCeiling, 10000, 0), rate(srvXI, 3000, 0),
			*page(srvCeiling, 20000, 0), *page(srvXI, 7000, 0)},
		Rounds: []round{
			{Ceiling: rate(srvCeiling, 10000, 0), XI: rate(srvXI, 3000, 0),
				CeilingPage: page(srvCeiling, 20000, 0), XIPage: page(srvXI, 7000, 0)},
			{Ceiling: rate(srvCeiling, 10000, 0), XI: rate(srvXI, 3000, 0),
				CeilingPage: page(srvCeiling, 16000, 0), XIPage: page(srvXI, 12000, 0)},
		},
	}
	// Means: ceiling 18000, xmpp-invites 9500 pages/s. The first
	// measurements alone (35 %) would fail.
	if c := landingTarget(t, r); !c.Measured || !c.Pass || c.Value != "52.8 % (9500 vs 18000/s; means of 2 rounds)" {
		t.Errorf("landing over rounds: %+v", c)
	}
	var out strings.Builder
	printPageRounds(&out, r)
	for _, want := range []string{"ROUNDS: landing page at 16 conns", "mean", "52.8"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("page rounds table lacks %q:\n%s", want, out.String())
		}
	}
	// An error in any round fails it.
	r.Rounds[1].XIPage.Errors = 1
	if c := landingTarget(t, r); c.Pass {
		t.Errorf("an error in a round should fail the landing target: %+v", c)
	}
	// A round without the landing page: the single measurements decide,
	// and no table is printed.
	r.Rounds[1].XIPage = nil
	if c := landingTarget(t, r); !c.Measured || c.Pass || c.Value != "35.0 % (7000 vs 20000/s)" {
		t.Errorf("landing without page rounds: %+v", c)
	}
	out.Reset()
	printPageRounds(&out, r)
	if out.Len() != 0 {
		t.Errorf("page rounds table printed without page rounds:\n%s", out.String())
	}
}

// TestSyncedBound checks the note on the ceiling + group fdatasync: it
// speaks only when that handler itself falls short of a creation target,
// from the means of the rounds when every round has it, and never from
// figures with errors.
func TestSyncedBound(t *testing.T) {
	sy := func(v float64, errors int) *httpResult { x := rate(srvSynced, v, errors); return &x }
	pr := func(v float64) *httpResult { x := rate(srvProsody, v, 0); return &x }
	r := &results{
		HTTP: []httpResult{rate(srvCeiling, 20000, 0), *sy(9000, 0), rate(srvProsody, 400, 0), rate(srvXI, 5000, 0)},
	}
	// One measurement each: 45 % of the ceiling passes, 22.5x Prosody does not.
	notes := syncedBound(r)
	if len(notes) != 1 || !strings.Contains(notes[0], "22.5x Prosody mod_invites_api (9000 vs 400.0/s at 16 conns)") {
		t.Errorf("single measurements: %q", notes)
	}
	// Rounds: means of ceiling 20000, synced 7000, Prosody 250 → 35 %, 28x.
	r.Rounds = []round{
		{Ceiling: rate(srvCeiling, 20000, 0), Synced: sy(9000, 0), Prosody: pr(400), XI: rate(srvXI, 5000, 0)},
		{Ceiling: rate(srvCeiling, 20000, 0), Synced: sy(5000, 0), Prosody: pr(100), XI: rate(srvXI, 5000, 0)},
	}
	notes = syncedBound(r)
	if len(notes) != 2 || !strings.Contains(notes[0], "35.0 % of the ceiling (7000 vs 20000/s at 16 conns, means of 2 rounds)") ||
		!strings.Contains(notes[1], "28.0x Prosody mod_invites_api (7000 vs 250.0/s at 16 conns, means of 2 rounds)") {
		t.Errorf("round means: %q", notes)
	}
	var out strings.Builder
	printRounds(&out, r)
	for _, want := range []string{"+ fdatasync/s", "7000", "71.4"} { // 5000 of 7000
		if !strings.Contains(out.String(), want) {
			t.Errorf("rounds table lacks %q:\n%s", want, out.String())
		}
	}
	// Above both targets (55 %, 36.7x): no note.
	r.Rounds[1].Synced.PerSecond, r.Rounds[0].Prosody.PerSecond, r.Rounds[1].Prosody.PerSecond = 13000, 300, 300
	if notes = syncedBound(r); len(notes) != 0 {
		t.Errorf("synced handler above the targets: %q", notes)
	}
	// Errors in a round: no claim.
	r.Rounds[1].Synced = sy(1000, 3)
	if notes = syncedBound(r); len(notes) != 0 {
		t.Errorf("synced handler with errors: %q", notes)
	}
	// Not measured: no note, and the rounds table shows a dash.
	r.HTTP = r.HTTP[:1]
	r.Rounds[0].Synced, r.Rounds[1].Synced = nil, nil
	if notes = syncedBound(r); len(notes) != 0 {
		t.Errorf("synced handler not measured: %q", notes)
	}
}

func TestRedactToken(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:33447/invite?a67sJkOc8iZenQoGR1l7nu2Z":       "http://127.0.0.1:33447/invite?TOKEN",
		"http://example.test:45311/invites_page?abc&c=xmpp:x@y?roster": "http://example.test:45311/invites_page?TOKEN",
		"http://127.0.0.1/invite":                                      "http://127.0.0.1/invite",
		"":                                                             "",
	} {
		if got := redactToken(in); got != want {
			t.Errorf("redactToken(%q) = %q, want %q", in, got, want)
		}
	}
}
