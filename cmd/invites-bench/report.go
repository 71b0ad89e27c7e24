package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// targetCheck is one target of the issue, judged.
type targetCheck struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	Limit    string `json:"limit"`
	Measured bool   `json:"measured"`
	Pass     bool   `json:"pass"`
	// Info marks a figure shown beside the targets that is no target
	// (PostgreSQL's): never PASS or FAIL.
	Info bool `json:"info,omitempty"`
}

func (t targetCheck) verdict() string {
	switch {
	case t.Info && t.Measured:
		return "INFO"
	case !t.Measured:
		return "NOT MEASURED"
	case t.Pass:
		return "PASS"
	}
	return "FAIL"
}

// The targets.
const (
	targetConns       = 16
	targetVsSynced    = 0.50 // invite creation ≥ 50 % of the ceiling + group fdatasync
	targetVsProsody   = 10.0 // and ≥ 10× Prosody mod_invites_api
	targetP99Ms       = 20.0
	targetPageCeiling = 0.50
	targetRSSBytes    = 30_000_000 // 30 MB, decimal: the stricter reading
	targetReadyMs     = 1000.0
)

// find returns the round-1 HTTP result of server and test at conns
// connections.
func (r *results) find(server, test string, conns int) (result, bool) {
	for _, h := range r.HTTP {
		if h.Server == server && h.Test == test && h.Conns == conns && h.Round <= 1 {
			return h, true
		}
	}
	return result{}, false
}

// mean is the mean rate of server's test at targetConns over the rounds it
// was measured in (each measures for the same time, so the mean rate is
// the total over the total time), their number, and whether all were
// free of errors.
func (r *results) mean(server, test string) (rate float64, n int, clean bool) {
	clean = true
	for _, h := range r.HTTP {
		if h.Server == server && h.Test == test && h.Conns == targetConns {
			rate, n, clean = rate+h.PerSecond, n+1, clean && h.Errors == 0
		}
	}
	if n > 0 {
		rate /= float64(n)
	}
	return rate, n, clean
}

// compare judges the mean rate of server a's test against server b's:
// a/b must reach limit, with no errors in any round.
func (r *results) compare(name, test, a, b string, limit float64, pct bool) targetCheck {
	t := targetCheck{Name: name, Limit: fmt.Sprintf(">= %.0fx", limit)}
	if pct {
		t.Limit = fmt.Sprintf(">= %.0f %%", limit*100)
	}
	ra, na, cleanA := r.mean(a, test)
	rb, nb, cleanB := r.mean(b, test)
	if na == 0 || nb == 0 {
		return t
	}
	v := ratio(ra, rb)
	t.Measured, t.Pass = true, v >= limit && cleanA && cleanB
	how := ""
	if na > 1 || nb > 1 {
		how = fmt.Sprintf("; means of %d rounds", max(na, nb))
	}
	if pct {
		t.Value = fmt.Sprintf("%.1f %% (%.0f vs %.0f/s%s)", v*100, ra, rb, how)
	} else {
		t.Value = fmt.Sprintf("%.1fx (%.0f vs %.1f/s%s)", v, ra, rb, how)
	}
	return t
}

// info makes t an information line: no limit, no verdict.
func info(t targetCheck) targetCheck {
	t.Info, t.Pass, t.Limit = true, false, "(information)"
	return t
}

// pgInfo is what the targets table shows of PostgreSQL, when measured. The
// targets are SQLite's; none of these is judged.
func pgInfo(r *results) []targetCheck {
	if r.Postgres == nil {
		return nil
	}
	out := []targetCheck{
		info(r.compare("PostgreSQL: invite creation vs ceiling + PostgreSQL commit (16 conns)", testAPI, srvXIPG, srvPGCommit, 0, true)),
		info(r.compare("PostgreSQL: invite creation vs xmpp-invites on SQLite (16 conns)", testAPI, srvXIPG, srvXI, 0, true)),
	}
	t := info(targetCheck{Name: "PostgreSQL: invite creation p99 latency (16 conns)"})
	if x, ok := r.find(srvXIPG, testAPI, targetConns); ok {
		t.Measured, t.Value = true, fmt.Sprintf("%.2f ms", x.Latency.P99ms)
	}
	return append(out, t,
		info(r.compare("PostgreSQL: landing page vs trivial handler (16 conns)", testPage, srvXIPG, srvCeiling, 0, true)))
}

// judge checks every target it has the figures for.
func judge(r *results, o options) []targetCheck {
	out := []targetCheck{
		r.compare("invite creation vs ceiling + group fdatasync (16 conns)", testAPI, srvXI, srvSynced, targetVsSynced, true),
		r.compare("invite creation vs Prosody mod_invites_api (16 conns)", testAPI, srvXI, srvProsody, targetVsProsody, false),
	}
	t := targetCheck{Name: "invite creation p99 latency (16 conns)", Limit: fmt.Sprintf("<= %.0f ms", targetP99Ms)}
	if xi, ok := r.find(srvXI, testAPI, targetConns); ok {
		t.Measured, t.Pass = true, xi.Latency.P99ms <= targetP99Ms && xi.Errors == 0
		t.Value = fmt.Sprintf("%.2f ms", xi.Latency.P99ms)
	}
	out = append(out, t,
		r.compare("landing page vs trivial handler (16 conns)", testPage, srvXI, srvCeiling, targetPageCeiling, true))

	t = targetCheck{Name: fmt.Sprintf("xmpp-invites RSS after %d invites", o.invites), Limit: "<= 30 MB (30,000,000 bytes)"}
	if m := r.RSSAtInvites; m != nil && r.InvitesAtRSS >= o.invites {
		t.Measured, t.Pass = true, m.RSS <= targetRSSBytes
		t.Value = fmt.Sprintf("%s (%d invites; peak %s)", mb(m.RSS), r.InvitesAtRSS, mb(m.HWM))
	}
	out = append(out, t)

	t = targetCheck{Name: fmt.Sprintf("serve ready with %d invites (slowest of %d)", o.seed, len(r.Startup)), Limit: "< 1 s"}
	if len(r.Startup) > 0 {
		worst := 0.0
		for _, s := range r.Startup {
			worst = max(worst, s.ReadyMs)
		}
		t.Measured, t.Pass = true, worst < targetReadyMs
		t.Value = fmt.Sprintf("%.0f ms", worst)
	}
	out = append(out, t)

	t = targetCheck{Name: "list, count, lookup and purge queries indexed", Limit: "no table scan"}
	if len(r.Plans) > 0 {
		var bad []string
		for _, p := range r.Plans {
			if !p.Indexed {
				bad = append(bad, p.Name)
			}
		}
		t.Measured, t.Pass = true, len(bad) == 0
		t.Value = fmt.Sprintf("%d of %d indexed", len(r.Plans)-len(bad), len(r.Plans))
		if len(bad) > 0 {
			t.Value += "; scans: " + strings.Join(bad, ", ")
		}
	}
	return append(append(out, t), pgInfo(r)...)
}

// mb formats bytes as MB (10^6) and MiB.
func mb(b int64) string {
	return fmt.Sprintf("%.1f MB (%.1f MiB)", float64(b)/1e6, float64(b)/(1<<20))
}

// printReport writes the plain-text report.
func printReport(w io.Writer, r *results) {
	m := r.Machine
	fmt.Fprintf(w, "invites-bench: xmpp-invites vs a trivial net/http handler vs Prosody %s\n\n", m.Prosody)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "date\t%s\n", r.Date)
	fmt.Fprintf(tw, "machine\t%d CPUs (GOMAXPROCS %d), %s, %s\n", m.CPUs, m.GOMAXPROCS, m.CPU, m.Kernel)
	fmt.Fprintf(tw, "load average at start\t%s\n", m.LoadAvg)
	fmt.Fprintf(tw, "software\t%s; prosody %s; prosody-modules %s\n", m.Go, m.Prosody, m.Modules)
	fs := r.FS
	fmt.Fprintf(tw, "database directory\t%s\n", fs.Dir)
	fmt.Fprintf(tw, "file system\t%s on %s mounted at %s (%s)\n", fs.Type, fs.Source, fs.Mount, fs.Options)
	s := r.Settings
	fmt.Fprintf(tw, "settings\t%s per measurement after %s warm-up; HTTP connections %v; XMPP sessions %v\n", s.Duration, s.Warmup, s.Conns, s.Sessions)
	fmt.Fprintf(tw, "command\tgo run ./cmd/invites-bench %s\n", strings.Join(r.Args, " "))
	tw.Flush()

	fmt.Fprintf(w, "\nDISK: write 4 KiB + fdatasync, in the database directory (%d writes)\n", r.Fsync.Writes)
	l := r.Fsync.Latency
	if l.N > 0 {
		fmt.Fprintf(w, "  p50 %.3f ms   p99 %.3f ms   mean %.3f ms   max %.3f ms\n", l.P50ms, l.P99ms, l.MeanMs, l.MaxMs)
		fmt.Fprintf(w, "  one commit at a time: at most ~%.0f commits/s; group commit multiplies that by the batch size\n", 1000/l.MeanMs)
	}
	if pg := r.Postgres; pg != nil {
		fmt.Fprintf(w, "\nPOSTGRESQL (-database): %s\n", pg.Database)
		fmt.Fprintf(w, "  %s\n", pg.label())
		fmt.Fprintf(w, "  xmpp-invites: each write its own SERIALIZABLE transaction, a round trip per statement; ceiling: one INSERT autocommitted per request\n")
		fmt.Fprintf(w, "  fresh schemas %s and %s_ceiling for this run", pg.Schema, pg.Schema)
		if pg.CPUCounted {
			fmt.Fprintf(w, "; CPU server of its rows counts PostgreSQL's processes too")
		}
		fmt.Fprintln(w)
	}

	printHTTP(w, r, testAPI, "HTTP /invites_api: create an invite (GET /invites_api?key=ID/SECRET, as in mod_invites_api's README; keep-alive, loopback)", "invites/s")
	printHTTP(w, r, testPage, "HTTP landing page GET (xmpp-invites /invite?TOKEN, Prosody /invites_page?TOKEN)", "pages/s")
	printRounds(w, r, testAPI, "invite creation", srvXI, "")
	printRounds(w, r, testPage, "landing page", srvXI, "")
	printRounds(w, r, testAPI, "invite creation", srvXIPG, "on PostgreSQL")
	printRounds(w, r, testPage, "landing page", srvXIPG, "on PostgreSQL")

	if len(r.Checks) > 0 {
		fmt.Fprintf(w, "\nSAMPLE ANSWERS (one request to each server before measuring it)\n")
		for _, k := range slices.Sorted(maps.Keys(r.Checks)) {
			fmt.Fprintf(w, "  %s: %s\n", k, r.Checks[k])
		}
	}

	if len(r.Memory) > 0 {
		fmt.Fprintf(w, "\nMEMORY (/proc/PID/status of each server process)\n")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  process\tVmRSS\tVmHWM (peak)")
		for _, x := range r.Memory {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", x.What, mb(x.RSS), mb(x.HWM))
		}
		tw.Flush()
	}

	if r.Seed != nil {
		fmt.Fprintf(w, "\nSTART-UP with %d invites (%d pending; database %s, seeded in %.1f s; warm page cache)\n",
			r.Seed.Invites, r.Seed.Pending, mb(r.SeedDB), r.Seed.Seconds)
		for i, st := range r.Startup {
			fmt.Fprintf(w, "  run %d: exec to first 200 on /readyz %.0f ms, then VmRSS %s\n", i+1, st.ReadyMs, mb(st.Memory.RSS))
		}
		if len(r.Queries) > 0 {
			fmt.Fprintf(w, "\nQUERIES on that database, through keystore's own methods\n")
			tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			for _, q := range r.Queries {
				fmt.Fprintf(tw, "  %s\t%.2f ms\t%d rows\t(%s)\n", q.Name, q.Ms, q.Rows, q.Detail)
			}
			tw.Flush()
		}
		if len(r.Plans) > 0 {
			fmt.Fprintf(w, "\nQUERY PLANS (EXPLAIN QUERY PLAN of keystore's statements, no ANALYZE, as in production)\n")
			for _, p := range r.Plans {
				verdict := "indexed"
				if !p.Indexed {
					verdict = "NOT INDEXED"
				}
				fmt.Fprintf(w, "  %s: %s\n    %s\n", p.Name, verdict, p.SQL)
				for _, line := range p.Plan {
					fmt.Fprintf(w, "    -> %s\n", line)
				}
				if p.Note != "" {
					fmt.Fprintf(w, "    (%s)\n", p.Note)
				}
			}
		}
	}

	if len(r.XMPP) > 0 {
		fmt.Fprintf(w, "\nIN-BAND: XEP-0050 %s executed by admin@%s (one command in flight per session)\n", nodeCreateAccount, benchDomain)
		printTable(w, r.XMPP, "sessions", "commands/s", "CPU servers", "CPU client")
		for i := 0; i+1 < len(r.XMPP); i += 2 {
			a, b := r.XMPP[i], r.XMPP[i+1]
			fmt.Fprintf(w, "  %d sessions: %s / %s = %.2fx\n", a.Conns, b.Server, a.Server, ratio(b.PerSecond, a.PerSecond))
		}
	}

	if len(r.Notes) > 0 {
		fmt.Fprintf(w, "\nNOTES\n")
		for _, n := range r.Notes {
			fmt.Fprintf(w, "  - %s\n", n)
		}
	}

	if len(r.Targets) > 0 {
		fmt.Fprintf(w, "\nTARGETS\n")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  target\tmeasured\tlimit\tresult")
		pass, targets := 0, 0
		for _, t := range r.Targets {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", t.Name, t.Value, t.Limit, t.verdict())
			if !t.Info {
				targets++
			}
			if t.Pass {
				pass++
			}
		}
		tw.Flush()
		fmt.Fprintf(w, "  %d of %d targets pass\n", pass, targets)
	}
}

// printTable prints measurements, then the first error of each that had
// errors and, for xmpp-invites, its group commits.
func printTable(w io.Writer, rows []result, conns, unit, cpuServer, cpuClient string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "server\t%s\t%s\tp50 ms\tp99 ms\tmax ms\terrors\t%s\t%s\tCPU others\t\n", conns, unit, cpuServer, cpuClient)
	for _, h := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.2f\t%.2f\t%.2f\t%d\t%.2f\t%.2f\t%.2f\t\n", h.Server, h.Conns, h.PerSecond,
			h.Latency.P50ms, h.Latency.P99ms, h.Latency.MaxMs, h.Errors, h.CPU.Server, h.CPU.Client, h.CPU.Other)
	}
	tw.Flush()
	for _, h := range rows {
		if h.Errors > 0 {
			fmt.Fprintf(w, "  %s at %d %s: %d errors, first: %s\n", h.Server, h.Conns, conns, h.Errors, h.FirstError)
		}
		if c := h.Commits; c != nil && c.Transactions > 0 {
			kind := "group commits"
			if h.Server == srvXIPG {
				kind = "SERIALIZABLE transactions, retries included"
			}
			fmt.Fprintf(w, "  %s at %d conns: %d %s (warm-up included), %.1f writes each, %.2f ms each from BEGIN to durable COMMIT\n",
				h.Server, h.Conns, c.Transactions, kind, c.WritesPerTx, c.MeanMs)
		}
	}
}

// printHTTP prints one HTTP test's first round and xmpp-invites' share of
// the others at each connection count.
func printHTTP(w io.Writer, r *results, test, title, unit string) {
	var rows []result
	for _, h := range r.HTTP {
		if h.Test == test && h.Round <= 1 {
			rows = append(rows, h)
		}
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s, round 1\n", title)
	printTable(w, rows, "conns", unit, "CPU server", "CPU loadgen")
	for _, c := range r.Settings.Conns {
		for _, who := range []string{srvXI, srvSynced, srvXIPG, srvPGCommit} {
			x, ok := r.find(who, test, c)
			if !ok {
				continue
			}
			var parts []string
			for _, h := range rows {
				if h.Conns == c && slices.Contains(shareRefs[who], h.Server) {
					parts = append(parts, share(x.PerSecond, h.PerSecond, h.Server)+" "+h.Server)
				}
			}
			fmt.Fprintf(w, "  %s at %d conns: %s\n", who, c, strings.Join(parts, ", "))
		}
	}
}

// shareRefs are the servers each server's rate is set beside in printHTTP.
var shareRefs = map[string][]string{
	srvXI:       {srvCeiling, srvSynced, srvProsody, srvProsodyPage, srvStatic},
	srvSynced:   {srvCeiling, srvProsody, srvProsodyPage, srvStatic},
	srvXIPG:     {srvCeiling, srvPGCommit, srvXI, srvProsody, srvProsodyPage},
	srvPGCommit: {srvCeiling, srvSynced},
}

// share formats a as a share of server of's rate b: a multiple of
// Prosody's ("12.0x"), a percentage of the others' ("25.0 % of").
func share(a, b float64, of string) string {
	if strings.HasPrefix(of, "Prosody") {
		return fmt.Sprintf("%.1fx", ratio(a, b))
	}
	return fmt.Sprintf("%.1f %% of", 100*ratio(a, b))
}

// short names servers in the rounds tables.
var short = strings.NewReplacer(srvCeiling, "ceiling", srvSynced, "+fdatasync", srvProsody, "Prosody",
	srvPGCommit, "+PG commit", srvXI, "xmpp-invites", srvXIPG, "xmpp-invites PG")

// printRounds prints a test at targetConns round by round, with the means
// the targets judge, for subject (xmpp-invites on SQLite or on PostgreSQL)
// and the servers it is set beside (shareRefs) measured in every round.
func printRounds(w io.Writer, r *results, test, what, subject, engine string) {
	if r.Rounds < 2 {
		return
	}
	var servers []string
	for _, h := range r.HTTP {
		if _, n, _ := r.mean(h.Server, test); h.Test == test && n == r.Rounds && !slices.Contains(servers, h.Server) &&
			(h.Server == subject || slices.Contains(shareRefs[subject], h.Server)) {
			servers = append(servers, h.Server)
		}
	}
	if !slices.Contains(servers, subject) {
		return
	}
	judged := "the targets judge the means"
	if subject != srvXI {
		judged = "information, no target (xmpp-invites/s: on SQLite)"
	}
	if engine != "" {
		engine = " " + engine
	}
	fmt.Fprintf(w, "\nROUNDS: %s%s at %d conns, each server in turn (round 1 is the measurements above); %s\n", what, engine, targetConns, judged)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "round\t%s/s\t", short.Replace(strings.Join(servers, "/s\t")))
	for _, s := range servers {
		if s != subject {
			fmt.Fprintf(tw, "vs %s\t", short.Replace(s))
		}
	}
	fmt.Fprintf(tw, "%s p99 ms\tmost CPU others\t\n", short.Replace(subject))
	row := func(label string, rate func(server string) float64, p99, others string) {
		fmt.Fprintf(tw, "%s\t", label)
		for _, s := range servers {
			fmt.Fprintf(tw, "%.0f\t", rate(s))
		}
		for _, s := range servers {
			if s != subject {
				fmt.Fprintf(tw, "%s\t", strings.TrimSuffix(share(rate(subject), rate(s), s), " of"))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t\n", p99, others)
	}
	for i := 1; i <= r.Rounds; i++ {
		byServer := map[string]result{}
		others := 0.0
		for _, h := range r.HTTP {
			if h.Test == test && h.Conns == targetConns && max(h.Round, 1) == i && slices.Contains(servers, h.Server) {
				byServer[h.Server] = h
				others = max(others, h.CPU.Other)
			}
		}
		row(strconv.Itoa(i), func(s string) float64 { return byServer[s].PerSecond },
			fmt.Sprintf("%.2f", byServer[subject].Latency.P99ms), fmt.Sprintf("%.2f", others))
	}
	row("mean", func(s string) float64 { m, _, _ := r.mean(s, test); return m }, "", "")
	tw.Flush()
}
