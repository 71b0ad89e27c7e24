package httpapi

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"xmpp-invites/i18n"
	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

// /admin/circles: circles and their members (docs/presets.md).

// circlesData is /admin/circles.
type circlesData struct {
	portalPage
	Circles []circleRow
	Max     int // max_circle_size
	Error   template.HTML
	Notice  template.HTML
	Name    string // the create form's name, kept after an error
}

type circleRow struct {
	Name    string
	Created string
	Members []string
}

func (p *pages) circlesData(r *http.Request, l *i18n.Localizer, v viewer) (circlesData, error) {
	d := circlesData{portalPage: p.portalPage(r, l, l.T("admin_circles_title", "Circles"), v, "circles"), Max: p.s.svc.Config().MaxCircleSize}
	cs, err := p.s.store.Circles(r.Context())
	if err != nil {
		return d, err
	}
	for _, c := range cs {
		row := circleRow{Name: c.Name, Created: l.Date(c.Created)}
		ms, err := p.s.store.CircleMembers(r.Context(), c.Name)
		if err != nil && !errors.Is(err, keystore.ErrNotFound) {
			return d, err
		}
		for _, m := range ms {
			row.Members = append(row.Members, m.JID)
		}
		d.Circles = append(d.Circles, row)
	}
	return d, nil
}

func (p *pages) adminCircles(w http.ResponseWriter, r *http.Request, l *i18n.Localizer, v viewer) error {
	d, err := p.circlesData(r, l, v)
	if err != nil {
		return err
	}
	return p.render(w, http.StatusOK, "admin_circles", d)
}

// circlesAgain renders the page with a message: an error (status 400 or
// 409) or, with status 200, a notice.
func (p *pages) circlesAgain(w http.ResponseWriter, r *http.Request, l *i18n.Localizer, v viewer, status int, msg template.HTML, name string) error {
	d, err := p.circlesData(r, l, v)
	if err != nil {
		return err
	}
	if status == http.StatusOK {
		d.Notice = msg
	} else {
		d.Error, d.Name = msg, name
	}
	return p.render(w, status, "admin_circles", d)
}

func (p *pages) adminCircleCreate(w http.ResponseWriter, r *http.Request, l *i18n.Localizer, v viewer) error {
	h := i18n.HTML{Localizer: l}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	if invites.CheckCircleName(name) != nil {
		return p.circlesAgain(w, r, l, v, http.StatusBadRequest, h.N("admin_circle_bad_name", keystore.MaxCircleName,
			"A circle's name: letters, digits, '-', '_' and '.', at most {{.Count}} byte.",
			"A circle's name: letters, digits, '-', '_' and '.', at most {{.Count}} bytes."), name)
	}
	_, err := p.s.store.CreateCircle(r.Context(), name)
	if errors.Is(err, keystore.ErrExists) {
		return p.circlesAgain(w, r, l, v, http.StatusConflict, h.T("admin_circle_exists", "There is a circle {{.Name}} already.", "Name", strong(name)), name)
	}
	if err != nil {
		return err
	}
	p.s.log.Info("circle created", "circle", name, "by", v.JID, "via", "portal")
	p.audit(r.Context(), v, "circle.create", name, "")
	http.Redirect(w, r, p.url("/admin/circles"), http.StatusSeeOther)
	return nil
}

var errPageNoCircle = &pageError{Status: http.StatusNotFound,
	Title: i18n.Msg("admin_no_circle_title", "No such circle"),
	Msg:   i18n.Msg("admin_no_circle", "There is no circle with this name: it may have been deleted already.")}

func (p *pages) adminCircleDelete(w http.ResponseWriter, r *http.Request, l *i18n.Localizer, v viewer) error {
	name := r.PathValue("name")
	if invites.CheckCircleName(name) != nil {
		return errPageNoCircle
	}
	err := p.s.store.DeleteCircle(r.Context(), name)
	if errors.Is(err, keystore.ErrNotFound) {
		return errPageNoCircle
	}
	if err != nil {
		return err
	}
	p.s.log.Info("circle deleted", "circle", name, "by", v.JID, "via", "portal")
	p.audit(r.Context(), v, "circle.delete", name, "")
	http.Redirect(w, r, p.url("/admin/circles"), http.StatusSeeOther)
	return nil
}

func (p *pages) adminCircleAdd(w http.ResponseWriter, r *http.Request, l *i18n.Localizer, v viewer) error {
	h := i18n.HTML{Localizer: l}
	name := r.PathValue("name")
	if invites.CheckCircleName(name) != nil {
		return errPageNoCircle
	}
	j := strings.TrimSpace(r.PostForm.Get("jid"))
	var acc invites.Accounts
	if p.s.link.State() == "up" {
		acc = p.s.link
	}
	member, befriended, err := p.s.svc.AddCircleMember(r.Context(), acc, name, j)
	var ve *invites.ValidationError
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return errPageNoCircle
	case errors.As(err, &ve):
		return p.circlesAgain(w, r, l, v, http.StatusBadRequest, h.T("admin_circle_bad_jid", "Give the address of an account of {{.Domain}}, such as alice@{{.Domain}}.", "Domain", p.s.svc.Config().Domain), "")
	case errors.Is(err, keystore.ErrExists):
		return p.circlesAgain(w, r, l, v, http.StatusConflict, h.T("admin_circle_member_exists", "{{.JID}} is a member already.", "JID", strong(j)), "")
	case errors.Is(err, keystore.ErrLimit):
		return p.circlesAgain(w, r, l, v, http.StatusConflict, h.N("admin_circle_full", p.s.svc.Config().MaxCircleSize,
			"The circle is full: it has {{.Count}} member, the most it may have.", "The circle is full: it has {{.Count}} members, the most it may have."), "")
	case err != nil:
		return err
	}
	p.s.log.Info("circle member added", "circle", name, "jid", member, "contacts", befriended, "by", v.JID, "via", "portal")
	p.audit(r.Context(), v, "circle.add", name, member)
	if !befriended {
		return p.circlesAgain(w, r, l, v, http.StatusOK, h.T("admin_circle_added_manual",
			"{{.JID}} joined the circle, but the chat server did not let this service add contacts: the members add each other by hand.", "JID", strong(member)), "")
	}
	http.Redirect(w, r, p.url("/admin/circles"), http.StatusSeeOther)
	return nil
}

func (p *pages) adminCircleRemove(w http.ResponseWriter, r *http.Request, l *i18n.Localizer, v viewer) error {
	name := r.PathValue("name")
	if invites.CheckCircleName(name) != nil {
		return errPageNoCircle
	}
	member, err := p.s.svc.CircleMember(r.PostForm.Get("jid"))
	if err != nil {
		return errPageNoCircle
	}
	err = p.s.store.RemoveCircleMember(r.Context(), name, member)
	if errors.Is(err, keystore.ErrNotFound) {
		return errPageNoCircle
	}
	if err != nil {
		return err
	}
	p.s.log.Info("circle member removed", "circle", name, "jid", member, "by", v.JID, "via", "portal")
	p.audit(r.Context(), v, "circle.remove", name, member)
	http.Redirect(w, r, p.url("/admin/circles"), http.StatusSeeOther)
	return nil
}

// PathName is a circle row's name for a URL path.
func (circlesData) PathName(c circleRow) string { return url.PathEscape(c.Name) }
