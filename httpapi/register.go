package httpapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"xmpp-invites/i18n"
	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

const (
	// maxFormBytes bounds a registration form: three short fields and two
	// passwords of at most invites.MaxPasswordLen bytes fit easily.
	maxFormBytes = 16 << 10
	// csrfMaxAge is how long a registration form may stay open.
	csrfMaxAge = 12 * time.Hour
	// csrfSkew tolerates a clock that stepped back since the form was made.
	csrfSkew = 5 * time.Minute
)

// linkDownMsg is shown when the XMPP server cannot be reached.
var linkDownMsg = i18n.Msg("register_link_down", "The chat server cannot be reached right now, so nothing was created and your invite is still valid. Please try again in a minute.")

// registerData is the registration form.
type registerData struct {
	page
	Kind       string // account, username (fixed), reset or contact
	JID        string // reset and fixed-username invites: the account
	Contact    string // contact invites: who the new user becomes a contact of
	User       string // the username as typed
	UserNote   string // what the username becomes, when preparing changes it
	Error      template.HTML
	ErrorField string // user, password, password_confirm or empty
	CSRF       string
	MinLen     int
	MaxLen     int
	Clients    []clientOption
	LandingURL string
}

// JIDStrong is the account, stressed.
func (d registerData) JIDStrong() template.HTML { return strong(d.JID) }

// ContactStrong is the contact, stressed.
func (d registerData) ContactStrong() template.HTML { return strong(d.Contact) }

// UserNoteHTML is what the username becomes.
func (d registerData) UserNoteHTML() template.HTML {
	return template.HTML(`<strong id="user-note">` + template.HTMLEscapeString(d.UserNote) + "</strong>")
}

// clientOption is one choice of the form's app selector.
type clientOption struct {
	ID, Label string
	Selected  bool
}

// successData is the page after a registration.
type successData struct {
	page
	Kind       string
	JID        string
	Typed      string // the username as typed, when preparing it changed it
	Contact    string
	Befriended bool
	ContactURI template.URL
	Client     *Client
	Apps       template.HTML // the client list, when no client was chosen
	// Presets: the group chats the account was invited to, and the circle
	// it joined with its other members; CircleManual asks to add them by
	// hand (the server gave no roster permission).
	Rooms        []string
	Circle       string
	CircleOK     bool
	CircleManual []circleContact
}

// circleContact is a circle member to add by hand.
type circleContact struct {
	JID string
	URI template.URL
}

// JIDStrong is the new address, stressed.
func (d successData) JIDStrong() template.HTML { return strong(d.JID) }

// ContactStrong is the contact, stressed.
func (d successData) ContactStrong() template.HTML { return strong(d.Contact) }

// TypedStrong is the username as typed, stressed.
func (d successData) TypedStrong() template.HTML { return strong(d.Typed) }

// ClientStrong is the chosen app's name, stressed.
func (d successData) ClientStrong() template.HTML {
	if d.Client == nil {
		return ""
	}
	return strong(d.Client.Name)
}

// formInput is what a form submission carries besides the passwords, which
// are never shown again.
type formInput struct {
	User   string
	Client string
}

func (p *pages) registerForm(w http.ResponseWriter, r *http.Request, l *i18n.Localizer) error {
	q := r.URL.Query()
	token := q.Get("t")
	inv, err := p.registrable(r.Context(), token)
	if err != nil {
		return err
	}
	if p.s.link.State() != "up" {
		pe := *errPageLinkDown
		pe.LinkURL, pe.LinkLabel = p.s.svc.RegisterURL(token), i18n.Msg("error_try_again", "Try again")
		return &pe
	}
	if held, wait, err := p.s.svc.Held(r.Context(), token); err != nil {
		return err
	} else if held {
		return &pageError{Status: http.StatusConflict, Title: i18n.Msg("error_held_title", "This invite is in use right now"),
			Msg: heldMsg, Args: []any{"Wait", waitText(wait)},
			LinkURL: p.s.svc.RegisterURL(token), LinkLabel: openAgain}
	}
	return p.renderForm(w, r, l, http.StatusOK, inv, token, formInput{Client: q.Get("c")}, "", "")
}

// openAgain labels a link to the page just shown.
var openAgain = i18n.Msg("error_open_again", "Open this page again")

func (p *pages) register(w http.ResponseWriter, r *http.Request, l *i18n.Localizer) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		if tooBig := (*http.MaxBytesError)(nil); errors.As(err, &tooBig) {
			return &pageError{Status: http.StatusRequestEntityTooLarge, Title: i18n.Msg("error_form_large_title", "Form too large"),
				Msg: i18n.Msg("error_form_large", "What was sent is larger than this form can be. Please go back and try again.")}
		}
		return &pageError{Status: http.StatusBadRequest, Title: i18n.Msg("error_form_unreadable_title", "The form could not be read"),
			Msg: i18n.Msg("error_form_unreadable", "Please go back and submit the form again.")}
	}
	ctx := r.Context()
	token := r.URL.Query().Get("t")
	in := formInput{User: r.PostForm.Get("user"), Client: r.PostForm.Get("c")}
	formOK := p.sameOrigin(r) && p.csrfValid(token, r.PostForm.Get("csrf"), p.s.now())
	inv, err := p.registrable(ctx, token)
	if err != nil {
		if inv, red, ok := p.resubmitted(ctx, r, token, in, formOK); ok {
			return p.success(w, r, l, inv, in, red)
		}
		return err
	}
	if !formOK {
		return &pageError{Status: http.StatusForbidden, Title: i18n.Msg("error_form_expired_title", "Please submit the form again"),
			Msg:     i18n.Msg("error_form_expired", "This form has expired or was not sent from this site, so nothing was done."),
			LinkURL: p.s.svc.RegisterURL(token), LinkLabel: i18n.Msg("error_open_form", "Open the form again")}
	}
	reg := invites.Registration{
		Username: in.User,
		Password: r.PostForm.Get("password"),
		Confirm:  r.PostForm.Get("password_confirm"),
	}
	// Asked before anything is reserved, so a down link consumes nothing.
	if p.s.link.State() != "up" {
		return p.formError(w, r, l, inv, token, in, invites.ErrLinkDown)
	}
	// Redeem validates the form (svc.Check) before it reserves anything.
	red, err := p.s.svc.Redeem(ctx, token, reg, p.s.link)
	if errors.Is(err, invites.ErrUsernameTaken) {
		if inv, red, ok := p.resubmitted(ctx, r, token, in, formOK); ok {
			return p.success(w, r, l, inv, in, red)
		}
	}
	if err != nil {
		return p.formError(w, r, l, inv, token, in, err)
	}
	if red.Unrecorded != nil {
		p.s.log.Warn("account created, but its use of the invite is not recorded yet; it will be once the database takes writes again",
			"invite", red.Invite.ID, "jid", red.JID, "err", red.Unrecorded)
	}

	typ := string(red.Invite.Type)
	p.s.metrics.InviteUsed(typ)
	p.s.log.Info("invite redeemed", "invite", red.Invite.ID, "type", typ, "jid", red.JID, "befriended", red.Befriended)
	if red.PresetErr != nil {
		p.s.log.Warn("group chats or circle of the invite only partly done; the account is created (docs/presets.md)",
			"invite", red.Invite.ID, "jid", red.JID, "rooms", red.Rooms, "circle", red.Circle, "err", red.PresetErr)
	}
	return p.success(w, r, l, inv, in, red)
}

// resubmitWindow is how long after a registration the same form, sent
// again, shows the success page again.
const resubmitWindow = 10 * time.Minute

// resubmitted recognises a form sent again after it succeeded (a reload of
// the success page, a double click): the invite recorded a use by that very
// account moments ago. It answers with the success page instead of "already
// used" or "username taken". It reveals nothing: the name is the one just
// typed, and the page never holds a password.
func (p *pages) resubmitted(ctx context.Context, r *http.Request, token string, in formInput, formOK bool) (keystore.Invite, invites.Redemption, bool) {
	if !formOK || r.Method != http.MethodPost {
		return keystore.Invite{}, invites.Redemption{}, false
	}
	inv, err := p.s.store.InviteByToken(ctx, token)
	if err != nil || !inv.Revoked.IsZero() {
		return keystore.Invite{}, invites.Redemption{}, false
	}
	username := inv.Username
	if username == "" || inv.Type == keystore.TypeContact {
		if username, err = invites.PrepareUsername(strings.TrimSpace(in.User)); err != nil {
			return keystore.Invite{}, invites.Redemption{}, false
		}
	}
	jid := username + "@" + p.s.svc.Config().Domain
	uses, err := p.s.store.Uses(ctx, inv.ID)
	if err != nil {
		return keystore.Invite{}, invites.Redemption{}, false
	}
	now := p.s.now()
	for _, u := range uses {
		if u.JID == jid && now.Sub(u.Time) < resubmitWindow {
			return inv, invites.Redemption{Invite: inv, Username: username, JID: jid}, true
		}
	}
	return keystore.Invite{}, invites.Redemption{}, false
}

// success renders the page after a redemption.
func (p *pages) success(w http.ResponseWriter, r *http.Request, l *i18n.Localizer, inv keystore.Invite, in formInput, red invites.Redemption) error {
	cfg := p.s.svc.Config()
	d := successData{page: p.slim(r, l, l.T("success_page_title", "Welcome")), Kind: inviteKind(inv), JID: red.JID, Befriended: red.Befriended}
	// The invite is used: the menu does not carry its token on. Another
	// language's link keeps the choice for the next visit (its page says
	// the link holds no invite).
	d.Langs = p.langLinks(l, r, "")
	switch d.Kind {
	case "reset":
		d.Title = l.T("success_reset_page_title", "Password changed")
	case "account", "contact":
		if typed := strings.TrimSpace(in.User); typed != red.Username {
			d.Typed = typed
		}
	}
	if inv.Type == keystore.TypeContact {
		d.Contact = red.Contact
		if d.Contact == "" {
			d.Contact = inv.Username + "@" + cfg.Domain
		}
		d.ContactURI = template.URL(invites.XMPPURI(d.Contact, "roster"))
	}
	d.Rooms, d.Circle = red.Rooms, red.Circle
	if red.Circle != "" && len(red.CircleMembers) > 0 {
		d.CircleOK = red.CircleBefriended
		if !red.CircleBefriended {
			for _, m := range red.CircleMembers {
				d.CircleManual = append(d.CircleManual, circleContact{JID: m, URI: template.URL(invites.XMPPURI(m, "roster"))})
			}
		}
	}
	if c, ok := p.clientByID(in.Client); ok {
		c = localClients([]Client{c}, l.Lang())[0]
		d.Client = &c
	} else {
		apps, err := p.appsHTML(l, platformOf(r.UserAgent()))
		if err != nil {
			return err
		}
		d.Apps = apps
	}
	return p.render(w, http.StatusOK, "success", d)
}

// registrable returns the invite if it can still be used to register.
func (p *pages) registrable(ctx context.Context, token string) (keystore.Invite, error) {
	inv, err := p.usableInvite(ctx, token)
	if err != nil {
		return keystore.Invite{}, err
	}
	if inv.Type == keystore.TypeContact && !inv.AllowRegister {
		return keystore.Invite{}, p.noRegistration(token)
	}
	return inv, nil
}

func (p *pages) noRegistration(token string) error {
	return &pageError{Status: http.StatusForbidden, Title: i18n.Msg("error_contact_only_title", "This invite is for adding a contact"),
		Msg:     i18n.Msg("error_contact_only", "It does not include creating a new account. Open the invite to add the contact in the app you already use."),
		LinkURL: p.s.svc.LandingURL(token), LinkLabel: i18n.Msg("error_back_to_invite", "Back to the invite")}
}

// formError shows why a submission failed: on the form again where the
// person can fix it, on an error page where they cannot.
func (p *pages) formError(w http.ResponseWriter, r *http.Request, l *i18n.Localizer, inv keystore.Invite, token string, in formInput, err error) error {
	var ve *invites.ValidationError
	p.logRefusal(inv, err)
	h := i18n.HTML{Localizer: l}
	switch {
	case errors.As(err, &ve):
		return p.renderForm(w, r, l, http.StatusUnprocessableEntity, inv, token, in, ve.Field, validationText(h, ve))
	case errors.Is(err, invites.ErrUsernameTaken):
		if inv.Type != keystore.TypeContact && inv.Username != "" {
			return &pageError{Status: http.StatusConflict, Title: i18n.Msg("error_account_exists_title", "This account already exists"),
				Msg:  i18n.Msg("error_account_exists", "The account {{.JID}} has been created already. If it is yours, sign in with your app; otherwise ask for a new invite."),
				Args: []any{"JID", inv.Username + "@" + p.s.svc.Config().Domain}}
		}
		u, _ := invites.PrepareUsername(strings.TrimSpace(in.User))
		return p.renderForm(w, r, l, http.StatusConflict, inv, token, in, "user",
			h.T("register_username_taken", "The username {{.Username}} is already taken. Please choose another one.", "Username", strong(u)))
	case errors.As(err, new(*invites.UnknownError)):
		return p.outcomeUnknown(w, inv, token, err)
	case errors.Is(err, keystore.ErrInUse):
		return p.renderForm(w, r, l, http.StatusConflict, inv, token, in, "", h.M(heldMsg, "Wait", waitText(heldWait(err))))
	case errors.Is(err, invites.ErrNoAccount):
		return &pageError{Status: http.StatusGone, Title: i18n.Msg("error_no_account_title", "This account does not exist"),
			Msg:  i18n.Msg("error_no_account", "The account {{.JID}} is not on the chat server (any more), so its password cannot be set. Nothing was used up. Please ask whoever sent you this link."),
			Args: []any{"JID", inv.Username + "@" + p.s.svc.Config().Domain}}
	case errors.Is(err, invites.ErrLinkDown):
		w.Header().Set("Retry-After", "60")
		return p.renderForm(w, r, l, http.StatusServiceUnavailable, inv, token, in, "", h.M(linkDownMsg))
	case errors.Is(err, invites.ErrNoRegistration):
		return p.noRegistration(token)
	case errors.Is(err, invites.ErrRefused):
		p.s.log.Warn("registration refused by the XMPP server", "invite", inv.ID, "err", err)
		return &pageError{Status: http.StatusBadGateway, Title: i18n.Msg("error_refused_title", "The chat server said no"),
			Msg: i18n.Msg("error_refused", "The chat server refused to create this account, and nothing was used up. Please try again later or let its admins know.")}
	case errors.Is(err, invites.ErrUnsupported):
		p.s.log.Warn("registration refused by the XMPP server", "invite", inv.ID, "err", err)
		return &pageError{Status: http.StatusServiceUnavailable, Title: i18n.Msg("error_unsupported_title", "Not possible right now"),
			Msg: i18n.Msg("error_unsupported", "The chat server does not allow this at the moment, and nothing was used up. Please let its admins know.")}
	}
	if pe := (*pageError)(nil); errors.As(inviteError(err), &pe) {
		return pe
	}
	return fmt.Errorf("redeem invite %s: %w", inv.ID, err)
}

// logRefusal logs, once, why a registration was turned away when the
// person can act on it (a form error, a taken name, a held invite): the
// invite's ID and the reason, never the form's values. Failures of the
// server or the store are logged where they are answered.
func (p *pages) logRefusal(inv keystore.Invite, err error) {
	var ve *invites.ValidationError
	var reason string
	switch {
	case errors.As(err, &ve):
		reason = "invalid " + ve.Field
	case errors.Is(err, invites.ErrUsernameTaken):
		reason = "username taken"
	case errors.Is(err, keystore.ErrInUse):
		reason = "every use left is being redeemed"
	case errors.Is(err, invites.ErrNoAccount):
		reason = "the reset's account does not exist"
	case errors.Is(err, invites.ErrNoRegistration):
		reason = "contact invite without registration"
	default:
		return
	}
	p.s.log.Info("registration refused", "invite", inv.ID, "reason", reason, "detail", err.Error())
}

// heldMsg says that every use left is being redeemed, and how long to
// wait ({{.Wait}}): the real time until those redemptions are settled.
var heldMsg = i18n.Msg("register_held", "Someone is using this invite right now. If that was you, your account may already exist: try signing in with your app. Otherwise, please open this page again in {{.Wait}}.")

// heldWait is the wait a held invite's error gives.
func heldWait(err error) time.Duration {
	if he := (*invites.HeldError)(nil); errors.As(err, &he) {
		return he.Wait
	}
	return invites.DefaultLease
}

// waitText says a wait in whole minutes, rounded up, in the language of
// the page: "1 minute", "3 minutes".
func waitText(d time.Duration) func(*i18n.Localizer) string {
	n := int((d + time.Minute - 1) / time.Minute)
	n = max(n, 1)
	return func(l *i18n.Localizer) string {
		return l.N("wait_minutes", n, "{{.Count}} minute", "{{.Count}} minutes")
	}
}

// outcomeUnknown tells the truth when the server may or may not have
// carried out the registration: the person may already have the account
// (or the new password), and when to look again.
func (p *pages) outcomeUnknown(w http.ResponseWriter, inv keystore.Invite, token string, err error) error {
	ue := (*invites.UnknownError)(nil)
	errors.As(err, &ue)
	p.s.log.Warn("registration outcome unknown: the chat server did not answer in time", "invite", inv.ID, "type", string(inv.Type), "err", err)
	if ue.Reset {
		return &pageError{Status: http.StatusAccepted, Title: i18n.Msg("error_reset_unknown_title", "Your new password may or may not be set"),
			Msg: i18n.Msg("error_reset_unknown", "The chat server did not confirm the change in time. Try signing in with the new password; if that does not work, your old password still applies. This link is used up either way: for another try, ask whoever sent it for a new one.")}
	}
	w.Header().Set("Retry-After", strconv.Itoa(int(ue.Wait.Seconds()+0.5)))
	return &pageError{Status: http.StatusAccepted, Title: i18n.Msg("error_unknown_title", "Your account may already exist"),
		Msg:     i18n.Msg("error_unknown", "The chat server did not confirm in time whether it created your account. Try signing in with your app; if that does not work, open this page again in {{.Wait}}: by then it will say whether your invite is still valid."),
		Args:    []any{"Wait", waitText(ue.Wait)},
		LinkURL: p.s.svc.RegisterURL(token), LinkLabel: openAgain}
}

// validationText turns a rule's complaint into a sentence for the form,
// by the rule's code; a rule without a translation shows its English text.
func validationText(h i18n.HTML, ve *invites.ValidationError) template.HTML {
	switch ve.Code {
	case invites.CodeUserEmpty:
		return h.T("invalid_user_empty", "Please choose a username.")
	case invites.CodeUserLong:
		return h.T("invalid_user_long", "This username is too long: at most 64 bytes.")
	case invites.CodeUserChars:
		return h.T("invalid_user_chars", "This username contains characters that are not allowed. Letters, digits, dots and dashes work well.")
	case invites.CodeReserved:
		return h.T("invalid_user_reserved", "The username {{.Username}} is reserved. Please choose another one.", "Username", strong(ve.Value))
	case invites.CodeReservedFixed:
		return h.T("invalid_fixed_reserved", "The username {{.Username}} is reserved, so this invite cannot be used. Please ask for a new one.", "Username", strong(ve.Value))
	case invites.CodePasswordText:
		return h.T("invalid_password_text", "The password must be valid text.")
	case invites.CodePasswordControl:
		return h.T("invalid_password_control", "The password must not contain control characters (such as tabs or line breaks).")
	case invites.CodePasswordShort:
		return h.N("invalid_password_short", ve.Limit, "The password must be at least {{.Count}} character long.", "The password must be at least {{.Count}} characters long.")
	case invites.CodePasswordLong:
		return h.N("invalid_password_long", ve.Limit, "The password must be at most {{.Count}} byte long.", "The password must be at most {{.Count}} bytes long.")
	case invites.CodePasswordUser:
		return h.T("invalid_password_user", "The password must not contain the username.")
	case invites.CodePasswordMismatch:
		return h.T("invalid_password_mismatch", "The two passwords differ.")
	}
	msg := ve.Msg
	if msg == "" {
		msg = ve.Error()
	}
	return template.HTML(template.HTMLEscapeString(strings.ToUpper(msg[:1]) + msg[1:] + "."))
}

func (p *pages) renderForm(w http.ResponseWriter, r *http.Request, l *i18n.Localizer, status int, inv keystore.Invite, token string, in formInput, field string, msg template.HTML) error {
	cfg := p.s.svc.Config()
	d := registerData{
		page:       p.slim(r, l, l.T("register_page_title", "Create your account")),
		Kind:       inviteKind(inv),
		User:       in.User,
		Error:      msg,
		ErrorField: field,
		CSRF:       p.csrfToken(token, p.s.now()),
		MinLen:     cfg.PasswordMinLength,
		MaxLen:     invites.MaxPasswordLen,
		LandingURL: p.s.svc.LandingURL(token),
	}
	switch d.Kind {
	case "reset":
		d.Title = l.T("register_reset_title", "Set a new password")
		d.JID = inv.Username + "@" + cfg.Domain
	case "username":
		d.JID = inv.Username + "@" + cfg.Domain
	case "contact":
		d.Contact = inv.Username + "@" + cfg.Domain
	}
	if d.JID == "" && in.User != "" {
		if u, err := invites.PrepareUsername(strings.TrimSpace(in.User)); err == nil && u != in.User {
			d.UserNote = u
		}
	}
	for _, c := range p.s.cfg.Clients {
		d.Clients = append(d.Clients, clientOption{
			ID: c.ID, Label: c.Name + " (" + strings.Join(c.Platforms, ", ") + ")", Selected: c.ID == in.Client,
		})
	}
	return p.render(w, status, "register", d)
}

// csrfToken signs a registration form: HMAC over the domain, the invite
// token's hash and the time, with the form key that signs now (formkeys.go).
// It proves the form came from a server on this database recently, for this
// invite on this domain (SPEC §6: form tokens are bound to their domain; the
// keys are shared by every domain and instance of one database).
func (p *pages) csrfToken(token string, now time.Time) string {
	ts := now.Unix()
	return strconv.FormatInt(ts, 36) + "." + base64.RawURLEncoding.EncodeToString(p.csrfMAC(p.forms.signing(now), token, ts))
}

func (p *pages) csrfMAC(key []byte, token string, ts int64) []byte {
	th := sha256.Sum256([]byte(token))
	m := hmac.New(sha256.New, key)
	m.Write([]byte("xmpp-invites register form\x00"))
	m.Write([]byte(p.s.svc.Config().Domain + "\x00"))
	m.Write(th[:])
	m.Write(binary.BigEndian.AppendUint64(nil, uint64(ts)))
	return m.Sum(nil)
}

func (p *pages) csrfValid(token, v string, now time.Time) bool {
	tsPart, macPart, ok := strings.Cut(v, ".")
	if !ok || len(v) > 100 {
		return false
	}
	ts, err := strconv.ParseInt(tsPart, 36, 64)
	if err != nil {
		return false
	}
	mac, err := base64.RawURLEncoding.DecodeString(macPart)
	if err != nil {
		return false
	}
	if age := now.Sub(time.Unix(ts, 0)); age < -csrfSkew || age > csrfMaxAge {
		return false
	}
	for _, key := range p.forms.checking(now) {
		if hmac.Equal(mac, p.csrfMAC(key, token, ts)) {
			return true
		}
	}
	return false
}

// sameOrigin refuses submissions that browsers mark as coming from another
// site. Origin is often "null" here: under Referrer-Policy no-referrer,
// browsers send that on same-origin POSTs too, so it proves nothing either
// way and the signed form token decides.
func (p *pages) sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" || o == "null" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	// Behind a reverse proxy r.Host may be the backend's address.
	pub, err := url.Parse(p.s.svc.Config().PublicURL)
	return err == nil && strings.EqualFold(u.Scheme, pub.Scheme) && strings.EqualFold(u.Host, pub.Host)
}
