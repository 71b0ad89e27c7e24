// Package component is the XEP-0114 link between xmpp-invites and the XMPP
// server. It keeps the link up by itself (dial, handshake, read loop, pings,
// reconnect with capped backoff), answers service discovery, ping and
// version queries, offers the XEP-0401 ad-hoc commands and a chat interface
// for minting invites in-band, and asks the server to create and change
// accounts (XEP-0133) and to add roster entries (XEP-0356).
//
// A *Component implements invites.Accounts and invites.Followups: the HTTP
// side creates accounts through it without knowing about XMPP.
package component

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
	"mellium.im/xmpp/jid"

	"xmpp-invites/i18n"
	"xmpp-invites/invites"
	"xmpp-invites/keystore"
	"xmpp-invites/metrics"
)

// Config configures a Component for one domain on a link of its own (New):
// the Link and one Domain in one struct. It is filled from the [component]
// section of the config file and a few invite rules.
type Config struct {
	// JID is the component's address, e.g. invites.example.com.
	JID string
	// Server is host:port of the XMPP server's component listener.
	Server string
	// Secret is the shared component secret (XEP-0114). It is never logged.
	Secret string
	// Domain is the XMPP domain whose accounts are managed; XEP-0133
	// commands are sent to it.
	Domain string
	// Admins are bare JIDs allowed to create account invites in-band.
	Admins []string
	// PingInterval is how often the component pings the server to find a
	// dead link; 0 means 60 s.
	PingInterval time.Duration
	// UserInvitesPerDay is user_invites_per_day, for the answers that
	// name it; the invite service enforces it (invites.CreateFor).
	UserInvitesPerDay int
	// Version is reported to XEP-0092 software version queries.
	Version string
	// SiteName names the site in sign-in messages; empty: Domain.
	SiteName string
	// Catalog holds the languages of the texts users see: command names,
	// form labels, notes, error texts, chat answers and notices. Each
	// answer follows the xml:lang of the stanza it answers; nil means the
	// embedded catalogues with English as the default.
	Catalog *i18n.Catalog
}

// LogValue keeps the secret out of logs when a Config is logged whole.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("jid", c.JID), slog.String("server", c.Server), slog.String("domain", c.Domain),
		slog.Any("admins", c.Admins), slog.Duration("ping_interval", c.PingInterval),
	)
}

// Link configures the XEP-0114 link: one stream under one component JID,
// which serves one or more domains (NewLink).
type Link struct {
	// JID is the component's address, e.g. invites.example.com.
	JID string
	// Server is host:port of the XMPP server's component listener.
	Server string
	// Secret is the shared component secret (XEP-0114). It is never logged.
	Secret string
	// PingInterval is how often the component pings the server to find a
	// dead link; 0 means 60 s.
	PingInterval time.Duration
	// Version is reported to XEP-0092 software version queries.
	Version string
}

// LogValue keeps the secret out of logs when a Link is logged whole.
func (l Link) LogValue() slog.Value {
	return slog.GroupValue(slog.String("jid", l.JID), slog.String("server", l.Server),
		slog.Duration("ping_interval", l.PingInterval))
}

// Domain is one XMPP domain a link serves: its accounts are managed with
// XEP-0133 commands sent to it, and its users' in-band requests are
// answered under its rules.
type Domain struct {
	// Name is the XMPP domain, e.g. example.com.
	Name string
	// Admins are bare JIDs allowed to create account invites in-band.
	Admins []string
	// UserInvitesPerDay is user_invites_per_day, for the answers that
	// name it; the invite service enforces it (invites.CreateFor).
	UserInvitesPerDay int
	// SiteName names the site in sign-in messages; empty: Name.
	SiteName string
	// Catalog holds the languages of the texts the domain's users see;
	// nil means the embedded catalogues with English as the default.
	Catalog *i18n.Catalog
	// Minter makes the domain's invites (its invites.Service).
	Minter Minter
}

// Minter is what the component needs from the invite rules;
// *invites.Service satisfies it.
type Minter interface {
	// CreateFor creates an invite for a person under their rights.
	CreateFor(ctx context.Context, p invites.Person, r invites.Request) (invites.Created, error)
	// ListFor lists the invites a person may see (admins: all; others:
	// their own).
	ListFor(ctx context.Context, p invites.Person, o keystore.ListOptions) ([]keystore.Invite, error)
	// RevokeFor revokes an invite by ID for a person (their own; admins:
	// any); others' invites are keystore.ErrNotFound.
	RevokeFor(ctx context.Context, p invites.Person, id string) (keystore.Invite, error)
	// Config returns the invite rules (max_ttl for the validities the
	// forms offer).
	Config() invites.Config
	// SignInLink makes a sign-in link for the portal (the chat word
	// login); over the per-address limit the error is a
	// *keystore.LimitError.
	SignInLink(ctx context.Context, jid, from string, binding []byte) (string, error)
}

// ErrNotAuthorized means the server rejected the component's secret. It is
// the only error that makes Run give up: retrying cannot fix it.
var ErrNotAuthorized = errors.New("the XMPP server rejected component.secret (not-authorized)")

// ErrNotAdmin means the server refused an XEP-0133 command: it did not grant
// the component admin rights on the domain. Operators fix it in the server's
// configuration (see the README).
var ErrNotAdmin = errors.New("the XMPP server did not grant admin rights to the component")

// Timing defaults. Tests shorten some of them through the unexported
// fields of Component.
const (
	defaultPingInterval = 60 * time.Second
	pingTimeout         = 10 * time.Second
	handshakeTimeout    = 10 * time.Second
	backoffMin          = 100 * time.Millisecond
	backoffMax          = 2 * time.Second
	backoffJitter       = 0.2
	// healthyAfter is how long a link must stay up before a loss starts
	// the backoff from backoffMin again. A server that accepts and drops at
	// once therefore meets a growing delay instead of a reconnect storm.
	healthyAfter = 30 * time.Second
	// closeWait bounds how long a closing stream waits for the server's
	// </stream:stream>.
	closeWait = 2 * time.Second
	// mintTimeout bounds one invite creation for an in-band request.
	mintTimeout = 10 * time.Second
	// privilegeWait is how long the link-up report waits for the XEP-0356
	// advertisement after the command probe has answered.
	privilegeWait = 500 * time.Millisecond
)

// Component is the XMPP side of xmpp-invites for one domain: its view of
// a link to the server, which it may share with other domains (NewLink,
// For). Create it with New or NewLink, run the link with Run (once, on any
// view); the account methods may be called from any goroutine and act on
// the view's domain.
//
// While the link is down the account methods fail at once with an error
// wrapping invites.ErrLinkDown. When the link ends while the server is
// still working on a request, the error wraps both invites.ErrLinkDown and
// context.Canceled: the request may have been carried out, and
// invites.Service.Redeem then asks AccountExists before giving the use back.
type Component struct {
	*hub // the link, shared by every domain it serves

	domain jid.JID
	admins map[string]bool
	minter Minter
	log    *slog.Logger
	m      *metrics.Metrics
	cat    *i18n.Catalog
	site   string // SiteName, else the domain
	perDay int    // user_invites_per_day

	rights atomic.Pointer[Report] // the last report announce could make
}

// hub is the link itself: one stream under one component JID, and the
// domains it serves. Stanzas that arrive go to the view of the sender's
// domain (route).
type hub struct {
	cfg    Link
	jid    jid.JID
	log    *slog.Logger
	views  []*Component          // the served domains, in configuration order
	byName map[string]*Component // views by domain
	langs  langMemory            // users' last languages, for notices

	cur     atomic.Pointer[link] // nil while the link is down
	running atomic.Bool

	upMu sync.Mutex
	upCh chan struct{} // closed while the link is up

	replies  replyLimiter
	refusals refusalLog

	// Hooks and timings, replaced by tests.
	dial         func(ctx context.Context, network, addr string) (net.Conn, error)
	sleep        func(ctx context.Context, d time.Duration) bool
	now          func() time.Time
	jitter       func() float64 // in [0, 1)
	pingTimeout  time.Duration
	healthyAfter time.Duration
	closeWait    time.Duration
}

// New validates cfg and returns a Component for one domain on a link of
// its own. log and m may be nil.
func New(cfg Config, minter Minter, log *slog.Logger, m *metrics.Metrics) (*Component, error) {
	if minter == nil {
		return nil, errors.New("component: no invite minter")
	}
	return newLink(cfg.link(), []Domain{cfg.served(minter)}, log, m)
}

// NewLink validates link and domains and returns the view of the first
// domain of one link serving all of them; For returns the others'. Each
// domain needs its Minter. The server must make the link's JID an admin
// of every domain (docs/servers.md). log and m may be nil.
func NewLink(link Link, domains []Domain, log *slog.Logger, m *metrics.Metrics) (*Component, error) {
	for _, d := range domains {
		if d.Minter == nil {
			return nil, fmt.Errorf("component: no invite minter for %s", d.Name)
		}
	}
	return newLink(link, domains, log, m)
}

func newLink(link Link, domains []Domain, log *slog.Logger, m *metrics.Metrics) (*Component, error) {
	if err := link.Validate(); err != nil {
		return nil, err
	}
	me := jid.MustParse(link.JID)
	if err := validateDomains(me, domains); err != nil {
		return nil, err
	}
	if link.PingInterval == 0 {
		link.PingInterval = defaultPingInterval
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &hub{
		cfg: link, jid: me, log: log,
		byName:       make(map[string]*Component, len(domains)),
		upCh:         make(chan struct{}),
		dial:         (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext,
		sleep:        sleepCtx,
		now:          time.Now,
		jitter:       rand.Float64,
		pingTimeout:  pingTimeout,
		healthyAfter: healthyAfter,
		closeWait:    closeWait,
	}
	h.replies.now = func() time.Time { return h.now() }
	h.refusals.now = func() time.Time { return h.now() }
	for _, d := range domains {
		domain := jid.MustParse(d.Name).Domain()
		admins := make(map[string]bool, len(d.Admins))
		for _, a := range d.Admins {
			admins[jid.MustParse(strings.TrimSpace(a)).Bare().String()] = true
		}
		cat := d.Catalog
		if cat == nil {
			var err error
			if cat, err = i18n.New(""); err != nil {
				return nil, fmt.Errorf("component: %w", err)
			}
		}
		site := d.SiteName
		if site == "" {
			site = domain.String()
		}
		vlog := log
		if len(domains) > 1 {
			vlog = log.With("domain", domain.String())
		}
		c := &Component{hub: h, domain: domain, admins: admins, minter: d.Minter,
			log: vlog, m: m.ForDomain(domain.String()), cat: cat, site: site, perDay: d.UserInvitesPerDay}
		h.views = append(h.views, c)
		h.byName[domain.String()] = c
	}
	return h.views[0], nil
}

// For returns the view of domain on the same link, or nil when the link
// does not serve it.
func (c *Component) For(domain string) *Component {
	j, err := jid.Parse(domain)
	if err != nil {
		return nil
	}
	return c.byName[j.Domainpart()]
}

// Domain is the domain this view serves.
func (c *Component) Domain() string { return c.domain.String() }

// route returns the view that answers a stanza from the address from: the
// view of its domain; for an address of no served domain, the first view
// whose admins list it (so an outside admin's chat word login works),
// else the first view, which refuses it as a stranger.
func (h *hub) route(from string) *Component {
	if len(h.views) == 1 {
		return h.views[0]
	}
	j, err := jid.Parse(from)
	if err != nil {
		return h.views[0]
	}
	if v := h.byName[j.Domainpart()]; v != nil {
		return v
	}
	bare := j.Bare().String()
	for _, v := range h.views {
		if v.admins[bare] {
			return v
		}
	}
	return h.views[0]
}

// servedNames names the domains of the link, for the answer to a sender
// of none of them.
func (h *hub) servedNames() string {
	names := make([]string, len(h.views))
	for i, v := range h.views {
		names[i] = v.domain.String()
	}
	return strings.Join(names, ", ")
}

// State reports the link state: "up" or "down".
func (c *Component) State() string {
	if c.cur.Load() != nil {
		return "up"
	}
	return "down"
}

// WaitUp blocks until the link is up or ctx ends.
func (c *Component) WaitUp(ctx context.Context) error {
	for {
		c.upMu.Lock()
		ch := c.upCh
		c.upMu.Unlock()
		select {
		case <-ch:
			if c.cur.Load() != nil {
				return nil
			}
			// Went down again in between: wait for the next link.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(10 * time.Millisecond):
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// setUp publishes l as the current link.
func (h *hub) setUp(l *link) {
	h.cur.Store(l)
	h.upMu.Lock()
	close(h.upCh)
	h.upMu.Unlock()
	for _, v := range h.views {
		v.m.LinkUp(true)
	}
}

// setDown withdraws the current link.
func (h *hub) setDown() {
	h.cur.Store(nil)
	h.upMu.Lock()
	h.upCh = make(chan struct{})
	h.upMu.Unlock()
	for _, v := range h.views {
		v.m.LinkUp(false)
	}
}

// sleepCtx waits d or until ctx ends; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// backoff is a capped exponential delay with jitter.
type backoff struct {
	next   time.Duration
	jitter func() float64
}

// delay returns the next delay (±backoffJitter around the base) and
// doubles the base up to backoffMax.
func (b *backoff) delay() time.Duration {
	if b.next < backoffMin {
		b.next = backoffMin
	}
	d := b.next
	b.next = min(2*b.next, backoffMax)
	f := 1 + backoffJitter*(2*b.jitter()-1)
	return time.Duration(float64(d) * f)
}

// reset starts the delays from backoffMin again.
func (b *backoff) reset() { b.next = backoffMin }

// replyLimiter bounds how many chat replies one sender gets, so two bots
// that answer every message cannot loop through the component: a token
// bucket per sender of repliesPerMinute, refilled at that rate
// (golang.org/x/time/rate), read on the component's clock.
type replyLimiter struct {
	mu   sync.Mutex
	now  func() time.Time
	seen map[string]*rate.Limiter
}

const (
	repliesPerMinute = 6
	maxReplySenders  = 10000
)

// allow records a reply to sender and reports whether it may be sent.
func (r *replyLimiter) allow(sender string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil || len(r.seen) > maxReplySenders {
		r.seen = make(map[string]*rate.Limiter)
	}
	l := r.seen[sender]
	if l == nil {
		l = rate.NewLimiter(rate.Every(time.Minute/repliesPerMinute), repliesPerMinute)
		r.seen[sender] = l
	}
	return l.AllowN(r.now(), 1)
}

// refusalLog writes the log line about a refused stanza, at most
// refusalLinesPerMinute a minute across all senders, so a flood of bad
// stanzas cannot flood the log; the next line written tells how many were
// left out.
type refusalLog struct {
	mu         sync.Mutex
	now        func() time.Time
	window     time.Time // start of the current minute
	logged     int       // lines written in it
	suppressed int       // lines left out since the last one written
}

const (
	refusalLinesPerMinute = 10
	// maxLoggedSender bounds the sender logged (a JID has at most 3071
	// bytes; an attribute the server let through as one may not).
	maxLoggedSender = 3071
)

// log records one refused stanza of kind (iq, message, presence) from the
// address in its from attribute, for reason. It never sees the content.
func (r *refusalLog) log(l *slog.Logger, kind, from, reason string) {
	r.mu.Lock()
	now := r.now()
	if now.Sub(r.window) >= time.Minute || now.Before(r.window) {
		r.window, r.logged = now, 0
	}
	if r.logged >= refusalLinesPerMinute {
		r.suppressed++
		r.mu.Unlock()
		return
	}
	r.logged++
	left := r.suppressed
	r.suppressed = 0
	r.mu.Unlock()
	if len(from) > maxLoggedSender {
		from = strings.ToValidUTF8(from[:maxLoggedSender], "") + "…"
	}
	args := []any{"stanza", kind, "from", from, "reason", reason}
	if left > 0 {
		args = append(args, "not_logged_before", left)
	}
	l.Warn("refused a stanza the component cannot read", args...)
}
