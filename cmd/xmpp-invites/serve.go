package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"xmpp-invites/component"
	"xmpp-invites/httpapi"
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
		Name:  "serve",
		Usage: "run the HTTP service and the XMPP component",
		Action: func(c *cli.Context) error {
			if _, err := positional(c, 0, 0, ""); err != nil {
				return err
			}
			cfg, err := a.config(c)
			if err != nil {
				return err
			}
			return serve(c.Context, cfg, a.logger(cfg))
		},
	}
}

// serve runs until ctx ends (SIGINT, SIGTERM) or the component hits a fatal
// error. Shutdown order: HTTP drained, XMPP stream closed, store closed last.
func serve(ctx context.Context, cfg Config, log *slog.Logger) error {
	started := time.Now()
	m := metrics.New()
	lock, err := keystore.TakeLock(cfg.Database)
	if errors.Is(err, keystore.ErrLocked) {
		return usageErr("%v: one serve per database", err)
	}
	if err != nil {
		return failErr("%v", err)
	}
	defer lock.Release()
	st, err := keystore.Open(ctx, cfg.Database, keystore.Options{
		Committed: m.StoreCommitted,
		Migrate:   true,
		Upgrading: func(from, to int, backup string) {
			log.Info("upgrading the database schema; the copy made first is kept", "from", from, "to", to, "copy", backup)
		},
	})
	if err != nil {
		return storeOpenErr(err)
	}
	defer st.Close()
	for _, f := range looseFiles(cfg) {
		log.Warn("group or others can access this file; make it private with chmod 600",
			"option", f.option, "path", f.path, "mode", fmt.Sprintf("%04o", f.mode))
	}
	svc := newService(st, cfg)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var comp *component.Component
	var link httpapi.Link
	if cfg.ComponentSecret == "" {
		log.Warn("component.secret is empty: the XMPP component is disabled; invites can be created but not redeemed")
	} else {
		comp, err = component.New(componentConfig(cfg), svc, log.With("part", "component"), m)
		if err != nil {
			return usageErr("%v", err)
		}
		link = comp
	}

	httpOpts := []httpapi.Option{httpapi.WithMetrics(m)}
	if comp != nil {
		httpOpts = append(httpOpts, httpapi.WithAccountRights(func() (bool, bool) {
			rep, ok := comp.Rights()
			return rep.CanCreateAccounts, ok
		}))
	}
	h, err := httpapi.New(httpConfig(cfg), svc, link, log.With("part", "http"), httpOpts...)
	if err != nil {
		return failErr("%v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", h)

	connLim, nofile, err := connLimits(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return failErr("listen on %s: %v", cfg.Listen, err)
	}
	ln, connState := httpapi.LimitConns(ln, connLim, log.With("part", "http"))
	log.Info("HTTP connection limits", "max_connections", connLim.Max,
		"max_connections_per_client", connLim.PerClient, "fd_limit", nofile)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Every registration answers within its budget (invites.RedeemTiming):
		// the write timeout must leave room for it and for the page.
		WriteTimeout:   max(30*time.Second, cfg.Timing.Budget()+10*time.Second),
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		ConnState:      connState,
	}

	var wg sync.WaitGroup
	httpErr := make(chan error, 2)
	adminSrv, adminAddr, err := startAdmin(cfg.AdminListen, h.Admin(), log, &wg, httpErr, cancel)
	if err != nil {
		ln.Close()
		return err
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			httpErr <- err
			cancel()
		}
	}()
	log.Info("serving", "addr", ln.Addr().String(), "admin_addr", adminAddr, "public_url", cfg.PublicURL, "domain", cfg.Domain,
		"version", version, "startup", time.Since(started).Round(time.Millisecond))

	var fatal error
	var compDone chan struct{}
	if comp != nil {
		compDone = make(chan struct{})
		go func() {
			defer close(compDone)
			if err := comp.Run(ctx); err != nil {
				fatal = err
				cancel()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		purgeLoop(ctx, st, cfg.Retention, log)
	}()
	schemaErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := watchSchema(ctx, st, log); err != nil {
			schemaErr <- err
			cancel()
		}
	}()
	if comp != nil {
		// Reservations whose outcome is unknown (this instance's, and those
		// of instances that stopped) are resolved in the background: start-up
		// never waits for them.
		wg.Add(1)
		go func() {
			defer wg.Done()
			svc.RunResolver(ctx, comp, log.With("part", "resolver"))
		}()
	}

	<-ctx.Done()
	log.Info("shutting down")
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("HTTP shutdown incomplete", "err", err)
	}
	if adminSrv != nil {
		adminSrv.Shutdown(sctx)
	}
	if compDone != nil {
		<-compDone
	}
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
			log.Error("the XMPP server rejected component.secret: check that it matches the server's component password", "component", cfg.ComponentJID)
			return usageErr("the XMPP server rejected component.secret for %s", cfg.ComponentJID)
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
		Version:         version,
	}
}

func componentConfig(cfg Config) component.Config {
	return component.Config{
		JID:               cfg.ComponentJID,
		Server:            cfg.ComponentServer,
		Secret:            cfg.ComponentSecret,
		Domain:            cfg.Domain,
		Admins:            cfg.Admins,
		PingInterval:      cfg.PingInterval,
		AllowUserInvites:  cfg.AllowUserInvites,
		UserInvitesPerDay: cfg.UserInvitesPerDay,
		Version:           version,
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
		case err != nil && ctx.Err() == nil:
			log.Warn("purge failed", "err", err)
		case n > 0:
			log.Info("purged finished invites", "count", n)
		}
		t.Reset(purgeEvery)
	}
}

func (a *appState) checkCommand() *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "validate the config, open the database, try the component link and report its rights",
		Action: func(c *cli.Context) error {
			if _, err := positional(c, 0, 0, ""); err != nil {
				return err
			}
			cfg, err := a.config(c)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "config: ok (domain %s, public_url %s)\n", cfg.Domain, cfg.PublicURL)
			connLim, nofile, err := connLimits(cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "http: at most %d connections, %d per client address (file-descriptor limit %d)\n",
				connLim.Max, connLim.PerClient, nofile)
			st, err := openStore(c.Context, cfg, keystore.Options{})
			if err != nil {
				return err
			}
			keys, err := st.ListKeys(c.Context)
			st.Close()
			if err != nil {
				return failErr("database %s: %v", cfg.Database, err)
			}
			fmt.Fprintf(a.stdout, "database: ok (%s, %d API keys)\n", cfg.Database, len(keys))
			for _, f := range looseFiles(cfg) {
				fmt.Fprintf(a.stdout, "warning: %s %s has mode %04o: group or others can access it (chmod 600 %s)\n",
					f.option, f.path, f.mode, f.path)
			}
			if cfg.ComponentSecret == "" {
				fmt.Fprintln(a.stdout, "component: disabled (component.secret is empty)")
				return nil
			}
			// A running serve holds the component link: a second one would
			// be refused (Prosody: conflict) or silently steal it (ejabberd).
			if le := (*keystore.LockedError)(nil); errors.As(keystore.LockHeld(cfg.Database), &le) {
				fmt.Fprintf(a.stdout, "serve: running (pid %d) with this database; the component link is in use by it, so check does not try it: see serve's log and /readyz on the admin listener\n", le.PID)
				return nil
			}
			ctx, cancel := context.WithTimeout(c.Context, 20*time.Second)
			defer cancel()
			rep, err := component.Check(ctx, componentConfig(cfg), a.logger(cfg))
			if errors.Is(err, component.ErrNotAuthorized) {
				return usageErr("component: the XMPP server at %s rejected component.secret for %s", cfg.ComponentServer, cfg.ComponentJID)
			}
			if err != nil {
				return failErr("component: %v", err)
			}
			fmt.Fprintf(a.stdout, "component: connected to %s as %s\n", cfg.ComponentServer, cfg.ComponentJID)
			fmt.Fprintf(a.stdout, "account creation (XEP-0133 add-user): %s\n", yesNo(rep.CanCreateAccounts))
			fmt.Fprintf(a.stdout, "password reset (XEP-0133 change-user-password): %s\n", yesNo(rep.CanChangePasswords))
			if len(rep.Privileges) == 0 {
				fmt.Fprintln(a.stdout, "privileges (XEP-0356): none granted (contact invites cannot add roster entries)")
			} else {
				for _, ns := range slices.Sorted(maps.Keys(rep.Privileges)) {
					fmt.Fprintf(a.stdout, "privilege (XEP-0356 %s): %s=%s\n", rep.PrivilegeNS, ns, rep.Privileges[ns])
				}
			}
			if !rep.CanCreateAccounts {
				return failErr("the server does not let %s create accounts: make it an admin of %s (see README)", cfg.ComponentJID, cfg.Domain)
			}
			return nil
		},
	}
}

func yesNo(b bool) string {
	if b {
		return "permitted"
	}
	return "NOT permitted"
}
