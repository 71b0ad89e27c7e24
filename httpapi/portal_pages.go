package httpapi

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"xmpp-invites/i18n"
	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

// pageSize is how many rows a portal list shows at once.
const pageSize = 50

// onePage trims a list read with one row more than a page to a page, and
// returns the cursor of the next page ("" when this is the last).
func onePage[T any](list []T, cursor func(T) string) ([]T, string) {
	if len(list) <= pageSize {
		return list, ""
	}
	return list[:pageSize], cursor(list[pageSize-1])
}

func inviteCursor(inv keystore.Invite) string { return inv.ID }

// registerPortal adds the portal's routes (SPEC §6).
func (p *pages) registerPortal(mux routes) {
	mux.Handle("GET /login", p.handlePortal(p.loginForm))
	mux.Handle("POST /login", p.handlePortal(p.login))
	mux.Handle("GET /login/confirm", p.handlePortal(p.confirmForm))
	mux.Handle("POST /login/confirm", p.handlePortal(p.confirm))
	mux.Handle("POST /logout", p.handlePortal(p.signedIn(p.logout)))
	mux.Handle("GET /my", p.handlePortal(p.signedIn(p.my)))
	mux.Handle("POST /my/invites", p.handlePortal(p.signedIn(p.myCreate)))
	mux.Handle("POST /my/invites/{id}/revoke", p.handlePortal(p.signedIn(p.myRevoke)))
	mux.Handle("GET /admin", p.handlePortal(p.adminOnly(func(w http.ResponseWriter, r *http.Request, l *i18n.Localizer, v viewer) error {
		http.Redirect(w, r, p.url("/admin/invites"), http.StatusSeeOther)
		return nil
	})))
	mux.Handle("GET /admin/invites", p.handlePortal(p.adminOnly(p.adminInvites)))
	mux.Handle("POST /admin/invites", p.handlePortal(p.adminOnly(p.adminCreate)))
	mux.Handle("POST /admin/invites/{id}/revoke", p.handlePortal(p.adminOnly(p.adminRevoke)))
	mux.Handle("GET /admin/keys", p.handlePortal(p.adminOnly(p.adminKeys)))
	mux.Handle("POST /admin/keys", p.handlePortal(p.adminOnly(p.adminKeyCreate)))
	mux.Handle("POST /admin/keys/{id}/delete", p.handlePortal(p.adminOnly(p.adminKeyDelete)))
	mux.Handle("GET /admin/circles", p.handlePortal(p.adminOnly(p.adminCircles)))
	mux.Handle("POST /admin/circles", p.handlePortal(p.adminOnly(p.adminCircleCreate)))
	mux.Handle("POST /admin/circles/{name}/delete", p.handlePortal(p.adminOnly(p.adminCircleDelete)))
	mux.Handle("POST /admin/circles/{name}/add", p.handlePortal(p.adminOnly(p.adminCircleAdd)))
	mux.Handle("POST /admin/circles/{name}/remove", p.handlePortal(p.adminOnly(p.adminCircleRemove)))
	mux.Handle("GET /admin/registrations", p.handlePortal(p.adminOnly(p.adminRegistrations)))
	mux.Handle("POST /admin/registrations/forget", p.handlePortal(p.adminOnly(p.adminForget)))
	mux.Handle("GET /admin/audit", p.handlePortal(p.adminOnly(p.adminAudit)))
	mux.Handle("GET /admin/audit.csv", p.handlePortal(p.adminOnly(p.adminAuditCSV)))
	// Everything else under /admin is 403 for people who are not admins
	// and 404 for admins.
	mux.Handle("/admin/", p.handlePortal(p.adminOnly(func(w http.ResponseWriter, r *http.Request, l *i18n.Localizer, v viewer) error {
		return &pageError{Status: http.StatusNotFound, Title: i18n.Msg("portal_no_page_title", "No such page"),
			Msg: i18n.Msg("portal_no_page", "This address does not lead to a page."), LinkURL: p.url("/admin/invites"),
			LinkLabel: i18n.Msg("portal_nav_invites", "Invites")}
	})))
}

// inviteRow is an invite as the portal lists it.
type inviteRow struct {
	ID, Type, State, Note, Creator, Username string
	Created, Expires                         string
	Uses, MaxUses                            int
	UsedBy                                   []useRow
	Revocable                                bool
}

type useRow struct{ JID, When string }

// ttlOption is a validity the create form offers.
type ttlOption struct {
	Value, Label string
	Selected     bool
}

// createForm is what the invite creation form sent.
type createForm struct {
	Type, Username, TTL, Note string
	Uses                      int
	Rooms, Circle             string // admins: group chats (separated by spaces or commas) and a circle
}

// myData is /my and /admin/invites.
type myData struct {
	portalPage
	Types      []string // the types the person may create
	TTLs       []ttlOption
	MaxUses    int
	Form       createForm
	Error      template.HTML
	Invites    []inviteRow
	Quota      int // invites a day, 0: none
	QuotaUsed  int
	NextBefore string // the next page's before=
	// Filters of the admin list.
	State, Type, Creator string
	// Presets on the admin form: whether rooms are on, and the circles.
	MUC     bool
	Circles []string
}

// createdData is the page that shows a new invite's link once.
type createdData struct {
	portalPage
	Link, URI, Expires, Type string
	Uses                     int
	Never                    bool // the invite never expires (Expires is empty)
	QR                       template.HTML
	Back                     string
}

// ttlChoices are the validities the forms offer, up to max_ttl.
var ttlChoices = []time.Duration{time.Hour, 24 * time.Hour, 3 * 24 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour, 30 * 24 * time.Hour, 90 * 24 * time.Hour}

// ttlValue is a validity as the form sends it: 1h, 7d.
func ttlValue(d time.Duration) string {
	if d < 24*time.Hour {
		return strconv.Itoa(int(d/time.Hour)) + "h"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + "d"
}

// ttlNever is the form's value for an invite that never expires, offered
// to admins where allow_never_expiring is on.
const ttlNever = invites.TTLNever

// offerNever reports whether the forms offer ttlNever to an admin or not.
func (p *pages) offerNever(admin bool) bool { return admin && p.s.svc.Config().AllowNeverExpiring }

// ttlChoice reads a validity the form sent: one of those it offers
// (never: ttlNever).
func (p *pages) ttlChoice(v string, admin bool) (d time.Duration, never, ok bool) {
	if v == ttlNever {
		return 0, true, p.offerNever(admin)
	}
	for _, d := range ttlChoices {
		if d <= p.s.svc.Config().MaxTTL && ttlValue(d) == v {
			return d, false, true
		}
	}
	return 0, false, false
}

func (p *pages) ttlOptions(l *i18n.Localizer, chosen string, admin bool) []ttlOption {
	cfg := p.s.svc.Config()
	var out []ttlOption
	for _, d := range ttlChoices {
		if d > cfg.MaxTTL {
			continue
		}
		v := ttlValue(d)
		label := l.N("portal_ttl_days", int(d/(24*time.Hour)), "{{.Count}} day", "{{.Count}} days")
		if d < 24*time.Hour {
			label = l.N("portal_ttl_hours", int(d/time.Hour), "{{.Count}} hour", "{{.Count}} hours")
		}
		out = append(out, ttlOption{Value: v, Label: label, Selected: v == chosen || (chosen == "" && d == cfg.DefaultTTL)})
	}
	if p.offerNever(admin) {
		out = append(out, ttlOption{Value: ttlNever, Label: l.T("portal_ttl_never", "Never expires"), Selected: chosen == ttlNever})
	}
	return out
}

// rows turns invites into list rows, with who used them.
func (p *pages) rows(ctx context.Context, l *i18n.Localizer, list []keystore.Invite) ([]inviteRow, error) {
	now := p.s.now()
	out := make([]inviteRow, 0, len(list))
	for _, inv := range list {
		st := inv.State(now)
		row := inviteRow{ID: inv.ID, Type: string(inv.Type), State: string(st), Note: inv.Note, Creator: inv.Creator,
			Username: inv.Username, Created: l.Date(inv.Created), Expires: expiresText(l, inv), Uses: inv.Uses, MaxUses: inv.MaxUses,
			Revocable: st == keystore.StatePending}
		if inv.Uses > 0 {
			uses, err := p.s.store.Uses(ctx, inv.ID)
			if err != nil {
				return nil, err
			}
			for _, u := range uses {
				row.UsedBy = append(row.UsedBy, useRow{JID: u.JID, When: l.Date(u.Time)})
			}
		}
		out = append(out, row)
	}
	return out, nil
}

// expiresText is an invite's expiry in the portal's lists: a date, or
// "never" for an invite that never expires.
func expiresText(l *i18n.Localizer, inv keystore.Invite) string {
	if inv.NeverExpires() {
		return l.T("portal_expires_never", "never")
	}
	return l.Date(inv.Expires)
}

// myTypes are the invites a person may create on /my: contact invites
// always (for accounts of the domain), account invites where users may
// invite, and admins always.
func (p *pages) myTypes(v viewer) []string {
	var types []string
	cfg := p.s.svc.Config()
	if strings.HasSuffix(v.JID, "@"+cfg.Domain) {
		types = append(types, "contact")
	}
	if v.Admin || cfg.AllowUserInvites {
		types = append(types, "account")
	}
	return types
}

func (p *pages) myData(ctx context.Context, r *http.Request, l *i18n.Localizer, v viewer) (myData, error) {
	d := myData{portalPage: p.portalPage(r, l, l.T("my_page_title", "Your invites"), v, "my"),
		Types: p.myTypes(v), MaxUses: invites.MaxUses}
	d.TTLs = p.ttlOptions(l, "", v.Admin)
	d.Form.Uses = 1
	cfg := p.s.svc.Config()
	if !v.Admin && cfg.UserInvitesPerDay > 0 {
		n, err := p.s.store.CountInvites(ctx, "xmpp:"+v.JID, p.s.now().Add(-invites.UserQuotaWindow))
		if err != nil {
			return d, err
		}
		d.Quota, d.QuotaUsed = cfg.UserInvitesPerDay, n
	}
	before := r.URL.Query().Get("before")
	list, err := p.s.store.ListInvites(ctx, keystore.ListOptions{All: true, Creator: "xmpp:" + v.JID, Newest: true, Before: before, Limit: pageSize + 1})
	if err != nil {
		return d, err
	}
	list, d.NextBefore = onePage(list, inviteCursor)
	d.Invites, err = p.rows(ctx, l, list)
	return d, err
}

func (p *pages) my(w http.ResponseWriter, r *http.Request, l *i18n.Localizer, v viewer) error {
	d, err := p.myData(r.Context(), r, l, v)
	if err != nil {
		return err
	}
	return p.render(w, http.StatusOK, "my", d)
}

// readCreate reads the invite creation form.
func readCreate(r *http.Request) createForm {
	f := createForm{Type: r.PostForm.Get("type"), Username: strings.TrimSpace(r.PostForm.Get("username")),
		TTL: r.PostForm.Get("ttl"), Note: r.PostForm.Get("note"), Uses: -1,
		Rooms: strings.TrimSpace(r.PostForm.Get("rooms")), Circle: r.PostForm.Get("circle")}
	if n, err := strconv.Atoi(strings.TrimSpace(r.PostForm.Get("uses"))); err == nil {
		f.Uses = n
	}
	return f
}

// createErrorText says why an invite could not be created, in the
// person's language.
func createErrorText(h i18n.HTML, err error) template.HTML {
	var ve *invites.ValidationError
	var na *invites.NotAllowedError
	switch {
	case errors.As(err, &na) && na.Rule == invites.RuleTreeFull:
		return h.N("create_chain_tree_full", na.Limit,
			"Your invite tree has reached its limit of {{.Count}} account, so you cannot create invites for new accounts. You can still invite people who already have an address.",
			"Your invite tree has reached its limit of {{.Count}} accounts, so you cannot create invites for new accounts. You can still invite people who already have an address.")
	case errors.As(err, &na) && na.Rule == invites.RuleTooNew && na.Age%time.Hour == 0:
		return h.N("create_chain_too_new_hours", int(na.Age/time.Hour),
			"Your account is new: accounts made with an invite can create invites for new accounts when they are {{.Count}} hour old. Yours can from {{.Next}}.",
			"Your account is new: accounts made with an invite can create invites for new accounts when they are {{.Count}} hours old. Yours can from {{.Next}}.",
			"Next", h.Date(na.Next))
	case errors.As(err, &na) && na.Rule == invites.RuleTooNew:
		return h.N("create_chain_too_new_minutes", int((na.Age+time.Minute-1)/time.Minute),
			"Your account is new: accounts made with an invite can create invites for new accounts when they are {{.Count}} minute old. Yours can from {{.Next}}.",
			"Your account is new: accounts made with an invite can create invites for new accounts when they are {{.Count}} minutes old. Yours can from {{.Next}}.",
			"Next", h.Date(na.Next))
	case errors.Is(err, invites.ErrNotAllowed):
		return createErrorText(h, &invites.ValidationError{Field: "type"})
	case errors.Is(err, invites.ErrProtected):
		return h.T("create_protected", "A reset invite for an admin or a reserved account can only be made with the command line.")
	case errors.As(err, &ve):
		switch ve.Field {
		case "uses":
			return h.N("create_bad_uses", invites.MaxUses, "Uses: a number from 1 to {{.Count}}; invites for a fixed username and resets have one use.", "Uses: a number from 1 to {{.Count}}; invites for a fixed username and resets have one use.")
		case "ttl":
			return h.T("create_bad_ttl", "Choose a validity from the list.")
		case "note":
			return h.N("create_bad_note", invites.MaxNoteLen, "The note must be plain text of at most {{.Count}} byte.", "The note must be plain text of at most {{.Count}} bytes.")
		case "username":
			if ve.Code == invites.CodeNoAccount {
				return h.T("create_no_account", "There is no account {{.JID}} on the chat server.", "JID", strong(ve.Value))
			}
			if ve.Code != "" {
				return validationText(h, ve)
			}
			return h.T("create_bad_username", "This username cannot be used here: check it, or leave it empty where it is optional.")
		case "type":
			return h.T("create_bad_type", "Choose a kind of invite from the list.")
		case "rooms":
			return h.N("create_bad_rooms", keystore.MaxRooms, "Group chats: at most {{.Count}} address of a group chat service of this site, such as room@{{.Service}}; resets take none.",
				"Group chats: at most {{.Count}} addresses on a group chat service of this site, such as room@{{.Service}}; resets take none.", "Service", ve.Value)
		case "circle":
			return h.T("create_bad_circle", "Choose a circle from the list; a full circle takes no more invites.")
		}
	}
	return h.T("create_failed", "The invite could not be created. Please try again.")
}

// create makes an invite from the form for v, under the rules of the
// person's rights. It renders the created page, or returns the error
// message for the form.
func (p *pages) create(w http.ResponseWriter, r *http.Request, l *i18n.Localizer, v viewer, f createForm, admin bool) (template.HTML, error) {
	h := i18n.HTML{Localizer: l}
	cfg := p.s.svc.Config()
	req := invites.Request{Type: keystore.Type(f.Type), Note: f.Note, Uses: f.Uses}
	if f.Uses < 1 {
		return createErrorText(h, &invites.ValidationError{Field: "uses"}), nil
	}
	if f.TTL != "" {
		ttl, never, ok := p.ttlChoice(f.TTL, v.Admin)
		if !ok {
			return createErrorText(h, &invites.ValidationError{Field: "ttl"}), nil
		}
		req.TTL, req.Never = ttl, never
	}
	if admin {
		req.Username = f.Username
		req.Rooms = strings.FieldsFunc(f.Rooms, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
		req.Circle = f.Circle
		if req.Type == keystore.TypeReset && p.s.link.State() == "up" {
			req.Accounts = p.s.link
		}
	} else {
		// /my offers what the person's rights allow; CreateFor decides.
		allowed := false
		for _, t := range p.myTypes(v) {
			allowed = allowed || t == f.Type
		}
		if !allowed {
			return createErrorText(h, &invites.ValidationError{Field: "type"}), nil
		}
	}
	c, err := p.s.svc.CreateFor(r.Context(), invites.Person{JID: v.JID, Admin: v.Admin}, req)
	switch {
	case errors.Is(err, invites.ErrQuota):
		return h.N("create_quota", cfg.UserInvitesPerDay, "You have created {{.Count}} invite in the last 24 hours, your limit. You can create the next one on {{.Next}}.",
			"You have created {{.Count}} invites in the last 24 hours, your limit. You can create the next one on {{.Next}}.", "Next", l.Date(invites.QuotaNext(err))), nil
	case errors.Is(err, invites.ErrNotAllowed):
		return createErrorText(h, err), nil
	case errors.Is(err, invites.ErrProtected):
		return createErrorText(h, err), nil
	case err != nil:
		var ve *invites.ValidationError
		if errors.As(err, &ve) {
			if ve.Field == "username" {
				ve.Value = f.Username + "@" + cfg.Domain
			}
			if ve.Field == "rooms" {
				ve.Value = "conference." + cfg.Domain
				if len(cfg.MUCDomains) > 0 {
					ve.Value = cfg.MUCDomains[0]
				}
			}
			return createErrorText(h, err), nil
		}
		return "", err
	}
	p.s.metrics.InviteCreated("portal", string(c.Invite.Type))
	p.s.log.Info("invite created", "invite", c.Invite.ID, "type", c.Invite.Type, "creator", req.Creator, "via", "portal")
	// CreateFor records admins' invites in the audit log.
	qr, err := p.qr.svg(c.LandingURL, l.T("landing_qr_alt", "QR code of this invite's link"))
	if err != nil {
		return "", err
	}
	back := "/my"
	if admin {
		back = "/admin/invites"
	}
	d := createdData{portalPage: p.portalPage(r, l, l.T("created_page_title", "Invite created"), v, strings.TrimPrefix(back, "/admin/")),
		Link: c.LandingURL, URI: c.URI, Expires: l.Date(c.Invite.Expires), Type: string(c.Invite.Type), Uses: c.Invite.MaxUses, QR: qr, Back: p.url(back)}
	if c.Invite.NeverExpires() {
		d.Never, d.Expires = true, ""
	}
	if !admin {
		d.Section = "my"
	}
	return "", p.render(w, http.StatusCreated, "created", d)
}

func (p *pages) myCreate(w http.ResponseWriter, r *http.Request, l *i18n.Localizer, v viewer) error {
	f := readCreate(r)
	msg, err := p.create(w, r, l, v, f, false)
	if err != nil || msg == "" {
		return err
	}
	d, err := p.myData(r.Context(), r, l, v)
	if err != nil {
		return err
	}
	d.Form, d.Error = f, msg
	d.TTLs = p.ttlOptions(l, f.TTL, v.Admin)
	return p.render(w, http.StatusBadRequest, "my", d)
}

// revoke revokes an invite the person may revoke: their own, or any for
// admins on the admin page. Others' invites are 404, as if absent.
func (p *pages) revoke(r *http.Request, v viewer, admin bool) error {
	id := r.PathValue("id")
	if len(id) > 64 {
		return errPageNoInvite
	}
	// RevokeFor: own invites only on /my; any on /admin, recorded in the
	// audit log.
	inv, err := p.s.svc.RevokeFor(r.Context(), invites.Person{JID: v.JID, Admin: admin}, id)
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return errPageNoInvite
	case err != nil && !errors.Is(err, keystore.ErrRevoked) && !errors.Is(err, keystore.ErrUsedUp) && !errors.Is(err, keystore.ErrExpired):
		return err
	}
	p.s.log.Info("invite revoked", "invite", inv.ID, "by", v.JID, "via", "portal")
	return nil
}

var errPageNoInvite = &pageError{Status: http.StatusNotFound,
	Title: i18n.Msg("portal_no_invite_title", "No such invite"),
	Msg:   i18n.Msg("portal_no_invite", "There is no invite of yours with this ID.")}

func (p *pages) myRevoke(w http.ResponseWriter, r *http.Request, l *i18n.Localizer, v viewer) error {
	if err := p.revoke(r, v, false); err != nil {
		return err
	}
	http.Redirect(w, r, p.url("/my"), http.StatusSeeOther)
	return nil
}

// audit records an admin's action; a failure is logged, not shown: the
// action itself is done.
func (p *pages) audit(ctx context.Context, v viewer, action, target, detail string) {
	if err := p.s.store.Audit(ctx, v.JID, action, target, detail); err != nil {
		p.s.log.Error("audit log not written", "actor", v.JID, "action", action, "target", target, "err", err)
	}
}
