package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"xmpp-invites/i18n"
	"xmpp-invites/keystore"
)

//go:embed templates/*.html static/style.css static/portal.css
var pageFS embed.FS

// pageNames are the templates under templates/; each defines "content" and
// is rendered inside layout.html, with the pieces of partials.html.
var pageNames = []string{"landing", "register", "success", "error"}

// portalPageNames are the portal's pages (portal.go), with the pieces of
// portal_partials.html.
var portalPageNames = []string{"login", "confirm", "my", "created", "admin_invites", "admin_keys", "admin_circles", "admin_registrations", "admin_audit"}

// pages serves the landing page and web registration. It keeps what is
// built once at start: the parsed templates, the stylesheet with its CSP
// hash, and the key that signs registration forms.
type pages struct {
	s    *Server
	cat  *i18n.Catalog
	tmpl map[string]*template.Template
	css  template.CSS
	csp  string
	// forms holds the keys that sign forms (formkeys.go).
	forms *formKeyring
	// portalCSS is the stylesheet of the portal's pages: the pages' own
	// and the portal's additions, which the invitee's pages do not carry.
	portalCSS template.CSS
	portalCSP string
	// signinLimit bounds the sign-in links one client address asks for.
	signinLimit *failureLimiter
	// cookiePath and cookieSecure are the language cookie's attributes:
	// the public URL's path, and Secure when it is https.
	cookiePath   string
	cookieSecure bool
	// origin is public_url's scheme and host, which the language menu's
	// absolute links start with.
	origin string
	// apps is the landing page's client list, rendered on first use for
	// each language and platform the visitor may be on: it is most of the
	// page, and it never changes while the process runs.
	apps     sync.Map // appsKey → template.HTML
	qr       qrCache
	landings landingCache
}

type appsKey struct{ lang, platform string }

// landingKey is everything a landing page's body depends on that can
// change while the invite stays usable (the inviter's name aside, which the
// cache's short lifetime covers).
type landingKey struct {
	token, platform, until, lang, query string
	uses                                int
}

// Landing page cache bounds: a shared invite link (a group invite posted
// somewhere) is opened by many people at once; a short lifetime keeps the
// inviter's name and the relative expiry current.
const (
	landingCacheSize = 128
	landingCacheTTL  = time.Minute
)

// landingCache keeps recently rendered landing pages. The invite's state is
// looked up before every hit, so a used, expired or revoked invite never
// shows a cached page.
type landingCache struct {
	mu sync.Mutex
	m  map[landingKey]landingEntry
}

type landingEntry struct {
	body []byte
	at   time.Time
}

func (c *landingCache) get(k landingKey, now time.Time) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || now.Sub(e.at) > landingCacheTTL {
		return nil, false
	}
	return e.body, true
}

func (c *landingCache) put(k landingKey, body []byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= landingCacheSize {
		c.m = make(map[landingKey]landingEntry, landingCacheSize)
	}
	c.m[k] = landingEntry{body: body, at: now}
}

// platforms are the values platformOf returns.
var platforms = []string{"", "Android", "iOS", "macOS", "Windows", "Linux"}

// registerPages adds the landing page and web registration.
func (s *Server) registerPages(mux routes) error {
	p, err := newPages(s)
	if err != nil {
		return err
	}
	mux.Handle("GET /invite", p.handle(p.landing))
	mux.Handle("GET /invite/{token}", p.handle(p.landing))
	mux.Handle("/invite", p.handle(p.methodNotAllowed("GET, HEAD")))
	mux.Handle("/invite/{token}", p.handle(p.methodNotAllowed("GET, HEAD")))
	if len(s.cfg.Branding.Logo) > 0 {
		mux.Handle("GET /logo", http.HandlerFunc(p.logo))
	}
	mux.Handle("GET /register", p.handle(p.registerForm))
	mux.Handle("POST /register", p.handle(p.register))
	mux.Handle("/register", p.handle(p.methodNotAllowed("GET, HEAD, POST")))
	p.registerPortal(mux)
	return nil
}

func newPages(s *Server) (*pages, error) {
	css, err := pageFS.ReadFile("static/style.css")
	if err != nil {
		return nil, fmt.Errorf("pages: %w", err)
	}
	portalCSS, err := pageFS.ReadFile("static/portal.css")
	if err != nil {
		return nil, fmt.Errorf("pages: %w", err)
	}
	portalCSS = minifyCSS(append(append(append([]byte(nil), css...), portalCSS...), brandCSS(s.cfg.Branding.AccentColor)...))
	css = minifyCSS(append(css, brandCSS(s.cfg.Branding.AccentColor)...))
	sum := sha256.Sum256(css)
	portalSum := sha256.Sum256(portalCSS)
	p := &pages{
		portalCSS: template.CSS(portalCSS),
		// Portal routes allow both stylesheets: their error pages are the
		// invitee's pages.
		portalCSP: "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "' 'sha256-" +
			base64.StdEncoding.EncodeToString(portalSum[:]) + "'; " +
			"img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
		s:    s,
		cat:  s.cfg.Catalog,
		tmpl: make(map[string]*template.Template, len(pageNames)),
		css:  template.CSS(css),
		// The stylesheet is inlined and allowed by its hash, so no style
		// attribute or injected <style> can apply, and nothing is loaded
		// from anywhere: the QR code is inline SVG.
		csp: "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
			"img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
		forms:       newFormKeyring(s.store),
		signinLimit: newFailureLimiter(signinsPerClient-1, signinClientWindow, maxTrackedClients),
	}
	if pub, err := url.Parse(s.svc.Config().PublicURL); err == nil {
		p.cookiePath = strings.TrimSuffix(pub.Path, "/") + "/"
		p.origin = pub.Scheme + "://" + pub.Host
		p.cookieSecure = pub.Scheme == "https"
	}
	if err := p.parseTemplates(); err != nil {
		return nil, err
	}
	if err := p.tryTemplates(); err != nil {
		return nil, err
	}
	return p, nil
}

// appsData is the client list section.
type appsData struct {
	L      i18n.HTML
	Groups []platformGroup
}

// appsHTML is the client list in a language, the platform's apps first.
func (p *pages) appsHTML(l *i18n.Localizer, platform string) (template.HTML, error) {
	k := appsKey{l.Lang(), platform}
	if h, ok := p.apps.Load(k); ok {
		return h.(template.HTML), nil
	}
	var buf bytes.Buffer
	d := appsData{L: i18n.HTML{Localizer: l}, Groups: groupClients(localClients(p.s.cfg.Clients, l.Lang()), platform)}
	if err := p.tmpl["landing"].ExecuteTemplate(&buf, "apps", d); err != nil {
		return "", fmt.Errorf("pages: client list: %w", err)
	}
	h := template.HTML(buf.String())
	p.apps.Store(k, h)
	return h, nil
}

// localClients is the client list with its descriptions in a language.
func localClients(clients []Client, lang string) []Client {
	out := make([]Client, len(clients))
	for i, c := range clients {
		if d, ok := c.Descriptions[lang]; ok {
			c.Description = d
		}
		out[i] = c
	}
	return out
}

// pageFunc is a page handler; l speaks the visitor's language. A returned
// *pageError is shown as it says; any other error is logged and shown as a
// 500 page.
type pageFunc func(w http.ResponseWriter, r *http.Request, l *i18n.Localizer) error

// pageError is an error page: its status, a title and a friendly message,
// and optionally a link onward. Args fill the placeholders of Title and
// Msg.
type pageError struct {
	Status    int
	Title     i18n.Message
	Msg       i18n.Message
	Args      []any
	LinkURL   string
	LinkLabel i18n.Message
}

func (e *pageError) Error() string { return fmt.Sprintf("%d %s", e.Status, e.Title.Text) }

// errorData is the error page.
type errorData struct {
	page
	Msg       template.HTML
	LinkURL   string
	LinkLabel template.HTML
}

// page is what every template needs.
type page struct {
	L      i18n.HTML
	Logo   string // the operator's logo's URL; "": the built-in mark
	Notice string
	Legal  []legalLink
	Lang   string
	Dir    string
	Langs  []langLink
	Site   string
	Domain string
	Title  string
	CSS    template.CSS
	Slim   bool // one narrow column: forms and messages
}

// langLink is an entry of the language menu.
type langLink struct {
	Tag, Name, URL string
	Current        bool
}

// XMPPLink links the word XMPP to what it is, in the footer.
func (page) XMPPLink() template.HTML {
	return `<a href="https://xmpp.org/about/" rel="noopener noreferrer">XMPP</a>`
}

// base is the page in the visitor's language, with a language menu whose
// links add lang= to this page's query.
func (p *pages) base(r *http.Request, l *i18n.Localizer, title string) page {
	cfg := p.s.svc.Config()
	pg := page{
		L: i18n.HTML{Localizer: l}, Lang: l.Lang(), Dir: l.Dir(), Langs: p.langLinks(l, r, menuQuery(r)),
		Site: cfg.SiteName, Domain: cfg.Domain, Title: title, CSS: p.css,
		Notice: p.s.cfg.Branding.Notice, Legal: p.legalLinks(l),
	}
	if len(p.s.cfg.Branding.Logo) > 0 {
		pg.Logo = p.cookiePath + "logo"
	}
	return pg
}

func (p *pages) slim(r *http.Request, l *i18n.Localizer, title string) page {
	pg := p.base(r, l, title)
	pg.Slim = true
	return pg
}

// menuQuery is the query the language menu's links keep: this page's,
// without lang=.
func menuQuery(r *http.Request) string {
	q := r.URL.RawQuery
	if !strings.Contains(q, "lang=") {
		return q
	}
	parts := strings.Split(q, "&")
	kept := parts[:0]
	for _, part := range parts {
		if !strings.HasPrefix(part, "lang=") {
			kept = append(kept, part)
		}
	}
	return strings.Join(kept, "&")
}

// langLinks is the language menu: every locale, linked by the absolute URL
// of this page (public_url's origin and the request's path) with query and
// lang= added. A path outside public_url's (a 404 there) links to the
// prefix's root instead.
func (p *pages) langLinks(l *i18n.Localizer, r *http.Request, query string) []langLink {
	path := r.URL.EscapedPath()
	if !strings.HasPrefix(path, p.cookiePath) && path+"/" != p.cookiePath {
		path = p.cookiePath
	}
	if r.Method == http.MethodPost {
		if get, ok := getPageOf(strings.TrimPrefix(path, strings.TrimSuffix(p.cookiePath, "/"))); ok {
			path, query = strings.TrimSuffix(p.cookiePath, "/")+get, ""
		}
	}
	prefix := p.origin + path + "?"
	if query != "" {
		prefix += query + "&"
	}
	locales := p.cat.Locales()
	links := make([]langLink, len(locales))
	for i, loc := range locales {
		links[i] = langLink{Tag: loc.Tag, Name: loc.Name, URL: prefix + "lang=" + loc.Tag, Current: loc.Tag == l.Lang()}
	}
	return links
}

// getPageOf is the page a portal form's answer belongs to, for the
// language menu: the form's own URL takes only POST.
func getPageOf(rel string) (string, bool) {
	switch {
	case rel == "/login", rel == "/logout":
		return "/login", true
	case strings.HasPrefix(rel, "/my/"):
		return "/my", true
	case strings.HasPrefix(rel, "/admin/"):
		section, _, _ := strings.Cut(strings.TrimPrefix(rel, "/admin/"), "/")
		return "/admin/" + section, true
	}
	return "", false
}

// langCookie keeps the language a visitor chose from the menu.
const (
	langCookie    = "lang"
	langCookieAge = 365 * 24 * time.Hour
)

// localizer picks the visitor's language: lang= in the query (kept in a
// cookie), else the cookie, else Accept-Language, else the default. It
// sets the response headers that say so.
func (p *pages) localizer(w http.ResponseWriter, r *http.Request) *i18n.Localizer {
	var l *i18n.Localizer
	if strings.Contains(r.URL.RawQuery, "lang=") {
		if tag := r.URL.Query().Get("lang"); tag != "" {
			if found, ok := p.cat.Lookup(tag); ok {
				l = found
				http.SetCookie(w, &http.Cookie{Name: langCookie, Value: l.Lang(), Path: p.cookiePath,
					MaxAge: int(langCookieAge / time.Second), HttpOnly: true, Secure: p.cookieSecure, SameSite: http.SameSiteLaxMode})
			}
		}
	}
	if l == nil {
		if c, err := r.Cookie(langCookie); err == nil {
			l, _ = p.cat.Lookup(c.Value)
		}
	}
	if l == nil {
		l = p.cat.Accept(r.Header.Get("Accept-Language"))
	}
	h := w.Header()
	h.Set("Content-Language", l.Lang())
	h.Add("Vary", "Accept-Language, Cookie")
	return l
}

func (p *pages) handle(h pageFunc) http.Handler { return p.handleCSP(p.csp, h) }

// handlePortal serves a portal page, whose stylesheet is the portal's.
func (p *pages) handlePortal(h pageFunc) http.Handler { return p.handleCSP(p.portalCSP, h) }

func (p *pages) handleCSP(csp string, h pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		// Tokens are in page URLs: never send them on as a referrer, never
		// keep them in a cache.
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Cache-Control", "no-store")
		l := p.localizer(w, r)
		if err := h(w, r, l); err != nil {
			p.fail(w, r, l, err)
		}
	})
}

func (p *pages) fail(w http.ResponseWriter, r *http.Request, l *i18n.Localizer, err error) {
	var pe *pageError
	switch {
	case errors.As(err, &pe):
	case errors.Is(err, keystore.ErrUnavailable):
		p.s.logFault(r, err)
		pe = errPageStorage
	default:
		// r.Pattern, not the URL: the URL may hold an invite token.
		p.s.log.Error("page failed", "route", r.Pattern, "err", err)
		pe = errPageInternal
	}
	switch {
	case pe == errPageStorage:
		w.Header().Set("Retry-After", strconv.FormatInt(retrySeconds(storageRetryAfter), 10))
	case pe.Status == http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "60")
	}
	h := i18n.HTML{Localizer: l}
	title := l.M(pe.Title, pe.Args...)
	data := errorData{page: p.slim(r, l, title), Msg: h.M(pe.Msg, pe.Args...), LinkURL: pe.LinkURL}
	if !pe.LinkLabel.IsZero() {
		data.LinkLabel = h.M(pe.LinkLabel)
	}
	if err := p.render(w, pe.Status, "error", data); err != nil {
		p.s.log.Error("render error page", "err", err)
		http.Error(w, title, pe.Status)
	}
}

// render executes a page into a buffer first, so a template failure becomes
// a clean 500 instead of half a page.
func (p *pages) render(w http.ResponseWriter, status int, name string, data any) error {
	buf := renderBufs.Get().(*bytes.Buffer)
	defer putRenderBuf(buf)
	if err := p.tmpl[name].ExecuteTemplate(buf, "layout", data); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	writePage(w, status, buf.Bytes())
	return nil
}

func writePage(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

func putRenderBuf(buf *bytes.Buffer) {
	if buf.Cap() <= 1<<20 {
		buf.Reset()
		renderBufs.Put(buf)
	}
}

// renderBufs holds page buffers: a landing page is about 18 KB, and growing
// a fresh buffer to that size was a fifth of its cost.
var renderBufs = sync.Pool{New: func() any {
	b := new(bytes.Buffer)
	b.Grow(32 << 10)
	return b
}}

func (p *pages) methodNotAllowed(allow string) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, l *i18n.Localizer) error {
		w.Header().Set("Allow", allow)
		return &pageError{Status: http.StatusMethodNotAllowed,
			Title: i18n.Msg("error_method_title", "Not allowed"),
			Msg:   i18n.Msg("error_method", "This page cannot be used that way. Open the invite link in your browser.")}
	}
}

// Error pages of invites that cannot be used, and of failures.
var (
	errPageNotFound = &pageError{Status: http.StatusNotFound,
		Title: i18n.Msg("error_not_found_title", "Invite not found"),
		Msg:   i18n.Msg("error_not_found", "This link does not match any invite. Check that you opened or copied the whole link, or ask the person who invited you to send it again.")}
	errPageExpired = &pageError{Status: http.StatusGone,
		Title: i18n.Msg("error_expired_title", "This invite has expired"),
		Msg:   i18n.Msg("error_expired", "Invites are only valid for a limited time, and this one has run out. Ask the person who invited you for a new link.")}
	errPageUsed = &pageError{Status: http.StatusGone,
		Title: i18n.Msg("error_used_title", "This invite has already been used"),
		Msg:   i18n.Msg("error_used", "If you used it yourself, you are all set: sign in to your app with your address and password. Otherwise, ask the person who invited you for a new link.")}
	errPageRevoked = &pageError{Status: http.StatusGone,
		Title: i18n.Msg("error_revoked_title", "This invite was withdrawn"),
		Msg:   i18n.Msg("error_revoked", "Whoever created this invite has cancelled it. If you still want to join, ask them for a new link.")}
	// errPageStorage: the database cannot be written (disk full,
	// read-only), so nothing could be saved, a use of the invite included.
	errPageStorage = &pageError{Status: http.StatusServiceUnavailable,
		Title: i18n.Msg("error_storage_title", "Please try again in a few minutes"),
		Msg:   i18n.Msg("error_storage", "We cannot save anything right now because of a problem on our side. Your invite stays valid: please try again later.")}
	errPageLinkDown = &pageError{Status: http.StatusServiceUnavailable,
		Title: i18n.Msg("error_link_down_title", "Please try again in a minute"),
		Msg:   i18n.Msg("error_link_down", "The chat server cannot be reached right now. Nothing was used up: your invite is still valid.")}
	errPageInternal = &pageError{Status: http.StatusInternalServerError,
		Title: i18n.Msg("error_internal_title", "Something went wrong"),
		Msg:   i18n.Msg("error_internal", "This is a problem on our side. Please try again in a few minutes.")}
)

// inviteError turns the store's verdict on an invite into its page.
func inviteError(err error) error {
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return errPageNotFound
	case errors.Is(err, keystore.ErrExpired):
		return errPageExpired
	case errors.Is(err, keystore.ErrUsedUp):
		return errPageUsed
	case errors.Is(err, keystore.ErrRevoked):
		return errPageRevoked
	}
	return err
}

// usableInvite returns the invite with this token if it can still be used.
func (p *pages) usableInvite(ctx context.Context, token string) (keystore.Invite, error) {
	inv, err := p.s.store.InviteByToken(ctx, token)
	if err != nil {
		return keystore.Invite{}, inviteError(err)
	}
	if err := inv.Err(p.s.now()); err != nil {
		return keystore.Invite{}, inviteError(err)
	}
	return inv, nil
}

// landingData is the landing page.
type landingData struct {
	page
	Kind        string // account, username (fixed), reset or contact
	JID         string // the fixed account, the reset account or the contact to add
	Inviter     string
	ExpiresISO  string
	ExpiresText string
	ExpiresIn   string
	Never       bool // the invite does not expire: ExpiresText says so, the others are empty
	UsesLeft    int
	RegisterURL string
	CanRegister bool
	RosterURI   template.URL
	QR          template.HTML
	Apps        template.HTML // pages.apps for the visitor's language and platform
}

// JIDHTML is the address as a heading shows it.
func (d landingData) JIDHTML() template.HTML { return span("jid", d.JID) }

// JIDStrong is the address as a sentence stresses it.
func (d landingData) JIDStrong() template.HTML { return strong(d.JID) }

// strong is s, escaped, in <strong>.
func strong(s string) template.HTML {
	return template.HTML("<strong>" + template.HTMLEscapeString(s) + "</strong>")
}

// span is s, escaped, in a <span> of a class.
func span(class, s string) template.HTML {
	return template.HTML(`<span class="` + class + `" dir="ltr">` + template.HTMLEscapeString(s) + "</span>")
}

// landingToken reads the token from /invite/TOKEN, /invite?TOKEN or, for
// links that were rewritten on the way, /invite?t=TOKEN.
func landingToken(r *http.Request) string {
	if t := r.PathValue("token"); t != "" {
		return t
	}
	q := r.URL.RawQuery
	if i := strings.IndexByte(q, '&'); i >= 0 {
		q = q[:i]
	}
	if t, ok := strings.CutPrefix(q, "t="); ok {
		q = t
	}
	return q
}

func (p *pages) landing(w http.ResponseWriter, r *http.Request, l *i18n.Localizer) error {
	token := landingToken(r)
	inv, err := p.usableInvite(r.Context(), token)
	if err != nil {
		return err
	}
	if inv.Type == keystore.TypeContact {
		// Apps that know XEP-0401 find the roster URI here too. An account
		// invite's register URI is not offered: the XMPP server does not
		// know the component's tokens, so in-band registration would fail.
		w.Header().Set("Link", "<"+p.s.svc.URI(inv, token)+">; rel=\"alternate\"")
	}
	w.Header().Add("Vary", "User-Agent")
	now := p.s.now()
	platform := platformOf(r.UserAgent())
	until := "never"
	if !inv.NeverExpires() {
		until = l.Until(inv.Expires.Sub(now))
	}
	key := landingKey{token: token, platform: platform, uses: inv.Uses, until: until,
		lang: l.Lang(), query: menuQuery(r)}
	if body, ok := p.landings.get(key, now); ok {
		writePage(w, http.StatusOK, body)
		return nil
	}
	cfg := p.s.svc.Config()
	landingURL := p.s.svc.LandingURL(token)
	qr, err := p.qr.svg(landingURL, l.T("landing_qr_alt", "QR code of this invite's link"))
	if err != nil {
		return err
	}
	apps, err := p.appsHTML(l, platform)
	if err != nil {
		return err
	}
	d := landingData{
		page:        p.base(r, l, l.T("landing_title", "You're invited")),
		Kind:        inviteKind(inv),
		Inviter:     p.inviter(r.Context(), l, inv),
		ExpiresISO:  i18n.ISO(inv.Expires),
		ExpiresText: l.Date(inv.Expires),
		ExpiresIn:   key.until,
		UsesLeft:    inv.MaxUses - inv.Uses,
		RegisterURL: p.s.svc.RegisterURL(token),
		CanRegister: inv.AllowRegister,
		QR:          qr,
		Apps:        apps,
	}
	if inv.NeverExpires() {
		d.Never, d.ExpiresISO, d.ExpiresIn = true, "", ""
		d.ExpiresText = l.T("landing_never_expires", "This invite does not expire.")
	}
	if inv.Username != "" {
		d.JID = inv.Username + "@" + cfg.Domain
	}
	switch inv.Type {
	case keystore.TypeContact:
		d.Title = l.T("landing_contact_page_title", "Chat with {{.JID}}", "JID", d.JID)
		d.RosterURI = template.URL(p.s.svc.URI(inv, token))
	case keystore.TypeReset:
		d.Title = l.T("landing_reset_page_title", "Reset your password")
	}
	buf := renderBufs.Get().(*bytes.Buffer)
	defer putRenderBuf(buf)
	if err := p.tmpl["landing"].ExecuteTemplate(buf, "layout", d); err != nil {
		return fmt.Errorf("render landing: %w", err)
	}
	body := bytes.Clone(buf.Bytes())
	p.landings.put(key, body, now)
	writePage(w, http.StatusOK, body)
	return nil
}

// inviteKind names what the invite is for, as the templates tell it apart.
func inviteKind(inv keystore.Invite) string {
	switch {
	case inv.Type == keystore.TypeContact:
		return "contact"
	case inv.Type == keystore.TypeReset:
		return "reset"
	case inv.Username != "":
		return "username"
	}
	return "account"
}

// inviter is who made the invite, as a person receiving it understands it.
//
// A contact invite names only the contact, whoever minted it. A key's
// invites show the key's public label (or the site name), never its name,
// which is the operator's own (e.g. "billing-webhook-prod").
func (p *pages) inviter(ctx context.Context, l *i18n.Localizer, inv keystore.Invite) string {
	cfg := p.s.svc.Config()
	if inv.Type == keystore.TypeContact {
		return inv.Username + "@" + cfg.Domain
	}
	if jid, ok := strings.CutPrefix(inv.Creator, "xmpp:"); ok {
		return jid
	}
	if id, ok := strings.CutPrefix(inv.Creator, "key:"); ok {
		if k, err := p.s.store.GetKey(ctx, id); err == nil && k.Label != "" {
			return k.Label
		}
		return cfg.SiteName
	}
	return l.T("landing_inviter_admins", "the {{.Site}} admins", "Site", cfg.SiteName)
}

// platformOrder is the order platforms are listed in; others follow in the
// order the client list first names them.
var platformOrder = []string{"Android", "iOS", "macOS", "Windows", "Linux"}

// platformGroup is the clients recommended for one platform.
type platformGroup struct {
	Name    string
	Yours   bool // the visitor's browser seems to run on it
	Clients []Client
}

// groupClients groups clients by platform, the visitor's platform first.
func groupClients(clients []Client, yours string) []platformGroup {
	names := append([]string(nil), platformOrder...)
	for _, c := range clients {
		for _, pl := range c.Platforms {
			if !containsFold(names, pl) {
				names = append(names, pl)
			}
		}
	}
	var groups []platformGroup
	for _, name := range names {
		g := platformGroup{Name: name, Yours: strings.EqualFold(name, yours)}
		for _, c := range clients {
			if containsFold(c.Platforms, name) {
				g.Clients = append(g.Clients, c)
			}
		}
		if len(g.Clients) == 0 {
			continue
		}
		if g.Yours {
			groups = append([]platformGroup{g}, groups...)
		} else {
			groups = append(groups, g)
		}
	}
	return groups
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// platformOf guesses the visitor's platform from the User-Agent, only to
// list its apps first.
func platformOf(ua string) string {
	switch {
	case strings.Contains(ua, "Android"):
		return "Android"
	case strings.Contains(ua, "iPhone"), strings.Contains(ua, "iPad"), strings.Contains(ua, "iPod"):
		return "iOS"
	case strings.Contains(ua, "Macintosh"):
		return "macOS"
	case strings.Contains(ua, "Windows"):
		return "Windows"
	case strings.Contains(ua, "Linux"), strings.Contains(ua, "X11"):
		return "Linux"
	}
	return ""
}

// clientByID returns the configured client with this ID.
func (p *pages) clientByID(id string) (Client, bool) {
	if id == "" {
		return Client{}, false
	}
	for _, c := range p.s.cfg.Clients {
		if c.ID == id {
			return c, true
		}
	}
	return Client{}, false
}

// minifyCSS drops the stylesheet's comments and the spaces a browser does
// not need: it is inlined in every page, where it is a third of an English
// registration form.
func minifyCSS(css []byte) []byte {
	out := make([]byte, 0, len(css))
	space := false
	for i := 0; i < len(css); i++ {
		c := css[i]
		if c == '/' && i+1 < len(css) && css[i+1] == '*' {
			end := bytes.Index(css[i+2:], []byte("*/"))
			if end < 0 {
				break
			}
			i += end + 3
			continue
		}
		if c == '"' || c == '\'' {
			// Strings are kept as they are.
			end := bytes.IndexByte(css[i+1:], c)
			if end < 0 {
				end = len(css) - i - 2
			}
			if space && len(out) > 0 && !strings.ContainsRune("{};:,>(", rune(out[len(out)-1])) {
				out = append(out, ' ')
			}
			space = false
			out = append(out, css[i:i+end+2]...)
			i += end + 1
			continue
		}
		if c == ' ' || c == '\n' || c == '\t' || c == '\r' {
			space = true
			continue
		}
		if space && len(out) > 0 && !strings.ContainsRune("{};:,>", rune(out[len(out)-1])) && !strings.ContainsRune("{};:,>)", rune(c)) {
			out = append(out, ' ')
		}
		space = false
		if c == '}' && len(out) > 0 && out[len(out)-1] == ';' {
			out = out[:len(out)-1]
		}
		out = append(out, c)
	}
	return out
}
