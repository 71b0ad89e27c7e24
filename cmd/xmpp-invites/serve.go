package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"xmpp-invites/component"
	"xmpp-invites/httpapi"
	"xmpp-invites/invites"
	"xmpp-invites/keystore"
	"xmpp-invites/metrics"
)

// Timeouts of the HTTP server and of shutdown.
const (
	shutdownTimeout = 10 * time.Second
	purgeEvery      = time.Hour
	firstPurge      = time.Minute
)

func (a *appState) serveCommand() *cli.Command {
	return &cli.Command{
		Name:   "serve",
		Usage:  "run the HTTP service and the XMPP component",
		Action: a.serve,
	}
}

func (a *appState) serve(c *cli.Context) error {
	if _, err := positional(c, 0, 0, ""); err != nil {
		return err
	}
	cfgs, err := a.configs(c)
	if err != nil {
		return err
	}
	return serve(c.Context, cfgs, a.logger(cfgs[0]))
}

// serve builds the server and runs it until ctx ends (SIGINT, SIGTERM) or
// a component hits a fatal error.
func serve(ctx context.Context, cfgs []Config, log *slog.Logger) error {
	s, err := newServer(ctx, cfgs, log)
	if err != nil {
		return err
	}
	defer s.close()
	return s.run(ctx)
}

// server is a built serve: the instance lock taken, the store open, the
// component and the HTTP handler made, the listeners bound. Nothing runs
// until run.
type server struct {
	cfg     Config // the first domain's: database, logging and [http] are everyone's
	log     *slog.Logger
	started time.Time

	lock    *keystore.Lock
	held    []func() // PostgreSQL: the component JIDs held (HoldName)
	st      *keystore.Store
	domains []domainPart
	http    *http.Server
	ln      net.Listener
	admin   http.Handler
}

// domainPart is what serve runs for one domain.
type domainPart struct {
	cfg  Config
	log  *slog.Logger
	svc  *invites.Service
	comp *component.Component // the domain's view of its link; nil: no component
	lead bool                 // runs the link (one domain per link)
}

// newServer builds everything serve needs and fails before anything runs:
// a second serve on the database, a schema it cannot use, a bad component
// config, a port in use.
func newServer(ctx context.Context, cfgs []Config, log *slog.Logger) (_ *server, err error) {
	cfg := cfgs[0]
	s := &server{cfg: cfg, log: log, started: time.Now()}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	m := metrics.New()
	// SQLite: one serve per file, which it upgrades (after a copy).
	// PostgreSQL: several instances share the database, and only migrate
	// changes its schema.
	pg := keystore.IsPostgres(cfg.Database)
	if !pg {
		s.lock, err = keystore.TakeLock(cfg.Database)
		if errors.Is(err, keystore.ErrLocked) {
			return nil, usageErr("%v: one serve per database", err)
		}
		if err != nil {
			return nil, failErr("%v", err)
		}
	}
	s.st, err = keystore.Open(ctx, cfg.Database, keystore.Options{
		Committed: m.StoreCommitted,
		Migrate:   !pg,
		Listen:    true,
		ListenLost: func(err error) {
			log.Warn("lost the database connection listening for key changes; reconnecting (keys are checked in the database meanwhile)", "err", err)
		},
		Domain: cfg.Domain, // records from before domains (schema 104) are the first domain's
		Upgrading: func(from, to int, backup string) {
			log.Info("upgrading the database schema; the copy made first is kept", "from", from, "to", to, "copy", backup)
		},
	})
	if err != nil {
		return nil, storeOpenErr(err)
	}
	// PostgreSQL: instances share the database, and each needs its own
	// component JID (XMPP servers route a JID's stanzas to one of its
	// links, not to the instance that asked).
	for _, g := range linkGroups(cfgs) {
		c := cfgs[g[0]]
		if !pg {
			continue
		}
		release, err := s.st.HoldName(ctx, "component:"+c.ComponentJID, true)
		if errors.Is(err, keystore.ErrNameHeld) {
			return nil, usageErr("another serve on this database uses the component %s: give each instance its own component jid (docs/scaling.md)", c.ComponentJID)
		}
		if err != nil {
			return nil, failErr("%v", err)
		}
		s.held = append(s.held, release)
	}
	reported := map[looseFile]bool{}
	var sites []httpapi.Site
	var handlers []*httpapi.Server
	budget := time.Duration(0)
	// [http] is the listener's: its failure limit counts across domains.
	authLim := httpapi.NewAuthLimiter(cfg.MaxAuthFailures)
	for _, cfg := range cfgs {
		dlog := log
		if len(cfgs) > 1 {
			dlog = log.With("domain", cfg.Domain)
		}
		for _, f := range looseFiles(cfg) {
			if !reported[f] {
				reported[f] = true
				log.Warn("group or others can access this file; make it private with chmod 600",
					"option", f.option, "path", f.path, "mode", fmt.Sprintf("%04o", f.mode))
			}
		}
		s.domains = append(s.domains, domainPart{cfg: cfg, log: dlog, svc: newService(s.st.ForDomain(cfg.Domain), cfg)})
	}
	if err := newLinks(s.domains, log, m); err != nil {
		return nil, err
	}
	for _, d := range s.domains {
		h, err := newDomain(d, m, authLim)
		if err != nil {
			return nil, err
		}
		handlers = append(handlers, h)
		u, _ := url.Parse(d.cfg.PublicURL) // validated in loadConfigs
		sites = append(sites, httpapi.Site{Host: u.Host, Prefix: strings.TrimRight(u.Path, "/"), Handler: h})
		budget = max(budget, d.cfg.Timing.Budget())
	}
	// One admin listener: its /readyz lists every domain's component.
	s.admin = handlers[0].Admin(handlers[1:]...)

	connLim, nofile, err := connLimits(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, failErr("listen on %s: %v", cfg.Listen, err)
	}
	ln, connState := httpapi.LimitConns(ln, connLim, log.With("part", "http"))
	s.ln = ln
	log.Info("HTTP connection limits", "max_connections", connLim.Max,
		"max_connections_per_client", connLim.PerClient, "fd_limit", nofile)
	var handler http.Handler = sites[0].Handler
	if len(sites) > 1 {
		handler = httpapi.NewDispatcher(sites, cfg.TrustedProxies)
	}
	s.http = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Every registration answers within its budget (invites.RedeemTiming):
		// the write timeout must leave room for it and for the page.
		WriteTimeout:   max(30*time.Second, budget+10*time.Second),
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		ConnState:      connState,
	}
	return s, nil
}

// newDomain builds the HTTP handler of one domain, whose invite service
// and component view newServer and newLinks made.
func newDomain(d domainPart, m *metrics.Metrics, authLim *httpapi.AuthLimiter) (*httpapi.Server, error) {
	cfg, log := d.cfg, d.log
	var link httpapi.Link
	httpOpts := []httpapi.Option{httpapi.WithMetrics(m), httpapi.WithAuthLimiter(authLim)}
	if comp := d.comp; comp == nil {
		log.Warn("component.secret is empty: the XMPP component is disabled; invites can be created but not redeemed")
	} else {
		link = comp
		httpOpts = append(httpOpts, httpapi.WithAccountRights(func() (bool, bool) {
			rep, ok := comp.Rights()
			return rep.CanCreateAccounts, ok
		}))
	}
	hcfg := httpConfig(cfg)
	var err error
	if hcfg.Branding, err = readBranding(cfg); err != nil {
		return nil, err
	}
	h, err := httpapi.New(hcfg, d.svc, link, log.With("part", "http"), httpOpts...)
	if err != nil {
		var pe *httpapi.TemplateError
		if errors.As(err, &pe) {
			return nil, usageErr("%v", err)
		}
		return nil, failErr("%v", err)
	}
	return h, nil
}

// newLinks builds the component links of domains: one per component JID.
// Domains that name the same JID have identical component tables
// (checkDomains), so they share one link (component.NewLink), which the
// first of them runs.
func newLinks(domains []domainPart, log *slog.Logger, m *metrics.Metrics) error {
	cfgs := make([]Config, len(domains))
	for i, d := range domains {
		cfgs[i] = d.cfg
	}
	for _, g := range linkGroups(cfgs) {
		first := &domains[g[0]]
		first.lead = true
		served := make([]component.Domain, len(g))
		for j, i := range g {
			served[j] = componentDomain(domains[i].cfg, domains[i].svc)
		}
		// A link of one domain logs as that domain; a shared one names
		// its JID, and each domain's view adds its domain.
		clog := first.log.With("part", "component")
		if len(g) > 1 {
			clog = log.With("part", "component", "component", first.cfg.ComponentJID)
		}
		comp, err := component.NewLink(componentLink(first.cfg), served, clog, m)
		if err != nil {
			return usageErr("%v", err)
		}
		for _, i := range g {
			domains[i].comp = comp.For(domains[i].cfg.Domain)
		}
	}
	return nil
}

// linkGroups returns the indexes of the domains of each component link, in
// the order of the tables: domains with a component secret, grouped by
// component JID.
func linkGroups(cfgs []Config) [][]int {
	var groups [][]int
	at := map[string]int{}
	for i, c := range cfgs {
		if c.ComponentSecret == "" {
			continue
		}
		g, ok := at[c.ComponentJID]
		if !ok {
			g = len(groups)
			at[c.ComponentJID] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}

// close releases what newServer took: the listener (if run did not serve
// it), the store, then the lock.
func (s *server) close() {
	if s.ln != nil {
		s.ln.Close()
	}
	for _, release := range s.held {
		release()
	}
	if s.st != nil {
		s.st.Close()
	}
	if s.lock != nil {
		s.lock.Release()
	}
}

// run serves until ctx ends or something fatal happens. Shutdown order:
// HTTP drained, XMPP stream closed, background work stopped; close then
// closes the store.
func (s *server) run(ctx context.Context) error {
	cfg, log := s.cfg, s.log
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var wg sync.WaitGroup
	httpErr := make(chan error, 2)
	adminSrv, adminAddr, err := startAdmin(cfg.AdminListen, s.admin, log, &wg, httpErr, cancel)
	if err != nil {
		return err
	}
	ln := s.ln
	s.ln = nil // http.Server.Serve closes it
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			httpErr <- err
			cancel()
		}
	}()
	for _, d := range s.domains {
		log.Info("serving", "addr", ln.Addr().String(), "admin_addr", adminAddr, "public_url", d.cfg.PublicURL, "domain", d.cfg.Domain,
			"version", version, "startup", time.Since(s.started).Round(time.Millisecond))
	}

	var fatalMu sync.Mutex
	var fatal error
	var fatalJID string
	var compWG sync.WaitGroup
	for _, d := range s.domains {
		if d.comp == nil || !d.lead {
			continue // no component, or another domain runs its link
		}
		compWG.Add(1)
		go func() {
			defer compWG.Done()
			if err := d.comp.Run(ctx); err != nil {
				fatalMu.Lock()
				if fatal == nil {
					fatal, fatalJID = err, d.cfg.ComponentJID
				}
				fatalMu.Unlock()
				cancel()
			}
		}()
	}
	for _, d := range s.domains {
		// Each domain purges its own invites, after its own retention.
		wg.Add(1)
		go func() {
			defer wg.Done()
			purgeLoop(ctx, d.svc.Store(), d.cfg.Retention, d.log)
		}()
	}
	schemaErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := watchSchema(ctx, s.st, log); err != nil {
			schemaErr <- err
			cancel()
		}
	}()
	for _, d := range s.domains {
		if d.comp == nil {
			continue
		}
		// Reservations whose outcome is unknown (this instance's, and those
		// of instances that stopped) are resolved in the background: start-up
		// never waits for them.
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.svc.RunResolver(ctx, d.comp, d.log.With("part", "resolver"))
		}()
	}

	<-ctx.Done()
	log.Info("shutting down")
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer scancel()
	if err := s.http.Shutdown(sctx); err != nil {
		log.Warn("HTTP shutdown incomplete", "err", err)
	}
	if adminSrv != nil {
		adminSrv.Shutdown(sctx)
	}
	compWG.Wait()
	wg.Wait()
	select {
	case err := <-httpErr:
		return failErr("HTTP server: %v", err)
	case err := <-schemaErr:
		return err
	default:
	}
	if fatal != nil {
		if errors.Is(fatal, component.ErrNotAuthorized) {
			log.Error("the XMPP server rejected component.secret: check that it matches the server's component password", "component", fatalJID)
			return usageErr("the XMPP server rejected component.secret for %s", fatalJID)
		}
		return failErr("component: %v", fatal)
	}
	return nil
}

// startAdmin serves the admin listener on addr (http.admin_listen): /healthz,
// /readyz with the detail, /metrics. It has no authentication, so an
// address other than loopback gets a warning. It returns a nil server and
// the address "off" when addr is empty.
func startAdmin(addr string, h http.Handler, log *slog.Logger, wg *sync.WaitGroup, errc chan<- error, cancel func()) (*http.Server, string, error) {
	if addr == "" {
		return nil, "off", nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", failErr("listen on %s (http.admin_listen): %v", addr, err)
	}
	if !loopback(ln.Addr()) {
		log.Warn("the admin listener has no authentication and is not on a loopback address: whoever reaches it reads /metrics and /readyz; bind it to 127.0.0.1 or firewall it",
			"admin_addr", ln.Addr().String())
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- err
			cancel()
		}
	}()
	return srv, ln.Addr().String(), nil
}

// loopback reports whether a listener's address is reachable from this host
// only. An unspecified address (":5381", "0.0.0.0") listens on every
// interface.
func loopback(addr net.Addr) bool {
	a, ok := addr.(*net.TCPAddr)
	return ok && a.IP.IsLoopback()
}

func httpConfig(cfg Config) httpapi.Config {
	return httpapi.Config{
		CORSOrigins:     cfg.CORSOrigins,
		MaxAuthFailures: cfg.MaxAuthFailures,
		TrustedProxies:  cfg.TrustedProxies,
		Clients:         cfg.Clients,
		Catalog:         cfg.Catalog,
		Version:         version,
	}
}

// componentLink is the link part of cfg's component.
func componentLink(cfg Config) component.Link {
	return component.Link{JID: cfg.ComponentJID, Server: cfg.ComponentServer, Secret: cfg.ComponentSecret,
		PingInterval: cfg.PingInterval, Version: version}
}

// componentDomain is cfg's domain as a link serves it.
func componentDomain(cfg Config, minter component.Minter) component.Domain {
	return component.Domain{Name: cfg.Domain, Admins: cfg.Admins, UserInvitesPerDay: cfg.UserInvitesPerDay,
		SiteName: cfg.SiteName, Catalog: cfg.Catalog, Minter: minter}
}

func componentConfig(cfg Config) component.Config {
	return component.Config{
		JID:               cfg.ComponentJID,
		Server:            cfg.ComponentServer,
		Secret:            cfg.ComponentSecret,
		Domain:            cfg.Domain,
		Admins:            cfg.Admins,
		PingInterval:      cfg.PingInterval,
		UserInvitesPerDay: cfg.UserInvitesPerDay,
		Version:           version,
		SiteName:          cfg.SiteName,
		Catalog:           cfg.Catalog,
	}
}

// purgeLoop deletes finished invites older than retention, in the background:
// first a minute after start (never on the start-up path), then hourly.
func purgeLoop(ctx context.Context, st *keystore.Store, retention time.Duration, log *slog.Logger) {
	t := time.NewTimer(firstPurge)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := st.Purge(ctx, time.Now().Add(-retention))
		switch {
		case errors.Is(err, keystore.ErrPurgeElsewhere):
			log.Debug("another instance is purging the database; skipped")
		case err != nil && ctx.Err() == nil:
			log.Warn("purge failed", "err", err)
		case n > 0:
			log.Info("purged finished invites", "count", n)
		}
		t.Reset(purgeEvery)
	}
}

// readBranding reads the logo and opens the templates directory of
// [branding]; a file that cannot be used is a configuration error.
func readBranding(cfg Config) (httpapi.Branding, error) {
	b := cfg.Branding
	if cfg.LogoFile != "" {
		f, err := os.Open(cfg.LogoFile)
		if err != nil {
			return b, optErr("branding.logo", "%v", err)
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, httpapi.MaxLogoBytes+1))
		if err != nil {
			return b, optErr("branding.logo", "%v", err)
		}
		if len(data) > httpapi.MaxLogoBytes {
			return b, optErr("branding.logo", "%s is larger than %d KiB", cfg.LogoFile, httpapi.MaxLogoBytes>>10)
		}
		b.Logo = data
		b.LogoType, _ = httpapi.LogoType(cfg.LogoFile)
	}
	if cfg.TemplatesDir != "" {
		fi, err := os.Stat(cfg.TemplatesDir)
		if err != nil {
			return b, optErr("branding.templates_dir", "%v", err)
		}
		if !fi.IsDir() {
			return b, optErr("branding.templates_dir", "%s is not a directory", cfg.TemplatesDir)
		}
		b.Templates = os.DirFS(cfg.TemplatesDir)
		b.TemplatesDir = cfg.TemplatesDir
	}
	return b, nil
}
