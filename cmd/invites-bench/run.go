package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/procfs"
	"mellium.im/xmpp/jid"

	"xmpp-invites/internal/xmpptest"
	"xmpp-invites/keystore"
)

// results is everything one run measured; printReport and -json read it.
type results struct {
	Date     string      `json:"date"`
	Args     []string    `json:"args"`
	Machine  machine     `json:"machine"`
	FS       filesystem  `json:"filesystem"`
	Settings settings    `json:"settings"`
	Fsync    fsyncResult `json:"fsync"`

	// HTTP holds every HTTP measurement: round 1 at every connection
	// count, the further rounds at targetConns.
	HTTP         []result          `json:"http"`
	Rounds       int               `json:"rounds"`
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

	XMPP []result `json:"xmpp,omitempty"` // Conns is client sessions

	// Postgres is the server of -database; its measurements are in HTTP
	// under srvXIPG and srvPGCommit.
	Postgres *pgFacts `json:"postgres,omitempty"`

	Notes   []string      `json:"notes,omitempty"` // parts not measured, and why
	Targets []targetCheck `json:"targets"`
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
	Duration string `json:"duration"`
	Warmup   string `json:"warmup"`
	Conns    []int  `json:"conns"`
	Sessions []int  `json:"sessions"`
	Dir      string `json:"dir"`
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
	srvCeiling     = "ceiling (trivial net/http)"
	srvSynced      = "ceiling + group fdatasync"
	srvProsody     = "Prosody mod_invites_api"
	srvProsodyPage = "Prosody mod_invites_page"
	srvXI          = "xmpp-invites (SQLite)"
	srvXIPG        = "xmpp-invites (PostgreSQL)"
	srvPGCommit    = "ceiling + PostgreSQL commit"
	srvStatic      = "ceiling, static page of the same size"
	testAPI        = "invites_api"
	testPage       = "landing"
)

// prosodyAdmin is the account that runs Prosody's and the component's
// create-account commands.
const (
	prosodyAdmin    = "admin"
	prosodyAdminPwd = "bench-admin-password"
)

// test is one kind of request to one server under test.
type test struct {
	server, name string
	target
	pid     int    // the server's process, for its CPU
	pg      int    // the PostgreSQL postmaster it uses, whose processes' CPU is the server's too
	metrics string // xmpp-invites' /metrics, for its group commits
	rounds  bool   // measured again in every round
}

// bench is one run in progress.
type bench struct {
	o     options
	res   *results
	work  string
	bin   string
	stops []func() // stop every server started, newest first
	log   io.Writer

	ceilingBase string // the trivial handler's http://ADDR
	ceilingPID  int
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// run performs the whole benchmark. It returns what it measured so far
// even on error, so a partial report can be printed.
func run(ctx context.Context, o options, log io.Writer) (*results, error) {
	b := &bench{o: o, log: log, res: &results{
		Date:     time.Now().UTC().Format(time.RFC3339),
		Args:     redactArgs(os.Args[1:]),
		Machine:  machineFacts(ctx),
		Checks:   map[string]string{},
		Settings: settings{Duration: o.duration.String(), Warmup: o.warmup.String(), Conns: o.conns, Sessions: o.sessions},
	}}
	err := b.run(ctx)
	for i := len(b.stops) - 1; i >= 0; i-- {
		b.stops[i]() // every child, by PID, before their directory goes
	}
	if b.work != "" && !o.keep {
		os.RemoveAll(b.work)
	}
	// Judge what was measured, also after an error: a partial report still
	// says which targets it could check.
	b.res.Notes = append(b.res.Notes, interference(b.res)...)
	b.res.Targets = judge(b.res, o)
	return b.res, err
}

func (b *bench) run(ctx context.Context) (err error) {
	res := b.res
	if b.work, err = os.MkdirTemp(b.o.dir, "invites-bench-"); err != nil {
		return err
	}
	res.Settings.Dir = b.work
	if b.o.keep {
		b.logf("work directory %s (kept)", b.work)
	}
	if res.FS, err = statFS(b.work); err != nil {
		return err
	}
	if res.FS.Volatile {
		res.Notes = append(res.Notes, fmt.Sprintf("%s is on %s: fsync proves nothing there; rerun with -dir on a disk", b.work, res.FS.Type))
	}
	b.logf("fsync latency in %s (%s)", b.work, res.FS.Type)
	if res.Fsync, err = measureFsync(ctx, b.work, 3*time.Second, 3000); err != nil {
		return err
	}
	if b.bin = b.o.xmppInvites; b.bin == "" {
		b.logf("go build ./cmd/xmpp-invites")
		if b.bin, err = buildXMPPInvites(ctx, b.work); err != nil {
			return err
		}
	}

	var pg *pgSetup
	if b.o.database != "" {
		if pg, err = b.startPostgres(ctx); err != nil {
			return err
		}
	}

	// Every server is up from here to the end of the rounds, each a
	// process of its own, and answers one request before it is measured.
	ceiling, err := b.startCeiling(ctx, pg)
	if err != nil {
		return err
	}
	var pros *xmpptest.Server
	var prosTests []test
	if !b.o.skip["prosody"] {
		if pros, prosTests, err = b.startProsody(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			res.Notes = append(res.Notes, "Prosody not measured: "+firstLine(err.Error()))
			b.logf("Prosody not measured: %v", err)
			pros, prosTests = nil, nil
		}
	}
	xi, xiTests, fillDB, err := b.startXI(ctx, nil)
	if err != nil {
		return err
	}
	var xiPG *xmpptest.Process
	if pg != nil {
		var pgTests []test
		var fillPG func() error
		if xiPG, pgTests, fillPG, err = b.startXI(ctx, pg); err != nil {
			return err
		}
		xiTests = append(xiTests, pgTests...)
		fillSQLite := fillDB
		fillDB = func() error { return errors.Join(fillSQLite(), fillPG()) }
	}

	// Round 1: invite creation on every server at every connection count,
	// the memory figures, then the landing pages.
	tests := append(append(ceiling, prosTests...), xiTests...)
	for _, t := range tests {
		if t.name == testAPI {
			if err := b.measureAll(ctx, t); err != nil {
				return err
			}
		}
	}
	if err := fillDB(); err != nil {
		return err
	}
	if !b.o.skip["landing"] {
		for _, t := range tests {
			if t.name == testPage {
				if err := b.measureAll(ctx, t); err != nil {
					return err
				}
			}
		}
		if err := b.recordMemory(xi.PID(), "xmpp-invites after the landing page load"); err != nil {
			return err
		}
		if xiPG != nil {
			if err := b.recordMemory(xiPG.PID(), "xmpp-invites on PostgreSQL after the landing page load"); err != nil {
				return err
			}
		}
	}
	// Further rounds: the host's speed drifts by tens of percent within
	// minutes, and a ratio of two figures taken minutes apart carries that
	// drift; servers measured back to back in several rounds spread it.
	res.Rounds = 1
	if contains(b.o.conns, targetConns) {
		for r := 2; r <= b.o.rounds; r++ {
			b.logf("round %d of %d at %d connections, each server in turn", r, b.o.rounds, targetConns)
			for _, name := range []string{testAPI, testPage} {
				for _, t := range tests {
					if t.rounds && t.name == name && !(name == testPage && b.o.skip["landing"]) {
						if err := b.measure(ctx, t, targetConns, r); err != nil {
							return err
						}
					}
				}
			}
			res.Rounds = r
		}
	}
	if err := b.recordMemory(b.ceilingPID, "ceiling after its load"); err != nil {
		return err
	}
	if pros != nil {
		if err := b.recordMemory(pros.PID(), "Prosody after its load"); err != nil {
			return err
		}
	}
	xi.Stop(stopTimeout)
	if err := xi.Err(); err != nil {
		res.Notes = append(res.Notes, fmt.Sprintf("xmpp-invites serve exited with %v after SIGTERM", err))
	}
	if xiPG != nil {
		xiPG.Stop(stopTimeout)
		if err := xiPG.Err(); err != nil {
			res.Notes = append(res.Notes, fmt.Sprintf("xmpp-invites serve on PostgreSQL exited with %v after SIGTERM", err))
		}
	}

	if !b.o.skip["seed"] {
		if err := b.seedPart(ctx); err != nil {
			return err
		}
	}
	if !b.o.skip["adhoc"] && pros != nil {
		if err := b.adhocPart(ctx, pros); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			res.Notes = append(res.Notes, "in-band comparison incomplete: "+firstLine(err.Error()))
			b.logf("in-band comparison incomplete: %v", err)
		}
	}
	return nil
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
			worst, where = h.CPU.Other, fmt.Sprintf("%s %s at %d conns in round %d", h.Server, h.Test, h.Conns, h.Round)
		}
	}
	for _, h := range res.XMPP {
		if h.CPU.Other > worst {
			worst, where = h.CPU.Other, fmt.Sprintf("%s %s at %d sessions", h.Server, h.Test, h.Conns)
		}
	}
	if worst < busyOthers {
		return nil
	}
	return []string{fmt.Sprintf("other processes used up to %.2f cores during the measurements (%s): figures are disturbed; rerun on a quiet machine", worst, where)}
}

// measureAll measures t at every connection count, in round 1.
func (b *bench) measureAll(ctx context.Context, t test) error {
	for _, c := range b.o.conns {
		if err := b.measure(ctx, t, c, 1); err != nil {
			return err
		}
	}
	return nil
}

// measure drives t at conns connections, with the CPU of its server and,
// for xmpp-invites, its group commits.
func (b *bench) measure(ctx context.Context, t test, conns, round int) error {
	b.logf("%s %s, %d connections", t.server, t.name, conns)
	var commits commitSample
	var err error
	if t.metrics != "" {
		if commits, err = readCommits(ctx, t.metrics); err != nil {
			return fmt.Errorf("%s: %w", t.server, err)
		}
	}
	// A PostgreSQL server's processes are read again at the end: the
	// pools open backends during the warm-up.
	before := sampleCPU(append([]int{t.pid}, withChildren(t.pg)...)...)
	r, err := measureHTTP(ctx, t.target, conns, b.o.warmup, b.o.duration)
	if err != nil {
		return fmt.Errorf("%s %s: %w", t.server, t.name, err)
	}
	r.CPU = sampleCPU(append([]int{t.pid}, withChildren(t.pg)...)...).since(before)
	if t.metrics != "" {
		after, err := readCommits(ctx, t.metrics)
		if err != nil {
			return fmt.Errorf("%s: %w", t.server, err)
		}
		r.Commits = after.since(commits)
	}
	r.Server, r.Test, r.Round = t.server, t.name, round
	if r.Errors > 0 {
		b.logf("  %d errors, first: %s", r.Errors, r.FirstError)
	}
	b.res.HTTP = append(b.res.HTTP, r)
	return nil
}

func (b *bench) recordMemory(pid int, what string) error {
	m, err := readMemory(pid)
	if err != nil {
		return fmt.Errorf("memory of %s: %w", what, err)
	}
	b.res.Memory = append(b.res.Memory, memoryAt{What: what, memory: m})
	return nil
}

// check sends t's request once and records the answer, token redacted.
func (b *bench) check(ctx context.Context, name string, t target) (*http.Response, []byte, error) {
	resp, body, err := once(ctx, t)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	b.res.Checks[name] = fmt.Sprintf("%s; Location: %s", resp.Status, redactToken(resp.Header.Get("Location")))
	b.logf("%s answered %s", name, b.res.Checks[name])
	return resp, body, nil
}

// startCeiling starts the trivial handler, this binary in its -ceiling
// mode, with its synced handler's file beside the databases, on the disk
// being measured, and with pg its PostgreSQL commit.
func (b *bench) startCeiling(ctx context.Context, pg *pgSetup) ([]test, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	ports, err := xmpptest.FreePorts(1)
	if err != nil {
		return nil, err
	}
	base := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	b.ceilingBase = base
	cmd := exec.Command(self, "-ceiling", strings.TrimPrefix(base, "http://"), filepath.Join(b.work, "ceiling-sync"))
	cmd.Dir, cmd.Env = b.work, childEnv(b.work)
	if pg != nil {
		cmd.Env = append(cmd.Env, envCeilingPG+"="+pg.ceilingURL)
	}
	p, err := xmpptest.StartProcess(cmd, filepath.Join(b.work, "ceiling.log"))
	if err != nil {
		return nil, err
	}
	b.stops = append(b.stops, func() { p.Stop(stopTimeout) })
	b.ceilingPID = p.PID()
	if _, err := p.WaitReady(10*time.Second, 5*time.Millisecond, func() bool {
		_, _, err := once(ctx, target{URL: base + "/readyz", Want: http.StatusOK})
		return err == nil
	}); err != nil {
		return nil, fmt.Errorf("ceiling %w\n%s", err, p.LogTail())
	}
	api := test{server: srvCeiling, name: testAPI, pid: p.PID(), rounds: true,
		target: target{URL: base + "/invites_api?key=ceiling/ceiling", Want: http.StatusCreated}}
	tests := []test{api}
	if !b.o.skip["synced"] {
		synced := api
		synced.server, synced.URL = srvSynced, base+"/invites_api_synced?key=ceiling/ceiling"
		tests = append(tests, synced)
	}
	if pg != nil {
		committed := api
		committed.server, committed.URL, committed.pg = srvPGCommit, base+"/invites_api_pg?key=ceiling/ceiling", pg.postmaster
		tests = append(tests, committed)
	}
	for _, t := range tests {
		if _, _, err := b.check(ctx, t.server, t.target); err != nil {
			return nil, err
		}
	}
	page := api
	page.name, page.target = testPage, target{URL: base + "/invite?AAAAAAAAAAAAAAAAAAAAAAAA", Want: http.StatusOK}
	return append(tests, page), nil
}

// startProsody starts a private Prosody with mod_invites_api,
// mod_invites_page and mod_invites_adhoc on SQLite, as mod_invites_api's
// documentation sets them up, and makes an API key for it.
func (b *bench) startProsody(ctx context.Context) (*xmpptest.Server, []test, error) {
	dir := filepath.Join(b.work, "prosody")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, nil, err
	}
	b.logf("starting Prosody %s", b.res.Machine.Prosody)
	pros, err := xmpptest.New(xmpptest.Prosody, dir, xmpptest.Options{
		Admins:  []string{prosodyAdmin + "@" + benchDomain},
		HTTP:    true,
		Modules: []string{"invites", "invites_api", "invites_page", "invites_adhoc"},
		Config: []string{
			// Info, not the harness's debug: a log line per request would
			// slow Prosody down.
			`log = { { levels = { min = "info" }, to = "file", filename = ` + strconv.Quote(dir+"/prosody.log") + ` } }`,
			`storage = "sql"`,
			`sql = { driver = "SQLite3", database = "prosody.sqlite" }`,
		},
	})
	if err != nil {
		return nil, nil, err
	}
	b.stops = append(b.stops, pros.Stop)
	out, err := pros.Ctl(ctx, "mod_invites_api", "create", benchDomain, "bench")
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	key := strings.TrimSpace(lines[len(lines)-1])
	if err != nil || !strings.Contains(key, "/") || strings.ContainsAny(key, " \t") {
		return nil, nil, fmt.Errorf("prosodyctl mod_invites_api create: %v: %q, want ID/TOKEN", err, out)
	}
	api := test{server: srvProsody, name: testAPI, pid: pros.PID(), rounds: true, target: target{
		URL: "http://" + pros.HTTPAddr + "/invites_api?key=" + url.QueryEscape(key), Host: benchDomain, Want: http.StatusCreated}}
	resp, _, err := b.check(ctx, srvProsody, api.target)
	if err != nil {
		return nil, nil, err
	}
	// mod_invites_page's landing URL, fetched on the loopback port.
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || u.RawQuery == "" {
		return nil, nil, fmt.Errorf("mod_invites_api gave no landing page URL (Location %q)", resp.Header.Get("Location"))
	}
	page := test{server: srvProsodyPage, name: testPage, pid: pros.PID(), target: target{
		URL: "http://" + pros.HTTPAddr + u.Path + "?" + u.RawQuery, Host: benchDomain, Want: http.StatusOK}}
	return pros, []test{api, page}, nil
}

// startXI starts xmpp-invites serve on a fresh database with an API key:
// an SQLite file in the work directory, or pg's schema. fill, called
// after the first round of invite creation, fills its database to
// -invites invites and reads its memory.
func (b *bench) startXI(ctx context.Context, pg *pgSetup) (*xmpptest.Process, []test, func() error, error) {
	name, server, opts, postmaster := "xmpp-invites", srvXI, xiOptions{Name: "xmpp-invites"}, 0
	if pg != nil {
		name, server, postmaster = "xmpp-invites on PostgreSQL", srvXIPG, pg.postmaster
		opts = xiOptions{Name: "xmpp-invites-postgres", DB: pg.url}
	}
	x, err := newXI(b.bin, b.work, opts)
	if err != nil {
		return nil, nil, nil, err
	}
	b.logf("starting %s serve on a fresh database", name)
	p, ready, err := x.serve(opts.Name)
	if err != nil {
		return nil, nil, nil, err
	}
	b.stops = append(b.stops, func() { p.Stop(stopTimeout) })
	b.logf("  ready after %v", ready.Round(time.Millisecond))
	key, err := x.createKey(ctx, "bench")
	if err != nil {
		return nil, nil, nil, err
	}
	api := test{server: server, name: testAPI, pid: p.PID(), pg: postmaster, metrics: x.adminBase() + "/metrics", rounds: true,
		target: target{URL: x.base() + "/invites_api?key=" + url.QueryEscape(key), Want: http.StatusCreated}}
	_, body, err := b.check(ctx, server, api.target)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w\n%s", err, p.LogTail())
	}
	var created struct {
		LandingURL string `json:"landing_url"`
	}
	if err := json.Unmarshal(body, &created); err != nil || created.LandingURL == "" {
		return nil, nil, nil, fmt.Errorf("xmpp-invites /invites_api: no landing_url in %q", body)
	}
	page := test{server: server, name: testPage, pid: p.PID(), pg: postmaster, rounds: true,
		target: target{URL: created.LandingURL, Want: http.StatusOK}}
	_, body, err = once(ctx, page.target)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s landing page: %w", name, err)
	}
	tests := []test{api, page}
	if pg == nil {
		b.res.LandingBytes = len(body)
		// A static page of the same size from the ceiling tells the cost
		// of sending the landing page from the cost of making it.
		tests = append(tests, test{server: srvStatic, name: testPage, pid: b.ceilingPID, target: target{
			URL: fmt.Sprintf("%s/static?bytes=%d", b.ceilingBase, len(body)), Want: http.StatusOK}})
	}
	creator := "key:" + strings.SplitN(key, "/", 2)[0]
	fillDB := func() error {
		n, err := countInvites(ctx, x.db, creator)
		if err != nil {
			return err
		}
		if n < b.o.invites {
			b.logf("filling the database of %s from %d to %d invites (16 connections)", name, n, b.o.invites)
			if err := fill(ctx, api.target, 16, b.o.invites-n, 5*time.Minute); err != nil {
				return fmt.Errorf("fill to %d invites: %w", b.o.invites, err)
			}
			if n, err = countInvites(ctx, x.db, creator); err != nil {
				return err
			}
		}
		if err := b.recordMemory(p.PID(), fmt.Sprintf("%s with %d invites stored", name, n)); err != nil {
			return err
		}
		if pg == nil { // the RSS target is judged on SQLite
			b.res.InvitesAtRSS = n
			b.res.RSSAtInvites = &b.res.Memory[len(b.res.Memory)-1]
		}
		return nil
	}
	return p, tests, fillDB, nil
}

// countInvites counts creator's invites in the database at path, beside
// the running server.
func countInvites(ctx context.Context, path, creator string) (int, error) {
	st, err := keystore.Open(ctx, path, keystore.Options{})
	if err != nil {
		return 0, err
	}
	defer st.Close()
	st = st.ForDomain(benchDomain)
	return st.CountInvites(ctx, creator, time.Unix(0, 0))
}

// seedPart times serve's start-up on a large database, and keystore's
// queries and their plans there.
func (b *bench) seedPart(ctx context.Context) error {
	path := filepath.Join(b.work, "seeded.db")
	b.logf("seeding %d invites into %s", b.o.seed, path)
	s, err := seedDB(ctx, path, b.o.seed)
	if err != nil {
		return err
	}
	b.res.Seed = &s
	if fi, err := os.Stat(path); err == nil {
		b.res.SeedDB = fi.Size()
	}
	b.logf("  seeded in %v", s.took.Round(time.Millisecond))
	x, err := newXI(b.bin, b.work, xiOptions{Name: "xmpp-invites-seeded", DB: path})
	if err != nil {
		return err
	}
	for i := range b.o.startups {
		b.logf("serve start-up on %d invites, run %d", b.o.seed, i+1)
		p, ready, err := x.serve(fmt.Sprintf("xmpp-invites-seeded-%d", i+1))
		if err != nil {
			return err
		}
		m, err := readMemory(p.PID())
		p.Stop(stopTimeout)
		if err != nil {
			return err
		}
		b.res.Startup = append(b.res.Startup, startupRun{ReadyMs: ms(ready), Memory: m})
	}
	b.logf("query plans and keystore query times on the seeded database")
	if b.res.Plans, err = explain(ctx, path); err != nil {
		return err
	}
	b.res.Queries, err = timeQueries(ctx, path, s)
	return err
}

// adhocPart compares in-band invite creation: XEP-0050 create-account
// through the xmpp-invites component attached to Prosody, against
// Prosody's own mod_invites_adhoc, by the same admin's client sessions.
func (b *bench) adhocPart(ctx context.Context, pros *xmpptest.Server) error {
	if out, err := pros.Ctl(ctx, "register", prosodyAdmin, benchDomain, prosodyAdminPwd); err != nil {
		return fmt.Errorf("prosodyctl register: %w: %s", err, out)
	}
	x, err := newXI(b.bin, b.work, xiOptions{Name: "xmpp-invites-component", ComponentServer: pros.ComponentAddr,
		ComponentSecret: pros.Secret, Admins: []string{prosodyAdmin + "@" + benchDomain}})
	if err != nil {
		return err
	}
	b.logf("starting xmpp-invites serve with its component attached to Prosody")
	p, _, err := x.serve("xmpp-invites-component")
	if err != nil {
		return err
	}
	defer p.Stop(stopTimeout)
	if _, err := p.WaitReady(15*time.Second, 20*time.Millisecond, func() bool { return x.componentState() == "up" }); err != nil {
		return fmt.Errorf("component link not up: %w", err)
	}
	var clients []*xmppClient
	defer func() {
		for _, c := range clients {
			c.close()
		}
	}()
	for range slices.Max(b.o.sessions) {
		c, err := login(ctx, pros, prosodyAdmin, prosodyAdminPwd)
		if err != nil {
			return err
		}
		clients = append(clients, c)
	}
	servers := []struct {
		name string
		to   jid.JID
		pids []int // Prosody's, plus the component's when it answers
	}{
		{"Prosody mod_invites_adhoc", jid.MustParse(benchDomain), []int{pros.PID()}},
		{"xmpp-invites component", jid.MustParse(pros.ComponentJID), []int{pros.PID(), p.PID()}},
	}
	for _, s := range servers {
		r, err := clients[0].execute(ctx, s.to)
		if err != nil {
			return fmt.Errorf("%s: create-account command: %w\n%s", s.name, err, p.LogTail())
		}
		b.res.Checks[s.name] = fmt.Sprintf("status=%s landing-url=%s", r.Status, redactToken(r.field("landing-url")))
		b.logf("%s answered %s", s.name, b.res.Checks[s.name])
	}
	for _, n := range b.o.sessions {
		for _, s := range servers {
			b.logf("%s create-account, %d sessions", s.name, n)
			before := sampleCPU(s.pids...)
			r, err := measureCommands(ctx, clients[:n], s.to, b.o.warmup, b.o.duration)
			if err != nil {
				return err
			}
			r.CPU = sampleCPU(s.pids...).since(before)
			r.Server, r.Test = s.name, "create-account"
			if r.Errors > 0 {
				b.logf("  %d errors, first: %s", r.Errors, r.FirstError)
			}
			b.res.XMPP = append(b.res.XMPP, r)
		}
	}
	return b.recordMemory(p.PID(), "xmpp-invites with the component, after the ad-hoc load")
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
	if fs, err := procfs.NewDefaultFS(); err == nil {
		if ci, err := fs.CPUInfo(); err == nil && len(ci) > 0 {
			m.CPU = ci[0].ModelName
		}
		if l, err := fs.LoadAvg(); err == nil {
			m.LoadAvg = fmt.Sprintf("%.2f %.2f %.2f", l.Load1, l.Load5, l.Load15)
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(data))
	}
	return m
}

// packageVersion asks dpkg for an installed package's version.
func packageVersion(ctx context.Context, pkg string) string {
	out, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f=${Version}", pkg).Output()
	if err != nil || len(out) == 0 {
		return "unknown"
	}
	return string(out)
}

// firstLine keeps notes in the report to one line; the progress log on
// stderr has the whole message with the server's log tail.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// redactArgs hides the password of a PostgreSQL URL among the
// command-line arguments, which the report and -json repeat.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		flag, v, ok := strings.Cut(a, "=")
		switch {
		case keystore.IsPostgres(a):
			out[i] = keystore.Redact(a)
		case ok && strings.HasPrefix(flag, "-") && keystore.IsPostgres(v):
			out[i] = flag + "=" + keystore.Redact(v)
		default:
			out[i] = a
		}
	}
	return out
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
