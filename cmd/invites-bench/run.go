package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"mellium.im/xmpp/jid"
)

// results is everything one run measured; printReport and -json read it.
type results struct {
	Date     string        `json:"date"`
	Args     []string      `json:"args"`
	Machine  machine       `json:"machine"`
	FS       filesystem    `json:"filesystem"`
	Settings settings      `json:"settings"`
	Fsync    fsyncResult   `json:"fsync"`
	Store    []storeResult `json:"store"`

	HTTP         []httpResult      `json:"http"`
	Rounds       []round           `json:"rounds,omitempty"`        // invite creation at 16 conns, servers back to back
	LandingBytes int               `json:"landing_bytes,omitempty"` // size of xmpp-invites' landing page
	Checks       map[string]string `json:"checks"`                  // one response of each server, shown before measuring

	Memory       []memoryAt `json:"memory"`
	InvitesAtRSS int        `json:"invites_at_rss"`
	RSSAtInvites *memoryAt  `json:"rss_at_invites,omitempty"` // the figure the RSS target judges

	Seed    *seeded       `json:"seed,omitempty"`
	SeedDB  int64         `json:"seed_db_bytes,omitempty"`
	Startup []startupRun  `json:"startup,omitempty"`
	Queries []queryTiming `json:"queries,omitempty"`
	Plans   []plan        `json:"plans,omitempty"`

	XMPP []xmppResult `json:"xmpp,omitempty"`

	Notes   []string      `json:"notes,omitempty"` // parts not measured, and why
	Targets []targetCheck `json:"targets"`
}

// round is one pass of invite creation at targetConns over each server,
// back to back, then of the landing page over the ceiling and xmpp-invites
// (when the landing page is measured). The first round is the servers'
// first measurements (in res.HTTP); the others come after xmpp-invites'
// memory figures and landing page, while every server is still up.
type round struct {
	Ceiling httpResult  `json:"ceiling"`
	Synced  *httpResult `json:"ceiling_synced,omitempty"` // the ceiling with a group fdatasync
	Prosody *httpResult `json:"prosody,omitempty"`
	XI      httpResult  `json:"xmpp_invites"`

	CeilingPage *httpResult `json:"ceiling_landing,omitempty"`
	XIPage      *httpResult `json:"xmpp_invites_landing,omitempty"`
}

type machine struct {
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPU        string `json:"cpu"`
	Kernel     string `json:"kernel"`
	Go         string `json:"go"`
	Prosody    string `json:"prosody"`
	Modules    string `json:"prosody_modules"`
	LoadAvg    string `json:"loadavg_at_start"`
}

type settings struct {
	Duration      string `json:"duration"`
	Warmup        string `json:"warmup"`
	StoreDuration string `json:"store_duration"`
	Conns         []int  `json:"conns"`
	Sessions      []int  `json:"sessions"`
	Dir           string `json:"dir"`
}

type memoryAt struct {
	What string `json:"what"`
	memory
}

type startupRun struct {
	ReadyMs float64 `json:"ready_ms"`
	Memory  memory  `json:"memory"`
}

// Names used in results.
const (
	srvCeiling = "ceiling (trivial net/http)"
	srvSynced  = "ceiling + group fdatasync"
	srvProsody = "Prosody mod_invites_api"
	srvXI      = "xmpp-invites"
	srvStatic  = "ceiling, static page of the same size"
	testAPI    = "invites_api"
	testPage   = "landing"
)

// run performs the whole benchmark. It returns what it measured so far
// even on error, so a partial report can be printed.
func run(ctx context.Context, o options, log io.Writer) (res *results, err error) {
	logf := func(format string, args ...any) {
		fmt.Fprintf(log, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	res = &results{
		Date:    time.Now().UTC().Format(time.RFC3339),
		Args:    os.Args[1:],
		Machine: machineFacts(ctx),
		Checks:  map[string]string{},
		Settings: settings{Duration: o.duration.String(), Warmup: o.warmup.String(),
			StoreDuration: o.storeDuration.String(), Conns: o.conns, Sessions: o.sessions},
	}
	work, err := os.MkdirTemp(o.dir, "invites-bench-")
	if err != nil {
		return res, err
	}
	res.Settings.Dir = work
	if o.keep {
		logf("work directory %s (kept)", work)
	}
	var ps procs
	defer func() {
		ps.stopAll() // every child, by PID, before their directory goes
		if !o.keep {
			os.RemoveAll(work)
		}
		// Judge what was measured, also after an error: a partial report
		// still says which targets it could check.
		res.Notes = append(res.Notes, interference(res)...)
		res.Notes = append(res.Notes, syncedBound(res)...)
		res.Targets = judge(res, o)
	}()
	if res.FS, err = statFS(work); err != nil {
		return res, err
	}
	if res.FS.Volatile {
		res.Notes = append(res.Notes, fmt.Sprintf("%s is on %s: fsync proves nothing there; rerun with -dir on a disk", work, res.FS.Type))
	}

	logf("fsync latency in %s (%s)", work, res.FS.Type)
	if res.Fsync, err = measureFsync(ctx, work, 3*time.Second, 3000); err != nil {
		return res, err
	}

	if !o.skip["store"] {
		for _, mode := range []string{"FULL", "NORMAL"} {
			for _, w := range []int{1, 16} {
				logf("keystore.CreateInvite in-process, synchronous=%s, %d writers", mode, w)
				r, err := measureStore(ctx, work, mode, w, o.storeDuration/4, o.storeDuration)
				if err != nil {
					return res, err
				}
				res.Store = append(res.Store, r)
			}
		}
	}

	bin := o.xmppInvites
	if bin == "" {
		logf("go build ./cmd/xmpp-invites")
		if bin, err = buildXMPPInvites(ctx, work); err != nil {
			return res, err
		}
	}

	// 1. The ceiling.
	ceil, err := runCeilingPart(ctx, &ps, o, work, res, logf)
	if err != nil {
		return res, err
	}

	// 2. Prosody. It stays up for the in-band comparison at the end.
	var pros *prosody
	if !o.skip["prosody"] {
		pros, err = runProsodyPart(ctx, &ps, o, work, res, logf)
		if err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			res.Notes = append(res.Notes, "Prosody not measured: "+firstLine(err.Error()))
			logf("Prosody not measured: %v", err)
			pros = nil
		}
	}

	// 3. xmpp-invites on a fresh database.
	if err := runXIPart(ctx, &ps, o, bin, work, ceil, pros, res, logf); err != nil {
		return res, err
	}
	ceil.proc.stop()

	// 4. Start-up, queries and plans on a large database.
	if !o.skip["seed"] {
		if err := runSeedPart(ctx, &ps, o, bin, work, res, logf); err != nil {
			return res, err
		}
	}

	// 5. In-band: ad-hoc commands through Prosody.
	if !o.skip["adhoc"] && pros != nil {
		if err := runAdhocPart(ctx, &ps, o, bin, work, pros, res, logf); err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			res.Notes = append(res.Notes, "in-band comparison incomplete: "+firstLine(err.Error()))
			logf("in-band comparison incomplete: %v", err)
		}
	}
	return res, nil
}

// busyOthers is how much CPU other processes may use during a measurement
// before the report warns that the figures are disturbed.
const busyOthers = 0.15

// interference warns about measurements during which other processes on the
// machine used CPU: on 2 cores, anything else running shifts every ratio.
func interference(res *results) []string {
	worst, where := 0.0, ""
	for _, h := range res.HTTP {
		if h.CPU.Other > worst {
			worst, where = h.CPU.Other, fmt.Sprintf("%s %s at %d conns", h.Server, h.Test, h.Conns)
		}
	}
	for i, rd := range res.Rounds {
		for _, h := range []*httpResult{&rd.Ceiling, rd.Synced, rd.Prosody, &rd.XI, rd.CeilingPage, rd.XIPage} {
			if h != nil && h.CPU.Other > worst {
				worst, where = h.CPU.Other, fmt.Sprintf("%s %s in round %d", h.Server, h.Test, i+1)
			}
		}
	}
	for _, x := range res.XMPP {
		if x.CPU.Other > worst {
			worst, where = x.CPU.Other, fmt.Sprintf("%s at %d sessions", x.Server, x.Sessions)
		}
	}
	if worst < busyOthers {
		return nil
	}
	return []string{fmt.Sprintf("other processes used up to %.2f cores during the measurements (%s): figures are disturbed; rerun on a quiet machine", worst, where)}
}

type logFunc func(format string, args ...any)

// measureAll runs t at every connection count and appends the results.
func measureAll(ctx context.Context, o options, res *results, server, test string, t target, p *proc, logf logFunc) error {
	for _, c := range o.conns {
		logf("%s %s, %d connections", server, test, c)
		r, err := measureOne(ctx, o, server, test, t, c, p, logf)
		if err != nil {
			return err
		}
		res.HTTP = append(res.HTTP, r)
	}
	return nil
}

// measureOne runs t at conns connections, with the CPU of the server
// process p and, for xmpp-invites, its group commits.
func measureOne(ctx context.Context, o options, server, test string, t target, conns int, p *proc, logf logFunc) (httpResult, error) {
	var commitsBefore commitSample
	if t.MetricsURL != "" {
		var err error
		if commitsBefore, err = readCommits(ctx, t.MetricsURL); err != nil {
			return httpResult{}, fmt.Errorf("%s: %w", server, err)
		}
	}
	before := sampleCPU(p.pid())
	r, err := measure(ctx, t, conns, o.warmup, o.duration)
	if err != nil {
		return httpResult{}, fmt.Errorf("%s %s: %w", server, test, err)
	}
	r.CPU = sampleCPU(p.pid()).since(before)
	if t.MetricsURL != "" {
		after, err := readCommits(ctx, t.MetricsURL)
		if err != nil {
			return httpResult{}, fmt.Errorf("%s: %w", server, err)
		}
		r.Commits = after.since(commitsBefore)
	}
	r.Server, r.Test = server, test
	if r.Errors > 0 {
		logf("  %d errors, first: %s", r.Errors, r.FirstError)
	}
	return r, nil
}

// measureRounds measures invite creation at targetConns o.rounds times in
// all: the first round is the measurements already made, each further one
// measures the ceiling, the ceiling with a group fdatasync, Prosody (each
// when it was measured in the first round) and xmpp-invites back to back,
// then the landing page on the ceiling and on xmpp-invites (xiPage, when the
// landing page was measured). The host's speed drifts by tens of percent
// within minutes, and a ratio between two measurements minutes apart
// carries that drift; rounds spread it over the pairs. xmpp-invites' first
// round runs on a fresh database, the others on one that already holds
// -invites (100,000) invites, as do Prosody's.
func measureRounds(ctx context.Context, o options, res *results, ceil *ceilingServer, pros *prosody,
	xiAPI target, xiPage *target, xiProc *proc, logf logFunc) error {
	if o.rounds < 2 || !contains(o.conns, targetConns) {
		return nil
	}
	first := round{}
	var ok bool
	if first.Ceiling, ok = res.find(srvCeiling, testAPI, targetConns); !ok {
		return nil
	}
	if first.XI, ok = res.find(srvXI, testAPI, targetConns); !ok {
		return nil
	}
	if sy, ok := res.find(srvSynced, testAPI, targetConns); ok {
		first.Synced = &sy
	}
	if pr, ok := res.find(srvProsody, testAPI, targetConns); ok && pros != nil {
		first.Prosody = &pr
	}
	if xiPage != nil {
		cp, okC := res.find(srvCeiling, testPage, targetConns)
		xp, okX := res.find(srvXI, testPage, targetConns)
		if okC && okX {
			first.CeilingPage, first.XIPage = &cp, &xp
		}
	}
	res.Rounds = append(res.Rounds, first)
	for i := 2; i <= o.rounds; i++ {
		var r round
		var err error
		logf("round %d of %d: invite creation at %d connections, each server in turn", i, o.rounds, targetConns)
		if r.Ceiling, err = measureOne(ctx, o, srvCeiling, testAPI, ceilingAPI(ceil.base), targetConns, ceil.proc, logf); err != nil {
			return err
		}
		if first.Synced != nil {
			sy, err := measureOne(ctx, o, srvSynced, testAPI, ceilingSyncedAPI(ceil.base), targetConns, ceil.proc, logf)
			if err != nil {
				return err
			}
			r.Synced = &sy
		}
		if first.Prosody != nil {
			pr, err := measureOne(ctx, o, srvProsody, testAPI, pros.api, targetConns, pros.proc, logf)
			if err != nil {
				return err
			}
			r.Prosody = &pr
		}
		if r.XI, err = measureOne(ctx, o, srvXI, testAPI, xiAPI, targetConns, xiProc, logf); err != nil {
			return err
		}
		if first.XIPage != nil {
			logf("round %d of %d: landing page at %d connections, the ceiling then xmpp-invites", i, o.rounds, targetConns)
			cp, err := measureOne(ctx, o, srvCeiling, testPage, ceilingPage(ceil.base), targetConns, ceil.proc, logf)
			if err != nil {
				return err
			}
			xp, err := measureOne(ctx, o, srvXI, testPage, *xiPage, targetConns, xiProc, logf)
			if err != nil {
				return err
			}
			r.CeilingPage, r.XIPage = &cp, &xp
		}
		res.Rounds = append(res.Rounds, r)
	}
	return nil
}

// ceilingServer is the running trivial handler.
type ceilingServer struct {
	base string
	proc *proc
}

// runCeilingPart measures the trivial handler. It stays up (idle) for the
// size-matched static page measured after xmpp-invites' landing page.
func runCeilingPart(ctx context.Context, ps *procs, o options, work string, res *results, logf logFunc) (*ceilingServer, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	// The synced handler's file sits beside the databases, on the disk
	// being measured.
	p, err := ps.start("ceiling", work, filepath.Join(work, "ceiling.log"), childEnv(work), self, "-ceiling", addr,
		filepath.Join(work, "ceiling-sync"))
	if err != nil {
		return nil, err
	}
	if _, err := waitFor(p, 10*time.Second, 5*time.Millisecond, func() bool {
		return httpReady("http://"+addr+"/readyz", "", http.StatusOK)
	}); err != nil {
		return nil, err
	}
	if err := measureCeiling(ctx, o, res, addr, p, logf); err != nil {
		return nil, err
	}
	return &ceilingServer{base: "http://" + addr, proc: p}, nil
}

// ceilingAPI is the ceiling's stand-in for /invites_api, at base.
func ceilingAPI(base string) target {
	return target{Method: http.MethodGet, URL: base + "/invites_api?key=ceiling/ceiling", Want: http.StatusCreated}
}

// ceilingSyncedAPI is the same, answering after a group fdatasync.
func ceilingSyncedAPI(base string) target {
	return target{Method: http.MethodGet, URL: base + "/invites_api_synced?key=ceiling/ceiling", Want: http.StatusCreated}
}

// ceilingPage is the ceiling's stand-in for the landing page, at base.
func ceilingPage(base string) target {
	return target{Method: http.MethodGet, URL: base + "/invite?AAAAAAAAAAAAAAAAAAAAAAAA", Want: http.StatusOK}
}

func measureCeiling(ctx context.Context, o options, res *results, addr string, p *proc, logf logFunc) error {
	api := ceilingAPI("http://" + addr)
	if err := measureAll(ctx, o, res, srvCeiling, testAPI, api, p, logf); err != nil {
		return err
	}
	if !o.skip["synced"] {
		if err := measureAll(ctx, o, res, srvSynced, testAPI, ceilingSyncedAPI("http://"+addr), p, logf); err != nil {
			return err
		}
	}
	if !o.skip["landing"] {
		if err := measureAll(ctx, o, res, srvCeiling, testPage, ceilingPage("http://"+addr), p, logf); err != nil {
			return err
		}
	}
	return recordMemory(res, p, "ceiling after its load")
}

func recordMemory(res *results, p *proc, what string) error {
	m, err := readMemory(p.pid())
	if err != nil {
		return err
	}
	res.Memory = append(res.Memory, memoryAt{What: what, memory: m})
	return nil
}

func runProsodyPart(ctx context.Context, ps *procs, o options, work string, res *results, logf logFunc) (*prosody, error) {
	dir := filepath.Join(work, "prosody")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, err
	}
	logf("starting Prosody %s", res.Machine.Prosody)
	pros, err := startProsody(ctx, ps, dir)
	if err != nil {
		return nil, err
	}
	key, err := pros.createKey(ctx, "bench")
	if err != nil {
		return nil, err
	}
	api := target{Method: http.MethodGet, URL: pros.base() + "/invites_api?key=" + url.QueryEscape(key), Host: benchDomain,
		Want: http.StatusCreated}
	resp, _, err := once(ctx, api)
	if err != nil {
		return nil, fmt.Errorf("mod_invites_api does not create invites: %w\n%s", err, tailFile(filepath.Join(dir, "prosody.log")))
	}
	loc := resp.Header.Get("Location")
	res.Checks[srvProsody] = fmt.Sprintf("%s; Location: %s", resp.Status, redactToken(loc))
	logf("Prosody answered %s", res.Checks[srvProsody])
	if err := measureAll(ctx, o, res, srvProsody, testAPI, api, pros.proc, logf); err != nil {
		return nil, err
	}
	pros.api = api
	if !o.skip["landing"] {
		// mod_invites_page's landing URL, fetched on the loopback port.
		u, err := url.Parse(loc)
		if err != nil || u.RawQuery == "" {
			return nil, fmt.Errorf("mod_invites_api gave no landing page URL (Location %q)", loc)
		}
		page := target{Method: http.MethodGet, URL: pros.base() + u.Path + "?" + u.RawQuery, Host: benchDomain, Want: http.StatusOK}
		if _, _, err := once(ctx, page); err != nil {
			return nil, fmt.Errorf("mod_invites_page: %w", err)
		}
		if err := measureAll(ctx, o, res, "Prosody mod_invites_page", testPage, page, pros.proc, logf); err != nil {
			return nil, err
		}
	}
	if err := recordMemory(res, pros.proc, "Prosody after its load"); err != nil {
		return nil, err
	}
	return pros, nil
}

func runXIPart(ctx context.Context, ps *procs, o options, bin, work string, ceil *ceilingServer, pros *prosody,
	res *results, logf logFunc) error {
	x, err := newXI(bin, work, xiOptions{Name: "xmpp-invites"})
	if err != nil {
		return err
	}
	logf("starting xmpp-invites serve on a fresh database")
	p, ready, err := x.serve(ps, "xmpp-invites")
	if err != nil {
		return err
	}
	defer p.stop()
	logf("  ready after %v", ready.Round(time.Millisecond))
	key, err := x.createKey(ctx, "bench")
	if err != nil {
		return err
	}
	api := target{Method: http.MethodGet, URL: x.base() + "/invites_api?key=" + url.QueryEscape(key), Want: http.StatusCreated,
		MetricsURL: x.adminBase() + "/metrics"}
	resp, body, err := once(ctx, api)
	if err != nil {
		return fmt.Errorf("xmpp-invites /invites_api does not create invites: %w\n%s", err, p.tail())
	}
	res.Checks[srvXI] = fmt.Sprintf("%s; Location: %s", resp.Status, redactToken(resp.Header.Get("Location")))
	logf("xmpp-invites answered %s", res.Checks[srvXI])
	var created struct {
		LandingURL string `json:"landing_url"`
	}
	if err := json.Unmarshal(body, &created); err != nil || created.LandingURL == "" {
		return fmt.Errorf("xmpp-invites /invites_api: no landing_url in %q", body)
	}
	if err := measureAll(ctx, o, res, srvXI, testAPI, api, p, logf); err != nil {
		return err
	}

	n, err := countInvites(ctx, x.db)
	if err != nil {
		return err
	}
	if n < o.invites {
		logf("filling the database from %d to %d invites (16 connections)", n, o.invites)
		if _, err := fill(ctx, api, 16, o.invites-n, 5*time.Minute); err != nil {
			return fmt.Errorf("fill to %d invites: %w", o.invites, err)
		}
		if n, err = countInvites(ctx, x.db); err != nil {
			return err
		}
	}
	res.InvitesAtRSS = n
	if err := recordMemory(res, p, fmt.Sprintf("xmpp-invites with %d invites stored", n)); err != nil {
		return err
	}
	res.RSSAtInvites = &res.Memory[len(res.Memory)-1]

	var page *target
	if !o.skip["landing"] {
		page = &target{Method: http.MethodGet, URL: created.LandingURL, Want: http.StatusOK}
		_, body, err := once(ctx, *page)
		if err != nil {
			return fmt.Errorf("xmpp-invites landing page: %w", err)
		}
		if err := measureAll(ctx, o, res, srvXI, testPage, *page, p, logf); err != nil {
			return err
		}
		if err := recordMemory(res, p, "xmpp-invites after the landing page load"); err != nil {
			return err
		}
		res.LandingBytes = len(body)
		static := target{Method: http.MethodGet, URL: fmt.Sprintf("%s/static?bytes=%d", ceil.base, len(body)), Want: http.StatusOK}
		if err := measureAll(ctx, o, res, srvStatic, testPage, static, ceil.proc, logf); err != nil {
			return err
		}
	}
	// The rounds come last, after the memory figures: they add invites.
	if err := measureRounds(ctx, o, res, ceil, pros, api, page, p, logf); err != nil {
		return err
	}
	p.stop()
	if p.err != nil {
		res.Notes = append(res.Notes, fmt.Sprintf("xmpp-invites serve exited with %v after SIGTERM", p.err))
	}
	return nil
}

func runSeedPart(ctx context.Context, ps *procs, o options, bin, work string, res *results, logf logFunc) error {
	path := filepath.Join(work, "seeded.db")
	logf("seeding %d invites into %s", o.seed, path)
	s, err := seedDB(ctx, path, o.seed)
	if err != nil {
		return err
	}
	res.Seed = &s
	if fi, err := os.Stat(path); err == nil {
		res.SeedDB = fi.Size()
	}
	logf("  seeded in %v", s.took.Round(time.Millisecond))
	x, err := newXI(bin, work, xiOptions{Name: "xmpp-invites-seeded", DB: path})
	if err != nil {
		return err
	}
	for i := range o.startups {
		logf("serve start-up on %d invites, run %d", o.seed, i+1)
		p, ready, err := x.serve(ps, fmt.Sprintf("xmpp-invites-seeded-%d", i+1))
		if err != nil {
			return err
		}
		m, err := readMemory(p.pid())
		p.stop()
		if err != nil {
			return err
		}
		res.Startup = append(res.Startup, startupRun{ReadyMs: ms(ready), Memory: m})
	}
	logf("query plans and keystore query times on the seeded database")
	if res.Plans, err = explain(ctx, path, s); err != nil {
		return err
	}
	if res.Queries, err = timeQueries(ctx, path, s); err != nil {
		return err
	}
	return nil
}

func runAdhocPart(ctx context.Context, ps *procs, o options, bin, work string, pros *prosody, res *results, logf logFunc) error {
	if err := pros.register(ctx, prosodyAdmin, prosodyAdminPwd); err != nil {
		return err
	}
	admin := prosodyAdmin + "@" + benchDomain
	x, err := newXI(bin, work, xiOptions{Name: "xmpp-invites-component",
		ComponentServer: pros.componentAddr(), ComponentSecret: pros.componentSecret, Admins: []string{admin}})
	if err != nil {
		return err
	}
	logf("starting xmpp-invites serve with its component attached to Prosody")
	p, _, err := x.serve(ps, "xmpp-invites-component")
	if err != nil {
		return err
	}
	defer p.stop()
	if _, err := waitFor(p, 15*time.Second, 20*time.Millisecond, func() bool { return x.componentState() == "up" }); err != nil {
		return fmt.Errorf("component link not up: %w", err)
	}

	maxSessions := 0
	for _, s := range o.sessions {
		maxSessions = max(maxSessions, s)
	}
	var clients []*xmppClient
	defer func() {
		for _, c := range clients {
			c.close()
		}
	}()
	for range maxSessions {
		// Cancelled at the end of this part, not right after login: see
		// measureCommands on mellium's deadline watchers.
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		c, err := login(lctx, pros.c2sAddr(), prosodyAdmin, prosodyAdminPwd)
		if err != nil {
			return err
		}
		clients = append(clients, c)
	}
	targets := []struct {
		server    string
		to        jid.JID
		component bool
	}{
		{"Prosody mod_invites_adhoc", jid.MustParse(benchDomain), false},
		{"xmpp-invites component", jid.MustParse("invites." + benchDomain), true},
	}
	for _, t := range targets {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		r, err := clients[0].execute(cctx, t.to)
		cancel()
		// Let mellium's write-deadline watcher of that command see the
		// cancellation before the next write (see measureCommands).
		time.Sleep(10 * time.Millisecond)
		if err != nil {
			return fmt.Errorf("%s: create-account command: %w\n%s", t.server, err, p.tail())
		}
		res.Checks[t.server] = fmt.Sprintf("status=%s landing-url=%s", r.Status, redactToken(r.field("landing-url")))
		logf("%s answered %s", t.server, res.Checks[t.server])
	}
	for _, n := range o.sessions {
		for _, t := range targets {
			logf("%s create-account, %d sessions", t.server, n)
			// Server CPU: Prosody's, plus the component's when it answers.
			pids := []int{pros.proc.pid()}
			if t.component {
				pids = append(pids, p.pid())
			}
			before := sampleCPU(pids...)
			r, err := measureCommands(ctx, clients[:n], t.to, o.warmup, o.duration)
			if err != nil {
				return err
			}
			r.CPU = sampleCPU(pids...).since(before)
			r.Server = t.server
			if r.Errors > 0 {
				logf("  %d errors, first: %s", r.Errors, r.FirstError)
			}
			res.XMPP = append(res.XMPP, r)
		}
	}
	return recordMemory(res, p, "xmpp-invites with the component, after the ad-hoc load")
}

// machineFacts collects what the figures depend on.
func machineFacts(ctx context.Context) machine {
	m := machine{
		CPUs:       runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		Go:         runtime.Version(),
		Prosody:    packageVersion(ctx, "prosody"),
		Modules:    packageVersion(ctx, "prosody-modules"),
		CPU:        "unknown",
	}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(data))
	}
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(data))
		if len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	return m
}

// firstLine keeps notes in the report to one line; the progress log on
// stderr has the whole message with the server's log tail.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// redactToken replaces the query of an invite URL, which carries the
// token, with TOKEN: the sample answers go to the log and the report, and
// tokens go to neither, even those of a benchmark's throwaway database.
func redactToken(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i+1] + "TOKEN"
	}
	return u
}
