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
