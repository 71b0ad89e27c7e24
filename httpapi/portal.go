package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"xmpp-invites/i18n"
	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

// The portal: people and admins sign in with a link the component sends
// them over XMPP (the component never sees a password), then create and
// manage invites in the browser. docs/portal.md tells the design.

// SignInSender is what the portal needs of the XMPP link: sending a
// sign-in link to an address in a chat message. The component does it;
// without one, nobody can sign in.
type SignInSender interface {
	// SendSignIn sends link to the bare JID to, in the user's language as
	// the component knows it, else lang. from says where the request came
	// from; ttl how long the link works.
	SendSignIn(ctx context.Context, to, lang, link, from string, ttl time.Duration) error
}

// Cookies of the portal; both have Path=<prefix>, HttpOnly, SameSite=Lax
// and Secure when public_url is https.
const (
	// sessionCookie holds a session token (stored hashed).
	sessionCookie = "session"
	// signinCookie binds a sign-in link to the browser that asked for it:
	// the link stores the hash of this random value.
	signinCookie    = "signin"
	signinCookieAge = time.Hour
	// signinsPerClient bounds how many sign-in links one client address
	// may ask for in signinClientWindow, whoever they are for.
	signinsPerClient   = 20
	signinClientWindow = time.Hour
)

// viewer is who a request comes from, from its session. Admin is decided on
// every request from the running config, never stored.
type viewer struct {
	JID   string
	Admin bool
	token string
}

// setCookie sets one of the portal's cookies; maxAge < 0 deletes it.
func (p *pages) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: p.cookiePath, HttpOnly: true,
		Secure: p.cookieSecure, SameSite: http.SameSiteLaxMode}
	if maxAge < 0 {
		c.MaxAge = -1
	} else {
		c.MaxAge = int(maxAge / time.Second)
	}
	http.SetCookie(w, c)
}

// cookieValue returns a cookie's value if it looks like one of our tokens.
func cookieValue(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil || len(c.Value) < 20 || len(c.Value) > 100 {
		return ""
	}
	return c.Value
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func bindingOf(v string) []byte {
	if v == "" {
		return nil
	}
	h := sha256.Sum256([]byte(v))
	return h[:]
}

// isAdmin reports whether a bare JID is in the running config's admins.
func (p *pages) isAdmin(bare string) bool {
	return slices.Contains(p.s.svc.Config().Admins, bare)
}

// viewerOf reads the request's session. ok is false without a live one.
func (p *pages) viewerOf(r *http.Request) (viewer, bool, error) {
	tok := cookieValue(r, sessionCookie)
	if tok == "" {
		return viewer{}, false, nil
	}
	s, err := p.s.store.Session(r.Context(), tok, invites.SessionIdle)
	if errors.Is(err, keystore.ErrNotFound) {
		return viewer{}, false, nil
	}
	if err != nil {
		return viewer{}, false, err
	}
	if !p.mayUsePortal(s.JID) {
		// No longer of the domain nor an admin (the config changed).
		return viewer{}, false, nil
	}
	return viewer{JID: s.JID, Admin: p.isAdmin(s.JID), token: tok}, true, nil
}

// mayUsePortal: addresses of the served domain, and admins.
func (p *pages) mayUsePortal(bare string) bool {
	_, domain, _ := strings.Cut(bare, "@")
	return domain == p.s.svc.Config().Domain || p.isAdmin(bare)
}

// portalFunc is a page for a signed-in person.
type portalFunc func(w http.ResponseWriter, r *http.Request, l *i18n.Localizer, v viewer) error

// signedIn runs h for a signed-in person; others are sent to /login (GET)
// or told their session ended (POST).
func (p *pages) signedIn(h portalFunc) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, l *i18n.Localizer) error {
		v, ok, err := p.viewerOf(r)
		if err != nil {
			return err
		}
		if !ok {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, p.url("/login"), http.StatusSeeOther)
				return nil
			}
			return errPageSignedOut(p)
		}
		if r.Method == http.MethodPost {
			if err := p.portalForm(w, r, "session\x00"+v.token); err != nil {
				return err
			}
		}
		return h(w, r, l, v)
	}
}

// adminOnly runs h for admins; everyone else gets 403.
func (p *pages) adminOnly(h portalFunc) pageFunc {
	return p.signedIn(func(w http.ResponseWriter, r *http.Request, l *i18n.Localizer, v viewer) error {
		if !v.Admin {
			return errPageNotAdmin
		}
		return h(w, r, l, v)
	})
}

// url is the absolute URL of a path under public_url.
func (p *pages) url(path string) string { return p.s.svc.Config().PublicURL + path }

var errPageNotAdmin = &pageError{Status: http.StatusForbidden,
	Title: i18n.Msg("portal_not_admin_title", "Only for admins"),
	Msg:   i18n.Msg("portal_not_admin", "This page is for the admins of this service.")}

func errPageSignedOut(p *pages) error {
	return &pageError{Status: http.StatusForbidden,
		Title:   i18n.Msg("portal_signed_out_title", "You are signed out"),
		Msg:     i18n.Msg("portal_signed_out", "Your session has ended, so nothing was done. Please sign in again."),
		LinkURL: p.url("/login"), LinkLabel: i18n.Msg("portal_sign_in", "Sign in")}
}

// portalForm reads a portal form and checks that it was sent from this
// site's page for this purpose (bound), as registration forms are checked.
func (p *pages) portalForm(w http.ResponseWriter, r *http.Request, bound string) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		if tooBig := (*http.MaxBytesError)(nil); errors.As(err, &tooBig) {
			return &pageError{Status: http.StatusRequestEntityTooLarge, Title: i18n.Msg("error_form_large_title", "Form too large"),
				Msg: i18n.Msg("error_form_large", "What was sent is larger than this form can be. Please go back and try again.")}
		}
		return &pageError{Status: http.StatusBadRequest, Title: i18n.Msg("error_form_unreadable_title", "The form could not be read"),
			Msg: i18n.Msg("error_form_unreadable", "Please go back and submit the form again.")}
	}
	if !p.sameOrigin(r) || !p.csrfValid(bound, r.PostForm.Get("csrf"), p.s.now()) {
		return errPageFormExpired
	}
	return nil
}

var errPageFormExpired = &pageError{Status: http.StatusForbidden, Title: i18n.Msg("error_form_expired_title", "Please submit the form again"),
	Msg: i18n.Msg("error_form_expired", "This form has expired or was not sent from this site, so nothing was done.")}

// portalPage is what every portal page has.
type portalPage struct {
	page
	Base    string // public_url, for links
	Viewer  viewer
	CSRF    string // for forms of the signed-in person
	Section string // the current tab: my, invites, keys, registrations, audit
}

func (p *pages) portalPage(r *http.Request, l *i18n.Localizer, title string, v viewer, section string) portalPage {
	pp := portalPage{page: p.base(r, l, title), Base: p.s.svc.Config().PublicURL, Viewer: v, Section: section}
	pp.CSS = p.portalCSS
	if v.token != "" {
		pp.CSRF = p.csrfToken("session\x00"+v.token, p.s.now())
	}
	return pp
}

// ViewerStrong is the signed-in address, stressed.
func (pp portalPage) ViewerStrong() template.HTML { return strong(pp.Viewer.JID) }

// TypeName is an invite type as people read it.
func (pp portalPage) TypeName(t string) string {
	l := pp.L.Localizer
	switch t {
	case "account":
		return l.T("invite_type_account", "Account")
	case "contact":
		return l.T("invite_type_contact", "Contact")
	case "reset":
		return l.T("invite_type_reset", "Password reset")
	}
	return t
}

// StateName is an invite state as people read it.
func (pp portalPage) StateName(s string) string {
	l := pp.L.Localizer
	switch s {
	case "pending":
		return l.T("invite_state_pending", "Pending")
	case "used":
		return l.T("invite_state_used", "Used")
	case "expired":
		return l.T("invite_state_expired", "Expired")
	case "revoked":
		return l.T("invite_state_revoked", "Revoked")
	}
	return s
}

// States are the invite states, for the admin list's filter.
func (pp portalPage) States() []string { return []string{"pending", "used", "expired", "revoked"} }

// CreateURL is where the invite creation form posts.
func (pp portalPage) CreateURL() string {
	if pp.Section == "invites" {
		return pp.Base + "/admin/invites"
	}
	return pp.Base + "/my/invites"
}

// RevokeURL is where an invite's revoke button posts.
func (pp portalPage) RevokeURL(id string) string {
	if pp.Section == "invites" {
		return pp.Base + "/admin/invites/" + id + "/revoke"
	}
	return pp.Base + "/my/invites/" + id + "/revoke"
}

// loginData is the sign-in form and what follows it.
type loginData struct {
	portalPage
	Address   string
	Error     template.HTML
	Sent      bool
	Component string // the component's address, for the chat word login
	Minutes   int
}

// AddressStrong is the address as a sentence stresses it.
func (d loginData) AddressStrong() template.HTML { return strong(d.Address) }

// ComponentStrong is the component's address, stressed.
func (d loginData) ComponentStrong() template.HTML { return strong(d.Component) }

func (p *pages) loginData(r *http.Request, l *i18n.Localizer, pre string) loginData {
	d := loginData{portalPage: p.portalPage(r, l, l.T("login_page_title", "Sign in"), viewer{}, ""),
		Component: p.s.svc.Config().ComponentJID, Minutes: int(invites.SignInTTL / time.Minute)}
	d.Slim = true
	d.CSRF = p.csrfToken("login\x00"+pre, p.s.now())
	return d
}

// loginForm asks for an address. It gives the browser the cookie that
// the sign-in link will be bound to.
func (p *pages) loginForm(w http.ResponseWriter, r *http.Request, l *i18n.Localizer) error {
	if _, ok, err := p.viewerOf(r); err == nil && ok {
		http.Redirect(w, r, p.url("/my"), http.StatusSeeOther)
		return nil
	}
	pre := cookieValue(r, signinCookie)
	if pre == "" {
		pre = randomToken()
	}
	// Renewed on every visit, so a form left open for a while still works.
	p.setCookie(w, signinCookie, pre, signinCookieAge)
	return p.render(w, http.StatusOK, "login", p.loginData(r, l, pre))
}

// login sends a sign-in link to the address typed, over XMPP. The answer
// is the same whether or not the account exists.
func (p *pages) login(w http.ResponseWriter, r *http.Request, l *i18n.Localizer) error {
	pre := cookieValue(r, signinCookie)
	err := p.portalForm(w, r, "login\x00"+pre)
	if err == nil && pre == "" {
		err = errPageFormExpired
	}
	var pe *pageError
	if errors.As(err, &pe) {
		// Back to a fresh form, which also renews the cookie.
		again := *pe
		again.LinkURL, again.LinkLabel = p.url("/login"), i18n.Msg("error_open_form", "Open the form again")
		return &again
	}
	if err != nil {
		return err
	}
	d := p.loginData(r, l, pre)
	d.Address = strings.TrimSpace(r.PostForm.Get("address"))
	h := i18n.HTML{Localizer: l}
	bare, ok := p.signInAddress(d.Address)
	if !ok {
		d.Error = h.T("login_bad_address", "Enter your full address, such as {{.Example}}.", "Example", "alice@"+p.s.svc.Config().Domain)
		if bare != "" {
			d.Error = h.T("login_other_domain", "Only accounts of {{.Domain}} can sign in here.", "Domain", p.s.svc.Config().Domain)
		}
		return p.render(w, http.StatusBadRequest, "login", d)
	}
	d.Address = bare
	now := p.s.now()
	client := clientAddr(r, p.s.cfg.TrustedProxies)
	if wait, blocked := p.signinLimit.Blocked(clientKey(client), now); blocked {
		w.Header().Set("Retry-After", strconv.FormatInt(retrySeconds(wait), 10))
		return &pageError{Status: http.StatusTooManyRequests, Title: i18n.Msg("login_busy_title", "Too many sign-in requests"),
			Msg:  i18n.Msg("login_busy", "Too many sign-in links were asked for from your network. Please try again in {{.Wait}}."),
			Args: []any{"Wait", waitText(wait)}}
	}
	sender, ok := p.s.link.(SignInSender)
	if !ok || p.s.link.State() != "up" {
		return &pageError{Status: http.StatusServiceUnavailable, Title: i18n.Msg("error_link_down_title", "Please try again in a minute"),
			Msg: i18n.Msg("login_link_down", "The chat server cannot be reached right now, so no sign-in link can be sent.")}
	}
	p.signinLimit.Fail(clientKey(client), now)
	token, err := p.s.store.CreateSignIn(r.Context(), keystore.SignInParams{
		JID: bare, Binding: bindingOf(pre), From: clientString(client), TTL: invites.SignInTTL,
		Limit: keystore.Limit{Max: invites.SignInsPerHour, Since: now.Add(-time.Hour)},
	})
	var le *keystore.LimitError
	if errors.As(err, &le) {
		wait := time.Hour
		if !le.Oldest.IsZero() {
			wait = le.Oldest.Add(time.Hour).Sub(now)
		}
		d.Error = h.T("login_too_many", "Several sign-in links were sent to {{.JID}} in the last hour. Use the newest one, or try again in {{.Wait}}.",
			"JID", strong(bare), "Wait", waitText(wait))
		return p.render(w, http.StatusTooManyRequests, "login", d)
	}
	if err != nil {
		return err
	}
	if err := sender.SendSignIn(r.Context(), bare, l.Lang(), p.s.svc.SignInURL(token), clientString(client), invites.SignInTTL); err != nil {
		p.s.log.Warn("sign-in link not sent", "jid", bare, "err", err)
		return &pageError{Status: http.StatusServiceUnavailable, Title: i18n.Msg("error_link_down_title", "Please try again in a minute"),
			Msg: i18n.Msg("login_link_down", "The chat server cannot be reached right now, so no sign-in link can be sent.")}
	}
	p.s.log.Info("sign-in link sent", "jid", bare, "client", clientString(client))
	d.Sent = true
	return p.render(w, http.StatusOK, "login", d)
}

// signInAddress checks an address typed into the sign-in form: a bare JID
// of the served domain, or an admin's. It returns the normalised bare JID;
// ok false with a non-empty bare for a valid address of another domain.
func (p *pages) signInAddress(s string) (bare string, ok bool) {
	if s == "" || len(s) > 3071 || strings.ContainsAny(s, "/ ") {
		return "", false
	}
	j, err := jid.Parse(s)
	if err != nil || j.Localpart() == "" {
		return "", false
	}
	bare = j.Bare().String()
	return bare, p.mayUsePortal(bare)
}

// signInToken reads a sign-in link's token: /login/confirm?TOKEN (a
// lang= the language menu added may follow).
func signInToken(r *http.Request) string {
	q := r.URL.RawQuery
	if i := strings.IndexByte(q, '&'); i >= 0 {
		q = q[:i]
	}
	return q
}

// confirmData is the page a sign-in link opens.
type confirmData struct {
	portalPage
	JID, From, Asked string
	Chat             bool // asked for with the chat word, not in a browser
}

// JIDStrong is the account, stressed.
func (d confirmData) JIDStrong() template.HTML { return strong(d.JID) }

// FromStrong is where the link was asked for, stressed.
func (d confirmData) FromStrong() template.HTML { return strong(d.From) }

var errPageSignInLink = func(p *pages) error {
	return &pageError{Status: http.StatusNotFound,
		Title:   i18n.Msg("signin_invalid_title", "This sign-in link does not work any more"),
		Msg:     i18n.Msg("signin_invalid", "Sign-in links work once, for a few minutes. Ask for a new one."),
		LinkURL: p.url("/login"), LinkLabel: i18n.Msg("signin_new_link", "Get a new sign-in link")}
}

func errPageOtherBrowser(p *pages) error {
	return &pageError{Status: http.StatusForbidden,
		Title: i18n.Msg("signin_other_browser_title", "Open this link in the browser that asked for it"),
		Msg:   i18n.Msg("signin_other_browser", "This sign-in link works only in the browser where it was asked for. To sign in here instead, send “login” to {{.Component}} from your chat app: the link it answers with works in any browser."),
		Args:  []any{"Component", p.s.svc.Config().ComponentJID}, LinkURL: p.url("/login"), LinkLabel: i18n.Msg("signin_new_link", "Get a new sign-in link")}
}

// confirmForm shows whom a sign-in link signs in, with a button. Opening
// the link uses nothing up: previews and link scanners only see this.
func (p *pages) confirmForm(w http.ResponseWriter, r *http.Request, l *i18n.Localizer) error {
	token := signInToken(r)
	si, err := p.s.store.SignIn(r.Context(), token)
	if errors.Is(err, keystore.ErrNotFound) {
		return errPageSignInLink(p)
	}
	if err != nil {
		return err
	}
	if si.Bound && cookieValue(r, signinCookie) == "" {
		return errPageOtherBrowser(p)
	}
	d := confirmData{portalPage: p.portalPage(r, l, l.T("signin_page_title", "Sign in"), viewer{}, ""),
		JID: si.JID, From: si.From, Asked: l.Date(si.Created), Chat: !si.Bound}
	d.Slim = true
	d.CSRF = p.csrfToken("confirm\x00"+token, p.s.now())
	return p.render(w, http.StatusOK, "confirm", d)
}

// confirm uses a sign-in link and starts a session.
func (p *pages) confirm(w http.ResponseWriter, r *http.Request, l *i18n.Localizer) error {
	token := signInToken(r)
	if err := p.portalForm(w, r, "confirm\x00"+token); err != nil {
		return err
	}
	si, err := p.s.store.UseSignIn(r.Context(), token, bindingOf(cookieValue(r, signinCookie)))
	switch {
	case errors.Is(err, keystore.ErrBinding):
		return errPageOtherBrowser(p)
	case errors.Is(err, keystore.ErrNotFound):
		return errPageSignInLink(p)
	case err != nil:
		return err
	}
	if !p.mayUsePortal(si.JID) {
		return errPageSignInLink(p)
	}
	session, err := p.s.store.CreateSession(r.Context(), si.JID, invites.SessionMaxAge)
	if err != nil {
		return err
	}
	p.setCookie(w, sessionCookie, session, invites.SessionMaxAge)
	p.setCookie(w, signinCookie, "", -1)
	p.s.log.Info("signed in", "jid", si.JID)
	target := "/my"
	if p.isAdmin(si.JID) {
		target = "/admin/invites"
	}
	http.Redirect(w, r, p.url(target), http.StatusSeeOther)
	return nil
}

// logout ends this session, or with everywhere=1 every session of the
// account.
func (p *pages) logout(w http.ResponseWriter, r *http.Request, l *i18n.Localizer, v viewer) error {
	var err error
	if r.PostForm.Get("everywhere") == "1" {
		_, err = p.s.store.DeleteSessions(r.Context(), v.JID)
	} else {
		err = p.s.store.DeleteSession(r.Context(), v.token)
	}
	if err != nil {
		return err
	}
	p.setCookie(w, sessionCookie, "", -1)
	return p.render(w, http.StatusOK, "error", errorData{page: p.slim(r, l, l.T("portal_signed_out_done_title", "You are signed out")),
		Msg:     i18n.HTML{Localizer: l}.T("portal_signed_out_done", "You can close this page."),
		LinkURL: p.url("/login"), LinkLabel: i18n.HTML{Localizer: l}.T("portal_sign_in", "Sign in")})
}
