// Package httpapi serves xmpp-invites over HTTP: the mod_invites_api
// compatible endpoint, the JSON API, the invite landing page and web
// registration, and health probes. It returns an http.Handler; the XMPP side
// reaches it only through the Link interface that cmd injects.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"xmpp-invites/i18n"
	"xmpp-invites/invites"
	"xmpp-invites/keystore"
	"xmpp-invites/metrics"
)

// Config is the [http] section plus what the pages show.
type Config struct {
	CORSOrigins     []string       // ["*"] or a list of origins
	MaxAuthFailures int            // per client address per AuthWindow; 0 disables the limit
	TrustedProxies  []netip.Prefix // peers whose X-Forwarded-For is believed
	Clients         []Client       // landing page client list; nil: DefaultClients()
	Catalog         *i18n.Catalog  // the pages' languages; nil: English only by default
	Branding        Branding
	Version         string
}

// AuthWindow is the sliding window of the failed-authentication limit.
const AuthWindow = 60 * time.Second

// Link is the XMPP server as the HTTP side needs it: account operations
// (invites.Accounts, optionally invites.Followups) and the link's state.
type Link interface {
	invites.Accounts
	// State is "up", "down" or "disabled".
	State() string
}

// Server is the HTTP handler of xmpp-invites.
type Server struct {
	cfg     Config
	svc     *invites.Service
	store   *keystore.Store
	link    Link
	log     *slog.Logger
	mux     *http.ServeMux
	now     func() time.Time
	metrics *metrics.Metrics
	rights  func() (permitted, known bool) // nil: never known
	faults  faultLog
	// proxyWarning is set once a request shows an untrusted reverse proxy
	// on this host (noteUntrustedProxy).
	proxyWarning atomic.Pointer[string]
	// patterns are the routes registered, without the prefix.
	patterns []string
	// authLimiter, when set, is shared with other servers (WithAuthLimiter).
	authLimiter *AuthLimiter
}

// Option changes a Server at construction.
type Option func(*Server)

// WithClock replaces the clock, for tests.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithMetrics makes the server count requests and invites into m, with
// the label domain="DOMAIN" of its invite service's domain.
func WithMetrics(m *metrics.Metrics) Option { return func(s *Server) { s.metrics = m } }

// WithAccountRights tells the admin listener's /readyz whether the XMPP
// server lets the component create accounts: rights returns that, and
// whether it is known yet (the component learns it on connect).
func WithAccountRights(rights func() (permitted, known bool)) Option {
	return func(s *Server) { s.rights = rights }
}

// WithAuthLimiter makes the server count failed API authentications in
// l, shared with the other domains' servers on the same listener, instead
// of in a limiter of its own (Config.MaxAuthFailures is then l's).
func WithAuthLimiter(l *AuthLimiter) Option { return func(s *Server) { s.authLimiter = l } }

// New builds the handler. link may be nil when the component is disabled.
func New(cfg Config, svc *invites.Service, link Link, log *slog.Logger, opts ...Option) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if link == nil {
		link = disabledLink{}
	}
	if cfg.Clients == nil {
		cfg.Clients = DefaultClients()
	}
	if cfg.Catalog == nil {
		cat, err := i18n.New("")
		if err != nil {
			return nil, err
		}
		cfg.Catalog = cat
	}
	s := &Server{cfg: cfg, svc: svc, store: svc.Store(), link: link, log: log, mux: http.NewServeMux(), now: time.Now}
	for _, o := range opts {
		o(s)
	}
	// Counts carry this server's domain (many domains share the metrics).
	s.metrics = s.metrics.ForDomain(svc.Config().Domain)
	prefix, err := routePrefix(svc.Config().PublicURL)
	if err != nil {
		return nil, err
	}
	// The probes answer at the root whatever the prefix; everything else
	// lives under it (prefix.go).
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	rt := routes{mux: s.mux, prefix: prefix, seen: &s.patterns}
	if prefix != "" {
		s.mux.Handle(prefix, prefixRoot(prefix))
	}
	if err := s.registerAPI(rt); err != nil {
		return nil, err
	}
	if err := s.registerPages(rt); err != nil {
		return nil, err
	}
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.noteUntrustedProxy(r)
	if s.metrics == nil {
		s.mux.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	s.mux.ServeHTTP(sw, r)
	// The mux sets r.Pattern on the request it routed: a bounded label set.
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	s.metrics.Request(route, sw.status, time.Since(start))
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// readyz is the public readiness probe: 503 only when the database cannot
// be written, since that is what stops the service; the link and the rest
// are on the admin listener.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if err := s.writable(r); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, readyBody{Status: "unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, readyBody{Status: "ok"})
}

// readyBody is the public /readyz answer.
type readyBody struct {
	Status string `json:"status"` // ok or unavailable
}

// readiness is the admin listener's /readyz answer.
type readiness struct {
	Status string `json:"status"` // as on the public listener
	// Database is "writable", or the kind of storage fault
	// (keystore.Fault…), "closed" or "error".
	Database string `json:"database"`
	// DatabaseEngine is sqlite or postgresql; DatabaseReachable whether
	// its schema version could be read just now, and DatabaseSchema that
	// version (0 when unreachable).
	DatabaseEngine    string `json:"database_engine"`
	DatabaseReachable bool   `json:"database_reachable"`
	DatabaseSchema    int    `json:"database_schema"`
	Component         string `json:"component"` // up, down or disabled
	// AccountCreation: whether the XMPP server lets the component create
	// accounts (XEP-0133 add-user): permitted, not permitted, or unknown
	// until the component has connected once.
	AccountCreation string `json:"account_creation"`
	// Warnings are configuration problems found at run time; never null.
	Warnings []string `json:"warnings"`
	Version  string   `json:"version"`
	// Domains has the component state of every domain, when the admin
	// listener serves several (Admin with others); Component and
	// AccountCreation above are then the first domain's.
	Domains []domainReadiness `json:"domains,omitempty"`
}

// domainReadiness is one domain's part of the admin /readyz.
type domainReadiness struct {
	Domain          string `json:"domain"`
	Component       string `json:"component"`
	AccountCreation string `json:"account_creation"`
}

// accountCreation says whether the XMPP server lets s's component create
// accounts: permitted, not permitted, or unknown.
func (s *Server) accountCreation() string {
	if s.rights != nil {
		if permitted, known := s.rights(); known && permitted {
			return "permitted"
		} else if known {
			return "not permitted"
		}
	}
	return "unknown"
}

// adminReadyz is readyz with the detail, for the operator; others are the
// further domains the admin listener reports on.
func (s *Server) adminReadyz(w http.ResponseWriter, r *http.Request, others []*Server) {
	err := s.writable(r)
	body := readiness{Status: "ok", Database: "writable", Component: s.link.State(),
		AccountCreation: s.accountCreation(), Warnings: s.warnings(), Version: s.cfg.Version}
	if len(others) > 0 {
		for _, d := range append([]*Server{s}, others...) {
			body.Domains = append(body.Domains, domainReadiness{Domain: d.svc.Config().Domain,
				Component: d.link.State(), AccountCreation: d.accountCreation()})
		}
	}
	body.DatabaseEngine = s.store.Engine()
	if v, err := s.store.Schema(r.Context()); err == nil {
		body.DatabaseReachable, body.DatabaseSchema = true, v
	}
	status := http.StatusOK
	if err != nil {
		body.Status, body.Database, status = "unavailable", databaseState(err), http.StatusServiceUnavailable
	}
	writeJSON(w, status, body)
}

// writable probes the database (keystore.Store.Writable: cached for a
// second, so a probe flood costs nothing) and logs a fault, rate-limited.
func (s *Server) writable(r *http.Request) error {
	err := s.store.Writable(r.Context())
	if keystore.FaultKind(err) != "" {
		s.logFault(r, err)
	}
	return err
}

// databaseState names err for the admin /readyz.
func databaseState(err error) string {
	switch {
	case keystore.FaultKind(err) != "":
		return keystore.FaultKind(err)
	case errors.Is(err, keystore.ErrClosed):
		return "closed"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return keystore.FaultTimeout
	}
	return "error"
}

// Admin returns the handler of the admin listener: /healthz, /readyz with
// the detail, and /metrics when the server counts into metrics (WithMetrics).
// With others (the servers of further domains on one listener), /readyz
// also lists every domain's component. It has no authentication: it is
// for loopback, or a network only monitoring reaches.
func (s *Server) Admin(others ...*Server) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { s.adminReadyz(w, r, others) })
	if s.metrics != nil {
		mux.Handle("GET /metrics", s.metrics.Handler())
	}
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.Encode(v)
}

// disabledLink stands in for the component when it is disabled.
type disabledLink struct{}

func (disabledLink) State() string { return "disabled" }
func (disabledLink) CreateAccount(context.Context, string, string) error {
	return invites.ErrLinkDown
}
func (disabledLink) ChangePassword(context.Context, string, string) error {
	return invites.ErrLinkDown
}
func (disabledLink) AccountExists(context.Context, string) (bool, error) {
	return false, invites.ErrLinkDown
}
