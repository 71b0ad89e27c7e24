package httpapi

import (
	"encoding/csv"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"xmpp-invites/i18n"
	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

// adminInvites lists every invite, newest first, filtered by state, type
// and creator, with the creation form.
func (p *pages) adminInvites(w http.ResponseWriter, r *http.Request, l *i18n.Localizer, v viewer) error {
	d, err := p.adminInvitesData(r, l, v)
	if err != nil {
		return err
	}
	return p.render(w, http.StatusOK, "admin_invites", d)
}

func (p *pages) adminInvitesData(r *http.Request, l *i18n.Localizer, v viewer) (myData, error) {
	q := r.URL.Query()
	d := myData{portalPage: p.portalPage(r, l, l.T("admin_invites_title", "Invites"), v, "invites"),
		Types: []string{"account", "contact", "reset"}, MaxUses: invites.MaxUses}
	d.TTLs = p.ttlOptions(l, "", true)
	d.Form.Uses = 1
	d.MUC = len(p.s.svc.Config().MUCDomains) > 0
	circles, err := p.s.store.Circles(r.Context())
	if err != nil {
		return d, err
	}
	for _, c := range circles {
		d.Circles = append(d.Circles, c.Name)
	}
	o := keystore.ListOptions{All: true, Newest: true, Limit: pageSize + 1}
	switch st := keystore.State(q.Get("state")); st {
	case keystore.StatePending, keystore.StateUsed, keystore.StateExpired, keystore.StateRevoked:
		o.State, d.State = st, string(st)
	}
	if t := keystore.Type(q.Get("type")); t.Valid() {
		o.Type, d.Type = t, string(t)
	}
	if c := strings.TrimSpace(q.Get("creator")); c != "" && len(c) <= 3100 {
		d.Creator = c
		// A bare address means that person's invites.
		if strings.Contains(c, "@") && !strings.Contains(c, ":") {
			c = "xmpp:" + c
		}
		o.Creator = c
	}
	if b := q.Get("before"); len(b) <= 64 {
		o.Before = b
	}
	list, err := p.s.store.ListInvites(r.Context(), o)
	if err != nil {
		return d, err
	}
	list, d.NextBefore = onePage(list, inviteCursor)
	d.Invites, err = p.rows(r.Context(), l, list)
	return d, err
}

// NextURL is the link to the next page of the list, keeping the filters.
func (d myData) NextURL() string {
	q := make([]string, 0, 4)
	for _, kv := range [][2]string{{"state", d.State}, {"type", d.Type}, {"creator", d.Creator}, {"before", d.NextBefore}} {
		if kv[1] != "" {
			q = append(q, kv[0]+"="+template.URLQueryEscaper(kv[1]))
		}
	}
	path := "/my"
	if d.Section == "invites" {
		path = "/admin/invites"
	}
	return d.Base + path + "?" + strings.Join(q, "&")
}

func (p *pages) adminCreate(w http.ResponseWriter, r *http.Request, l *i18n.Localizer, v viewer) error {
	f := readCreate(r)
	msg, err := p.create(w, r, l, v, f, true)
	if err != nil || msg == "" {
		return err
	}
	d, err := p.adminInvitesData(r, l, v)
	if err != nil {
		return err
	}
	d.Form, d.Error = f, msg
	d.TTLs = p.ttlOptions(l, f.TTL, true)
	return p.render(w, http.StatusBadRequest, "admin_invites", d)
}

func (p *pages) adminRevoke(w http.ResponseWriter, r *http.Request, l *i18n.Localizer, v viewer) error {
	if err := p.revoke(r, v, true); err != nil {
		return err
	}
	http.Redirect(w, r, p.url("/admin/invites"), http.StatusSeeOther)
	return nil
}

// keysData is /admin/keys.
type keysData struct {
	portalPage
	Keys       []keyRow
	Error      template.HTML
	Credential string // a new key's credential, shown once
	NewKey     string
	Form       keyForm
}

type keyRow struct {
	ID, Name, Label, Scope, Created, LastUsed, Expires string
	Quota                                              int
}

type keyForm struct {
	Name, Label, Scope string
	Days, Quota        int
}

// Key form limits.
const (
	maxKeyLabel = 100
	maxKeyDays  = 3650
	maxKeyQuota = 1_000_000
)

func (p *pages) keysData(r *http.Request, l *i18n.Localizer, v viewer) (keysData, error) {
	d := keysData{portalPage: p.portalPage(r, l, l.T("admin_keys_title", "API keys"), v, "keys"), Form: keyForm{Scope: "create"}}
	keys, err := p.s.store.ListKeys(r.Context())
	if err != nil {
		return d, err
	}
	never := l.T("admin_never", "never")
	for _, k := range keys {
		row := keyRow{ID: k.ID, Name: k.Name, Label: k.Label, Scope: string(k.Scope), Created: l.Date(k.Created), LastUsed: never, Expires: never, Quota: k.Quota}
		if !k.LastUsed.IsZero() {
			row.LastUsed = l.Date(k.LastUsed)
		}
		if !k.Expires.IsZero() {
			row.Expires = l.Date(k.Expires)
		}
		d.Keys = append(d.Keys, row)
	}
	return d, nil
}

func (p *pages) adminKeys(w http.ResponseWriter, r *http.Request, l *i18n.Localizer, v viewer) error {
	d, err := p.keysData(r, l, v)
	if err != nil {
		return err
	}
	return p.render(w, http.StatusOK, "admin_keys", d)
}

func (p *pages) adminKeyCreate(w http.ResponseWriter, r *http.Request, l *i18n.Localizer, v viewer) error {
	h := i18n.HTML{Localizer: l}
	f := keyForm{Name: strings.TrimSpace(r.PostForm.Get("name")), Label: strings.TrimSpace(r.PostForm.Get("label")), Scope: r.PostForm.Get("scope")}
	var msg template.HTML
	var err1, err2 error
	f.Days, err1 = formInt(r.PostForm.Get("days"))
	f.Quota, err2 = formInt(r.PostForm.Get("quota"))
	switch {
	case f.Name == "" || len(f.Name) > 200 || invites.CheckText("name", f.Name) != nil || strings.ContainsAny(f.Name, "\t\n"):
		msg = h.N("admin_key_bad_name", 200, "Give the key a name of at most {{.Count}} byte, for yourself (for example: website).", "Give the key a name of at most {{.Count}} bytes, for yourself (for example: website).")
	case len(f.Label) > maxKeyLabel || invites.CheckText("label", f.Label) != nil || strings.ContainsAny(f.Label, "\t\n"):
		msg = h.N("admin_key_bad_label", maxKeyLabel, "The public label is plain text of at most {{.Count}} byte.", "The public label is plain text of at most {{.Count}} bytes.")
	case f.Scope != "create" && f.Scope != "manage":
		msg = h.T("admin_key_bad_scope", "Choose what the key may do from the list.")
	case err1 != nil || f.Days < 0 || f.Days > maxKeyDays:
		msg = h.N("admin_key_bad_days", maxKeyDays, "Expires after: a number of days from 0 (never) to {{.Count}}.", "Expires after: a number of days from 0 (never) to {{.Count}}.")
	case err2 != nil || f.Quota < 0 || f.Quota > maxKeyQuota:
		msg = h.T("admin_key_bad_quota", "Invites per hour: a number, 0 for no limit.")
	}
	if msg != "" {
		d, err := p.keysData(r, l, v)
		if err != nil {
			return err
		}
		d.Error, d.Form = msg, f
		return p.render(w, http.StatusBadRequest, "admin_keys", d)
	}
	kp := keystore.KeyParams{Name: f.Name, Label: f.Label, Scope: keystore.Scope(f.Scope), Quota: f.Quota}
	if f.Days > 0 {
		kp.Expires = p.s.now().Add(time.Duration(f.Days) * 24 * time.Hour)
	}
	k, cred, err := p.s.store.CreateKey(r.Context(), kp)
	if err != nil {
		return err
	}
	p.s.log.Info("key created", "key", k.ID, "scope", k.Scope, "by", v.JID, "via", "portal")
	p.audit(r.Context(), v, "key.create", k.ID, "scope="+string(k.Scope)+" name="+k.Name)
	d, err := p.keysData(r, l, v)
	if err != nil {
		return err
	}
	d.Credential, d.NewKey = cred, k.ID
	return p.render(w, http.StatusCreated, "admin_keys", d)
}

func (p *pages) adminKeyDelete(w http.ResponseWriter, r *http.Request, l *i18n.Localizer, v viewer) error {
	id := r.PathValue("id")
	revoke := r.PostForm.Get("revoke") == "1"
	if len(id) > 64 {
		return errPageNoKey
	}
	n, err := p.s.store.DeleteKey(r.Context(), id, revoke)
	if errors.Is(err, keystore.ErrNotFound) {
		return errPageNoKey
	}
	if err != nil {
		return err
	}
	p.s.log.Info("key deleted", "key", id, "revoked", n, "by", v.JID, "via", "portal")
	p.audit(r.Context(), v, "key.delete", id, "invites revoked="+strconv.Itoa(n))
	http.Redirect(w, r, p.url("/admin/keys"), http.StatusSeeOther)
	return nil
}

var errPageNoKey = &pageError{Status: http.StatusNotFound,
	Title: i18n.Msg("admin_no_key_title", "No such key"),
	Msg:   i18n.Msg("admin_no_key", "There is no API key with this ID: it may have been deleted already.")}

// registrationsData is /admin/registrations.
type registrationsData struct {
	portalPage
	Accounts   []accountRow
	NextBefore string
}

type accountRow struct {
	JID, When, InviteID, Type, Inviter string
}

func (p *pages) adminRegistrations(w http.ResponseWriter, r *http.Request, l *i18n.Localizer, v viewer) error {
	d := registrationsData{portalPage: p.portalPage(r, l, l.T("admin_registrations_title", "Registrations"), v, "registrations")}
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	rows, err := p.s.store.Accounts(r.Context(), keystore.AccountOptions{Before: max(before, 0), Limit: pageSize + 1})
	if err != nil {
		return err
	}
	rows, d.NextBefore = onePage(rows, func(a keystore.AccountRow) string { return strconv.FormatInt(a.Seq, 10) })
	for _, a := range rows {
		d.Accounts = append(d.Accounts, accountRow{JID: a.JID, When: l.Date(a.Created), InviteID: a.InviteID, Type: string(a.InviteType), Inviter: a.Inviter})
	}
	return p.render(w, http.StatusOK, "admin_registrations", d)
}

func (p *pages) adminForget(w http.ResponseWriter, r *http.Request, l *i18n.Localizer, v viewer) error {
	j := r.PostForm.Get("jid")
	if j == "" || len(j) > 3071 {
		return errPageNoAccount
	}
	if err := p.s.store.ForgetAccount(r.Context(), j); errors.Is(err, keystore.ErrNotFound) {
		return errPageNoAccount
	} else if err != nil {
		return err
	}
	p.audit(r.Context(), v, "registration.forget", j, "")
	http.Redirect(w, r, p.url("/admin/registrations"), http.StatusSeeOther)
	return nil
}

var errPageNoAccount = &pageError{Status: http.StatusNotFound,
	Title: i18n.Msg("admin_no_registration_title", "No such registration"),
	Msg:   i18n.Msg("admin_no_registration", "There is no registration of this address: it may have been forgotten already.")}

// auditData is /admin/audit.
type auditData struct {
	portalPage
	Entries    []auditRow
	NextBefore string
}

type auditRow struct {
	When, Actor, Action, Target, Detail string
}

func (p *pages) adminAudit(w http.ResponseWriter, r *http.Request, l *i18n.Localizer, v viewer) error {
	d := auditData{portalPage: p.portalPage(r, l, l.T("admin_audit_title", "Audit log"), v, "audit")}
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	list, err := p.s.store.AuditLog(r.Context(), max(before, 0), pageSize+1)
	if err != nil {
		return err
	}
	list, d.NextBefore = onePage(list, func(e keystore.AuditEntry) string { return strconv.FormatInt(e.Seq, 10) })
	for _, e := range list {
		d.Entries = append(d.Entries, auditRow{When: l.Date(e.At), Actor: e.Actor, Action: e.Action, Target: e.Target, Detail: e.Detail})
	}
	return p.render(w, http.StatusOK, "admin_audit", d)
}

// adminAuditCSV exports the whole audit log, newest first. Cells that a
// spreadsheet would read as a formula are neutralised.
func (p *pages) adminAuditCSV(w http.ResponseWriter, r *http.Request, l *i18n.Localizer, v viewer) error {
	var all []keystore.AuditEntry
	var before int64
	for {
		list, err := p.s.store.AuditLog(r.Context(), before, 1000)
		if err != nil {
			return err
		}
		all = append(all, list...)
		if len(list) < 1000 {
			break
		}
		before = list[len(list)-1].Seq
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="xmpp-invites-audit.csv"`)
	cw := csv.NewWriter(w)
	cw.Write([]string{"time", "actor", "action", "target", "detail"})
	for _, e := range all {
		cw.Write([]string{e.At.UTC().Format(time.RFC3339), csvCell(e.Actor), csvCell(e.Action), csvCell(e.Target), csvCell(e.Detail)})
	}
	cw.Flush()
	return nil
}

// formInt reads a number field; empty is 0.
func formInt(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if len(s) > 12 {
		return 0, strconv.ErrRange
	}
	return strconv.Atoi(s)
}

// csvCell neutralises a cell a spreadsheet would run as a formula (OWASP
// "CSV injection"): one starting with = + - @, a tab or a carriage return
// gets a leading apostrophe.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
