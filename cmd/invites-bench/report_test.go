package main

import (
	"strings"
	"testing"
)

func m(server, test string, round int, perSecond float64, errors int) result {
	return result{Server: server, Test: test, Conns: targetConns, Round: round, PerSecond: perSecond, Errors: errors}
}

func targetNamed(t *testing.T, r *results, prefix string) targetCheck {
	t.Helper()
	for _, c := range judge(r, options{invites: 1}) {
		if strings.HasPrefix(c.Name, prefix) {
			return c
		}
	}
	t.Fatalf("no target %q", prefix)
	return targetCheck{}
}

// TestJudgeCreation checks the invite creation targets: xmpp-invites
// against the ceiling + group fdatasync and against Prosody, judged on the
// means of the rounds, failed by an error in any round, and not measured
// without the reference.
func TestJudgeCreation(t *testing.T) {
	r := &results{Rounds: 2, HTTP: []result{
		m(srvCeiling, testAPI, 1, 20000, 0), m(srvSynced, testAPI, 1, 9000, 0),
		m(srvProsody, testAPI, 1, 300, 0), m(srvXI, testAPI, 1, 3000, 0),
		m(srvCeiling, testAPI, 2, 20000, 0), m(srvSynced, testAPI, 2, 7000, 0),
		m(srvProsody, testAPI, 2, 500, 0), m(srvXI, testAPI, 2, 5000, 0),
	}}
	// Means: synced 8000, Prosody 400, xmpp-invites 4000. The first round
	// alone (33 % of the synced ceiling) would fail.
	vsS := targetNamed(t, r, "invite creation vs ceiling + group fdatasync")
	if !vsS.Measured || !vsS.Pass || vsS.Value != "50.0 % (4000 vs 8000/s; means of 2 rounds)" || vsS.Limit != ">= 50 %" {
		t.Errorf("vs synced ceiling: %+v", vsS)
	}
	vsP := targetNamed(t, r, "invite creation vs Prosody")
	if !vsP.Measured || !vsP.Pass || vsP.Value != "10.0x (4000 vs 400.0/s; means of 2 rounds)" || vsP.Limit != ">= 10x" {
		t.Errorf("vs Prosody: %+v", vsP)
	}
	// Under either limit: fail.
	r.HTTP[7].PerSecond = 4900 // means 3950: 49.4 %, 9.9x
	if c := targetNamed(t, r, "invite creation vs ceiling + group"); c.Pass {
		t.Errorf("49.4 %% passed: %+v", c)
	}
	if c := targetNamed(t, r, "invite creation vs Prosody"); c.Pass {
		t.Errorf("9.9x passed: %+v", c)
	}
	r.HTTP[7].PerSecond = 5000
	// An error in any round fails the pair.
	r.HTTP[5].Errors = 1
	if c := targetNamed(t, r, "invite creation vs ceiling + group"); c.Pass || !c.Measured {
		t.Errorf("an error in a round should fail the target: %+v", c)
	}
	// One round: the single measurements decide.
	r.HTTP, r.Rounds = r.HTTP[:4], 1
	if c := targetNamed(t, r, "invite creation vs ceiling + group"); c.Value != "33.3 % (3000 vs 9000/s)" || c.Pass {
		t.Errorf("one round: %+v", c)
	}
	// Without the synced ceiling: not measured.
	r.HTTP = append(r.HTTP[:1], r.HTTP[2:]...)
	if c := targetNamed(t, r, "invite creation vs ceiling + group"); c.Measured {
		t.Errorf("without the synced ceiling: %+v", c)
	}
}

// TestJudgeLanding checks that the landing page target judges the means of
// the rounds too, and only at targetConns.
func TestJudgeLanding(t *testing.T) {
	r := &results{Rounds: 2, HTTP: []result{
		m(srvCeiling, testPage, 1, 20000, 0), m(srvXI, testPage, 1, 7000, 0),
		m(srvCeiling, testPage, 2, 16000, 0), m(srvXI, testPage, 2, 12000, 0),
		{Server: srvXI, Test: testPage, Conns: 1, Round: 1, PerSecond: 1},
	}}
	// Means: ceiling 18000, xmpp-invites 9500; round 1 alone (35 %) fails.
	if c := targetNamed(t, r, "landing page"); !c.Pass || c.Value != "52.8 % (9500 vs 18000/s; means of 2 rounds)" {
		t.Errorf("landing over rounds: %+v", c)
	}
	r.HTTP[3].Errors = 1
	if c := targetNamed(t, r, "landing page"); c.Pass {
		t.Errorf("an error in a round should fail the landing target: %+v", c)
	}
}

// TestPrintRounds checks the rounds table: a row per round and the means,
// for the servers measured in every round, with xmpp-invites' share of
// each.
func TestPrintRounds(t *testing.T) {
	r := &results{Rounds: 2, HTTP: []result{
		m(srvCeiling, testAPI, 1, 20000, 0), m(srvSynced, testAPI, 1, 9000, 0),
		m(srvProsody, testAPI, 1, 300, 0), m(srvXI, testAPI, 1, 3000, 0),
		m(srvCeiling, testAPI, 2, 20000, 0), m(srvSynced, testAPI, 2, 7000, 0),
		m(srvXI, testAPI, 2, 5000, 0),
	}}
	var out strings.Builder
	printRounds(&out, r, testAPI, "invite creation", srvXI, "")
	got := out.String()
	for _, want := range []string{"ROUNDS: invite creation at 16 conns", "vs +fdatasync", "33.3 %", "71.4 %", "mean", "50.0 %"} {
		if !strings.Contains(got, want) {
			t.Errorf("rounds table lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, srvProsody) {
		t.Errorf("Prosody, missing from round 2, is in the table:\n%s", got)
	}
	out.Reset()
	r.Rounds = 1
	if printRounds(&out, r, testAPI, "invite creation", srvXI, ""); out.Len() != 0 {
		t.Errorf("a table for one round:\n%s", out.String())
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
