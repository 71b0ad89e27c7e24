package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"xmpp-invites/i18n"
	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

// Branding is what an operator adds to every page ([branding]).
type Branding struct {
	Logo        []byte // the logo image; nil: the built-in mark
	LogoType    string // its Content-Type (LogoType)
	AccentColor string // #rrggbb; "": the built-in blue
	ImprintURL  string
	PrivacyURL  string
	TermsURL    string
	Notice      string // plain text, shown at the top of every page
	// Templates overrides the built-in templates by file name
	// (layout.html, partials.html, landing.html, register.html,
	// success.html, error.html); TemplatesDir names it in errors.
	Templates    fs.FS
	TemplatesDir string
}

// MaxLogoBytes bounds the logo: it is served from memory.
const MaxLogoBytes = 512 << 10

// LogoType is the Content-Type of a logo file by its name, and whether it
// is an image type pages may show.
func LogoType(name string) (string, bool) {
	switch strings.ToLower(path.Ext(name)) {
	case ".png":
		return "image/png", true
	case ".jpg", ".jpeg":
		return "image/jpeg", true
	case ".webp":
		return "image/webp", true
	case ".svg":
		return "image/svg+xml", true
	}
	return "", false
}

// TemplateError is a page template, built-in or the operator's, that
// cannot be parsed or rendered: the server does not start. It names the
// file and line.
type TemplateError struct{ Err error }

func (e *TemplateError) Error() string { return "pages: " + e.Err.Error() }

func (e *TemplateError) Unwrap() error { return e.Err }

// templateFiles are the templates an operator may override.
var templateFiles = []string{"layout.html", "partials.html", "landing.html", "register.html", "success.html", "error.html"}

// readTemplate returns a template file: the operator's override if there
// is one, else the built-in one.
func (p *pages) readTemplate(name string) ([]byte, string, error) {
	if o := p.s.cfg.Branding.Templates; o != nil {
		b, err := fs.ReadFile(o, name)
		switch {
		case err == nil:
			return b, path.Join(p.s.cfg.Branding.TemplatesDir, name), nil
		case !errors.Is(err, fs.ErrNotExist):
			return nil, "", fmt.Errorf("branding.templates_dir: %w", err)
		}
	}
	b, err := pageFS.ReadFile("templates/" + name)
	return stripIndent(b), name, err
}

// stripIndent drops the indentation of the built-in templates' lines:
// it is for people reading them, and only weighs the pages down.
func stripIndent(b []byte) []byte {
	lines := bytes.Split(b, []byte("\n"))
	for i, l := range lines {
		lines[i] = bytes.TrimLeft(l, " \t")
	}
	return bytes.Join(lines, []byte("\n"))
}

// checkOverrides refuses files in the templates directory that would be
// ignored: a typo would otherwise silently keep the built-in page.
func (p *pages) checkOverrides() error {
	o := p.s.cfg.Branding.Templates
	if o == nil {
		return nil
	}
	entries, err := fs.ReadDir(o, ".")
	if err != nil {
		return fmt.Errorf("branding.templates_dir %s: %w", p.s.cfg.Branding.TemplatesDir, err)
	}
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		known := false
		for _, n := range templateFiles {
			known = known || e.Name() == n
		}
		if !known {
			return &TemplateError{fmt.Errorf("branding.templates_dir: %s is not a template name (the templates are %s)",
				path.Join(p.s.cfg.Branding.TemplatesDir, e.Name()), strings.Join(templateFiles, ", "))}
		}
	}
	return nil
}

// parseTemplates parses layout and partials, then each page on a copy. A
// parse error names the file and line.
func (p *pages) parseTemplates() error {
	if err := p.checkOverrides(); err != nil {
		return err
	}
	layout := template.New("pages")
	for _, name := range []string{"layout.html", "partials.html"} {
		b, shown, err := p.readTemplate(name)
		if err != nil {
			return err
		}
		if _, err := layout.New(shown).Parse(string(b)); err != nil {
			return &TemplateError{err}
		}
	}
	for _, name := range pageNames {
		b, shown, err := p.readTemplate(name + ".html")
		if err != nil {
			return err
		}
		t, err := layout.Clone()
		if err == nil {
			_, err = t.New(shown).Parse(string(b))
		}
		if err != nil {
			return &TemplateError{err}
		}
		p.tmpl[name] = t
	}
	// The portal's pages use the layout (the operator's, if overridden)
	// but are not overridable themselves.
	partials, err := pageFS.ReadFile("templates/portal_partials.html")
	if err != nil {
		return err
	}
	for _, name := range portalPageNames {
		b, err := pageFS.ReadFile("templates/" + name + ".html")
		if err != nil {
			return err
		}
		t, err := layout.Clone()
		if err == nil {
			_, err = t.New("portal_partials.html").Parse(string(stripIndent(partials)))
		}
		if err == nil {
			_, err = t.New(name + ".html").Parse(string(stripIndent(b)))
		}
		if err != nil {
			return &TemplateError{err}
		}
		p.tmpl[name] = t
	}
	return nil
}

// tryTemplates renders every page once with sample data of each kind, so
// that a template that cannot execute (a field that does not exist, a
// wrong call) stops the start naming its file and line, not a visitor's
// page.
func (p *pages) tryTemplates() error {
	l := p.cat.Default()
	r, _ := http.NewRequest("GET", "/invite?sample", nil)
	now := time.Now()
	sample := keystore.Invite{ID: "sample", Type: keystore.TypeAccount, MaxUses: 2, Expires: now.Add(7 * 24 * time.Hour), Creator: "xmpp:admin@example.org"}
	var buf strings.Builder
	try := func(name string, data any) error {
		buf.Reset()
		if err := p.tmpl[name].ExecuteTemplate(&buf, "layout", data); err != nil {
			return &TemplateError{err}
		}
		return nil
	}
	apps, err := p.appsHTML(l, "")
	if err != nil {
		return err
	}
	for _, kind := range []string{"account", "username", "reset", "contact"} {
		d := landingData{page: p.base(r, l, "sample"), Kind: kind, JID: "user@example.org", Inviter: "admin@example.org",
			ExpiresISO: i18n.ISO(sample.Expires), ExpiresText: l.Date(sample.Expires), ExpiresIn: l.Until(7 * 24 * time.Hour),
			UsesLeft: 2, RegisterURL: "register", CanRegister: true, RosterURI: "xmpp:user@example.org", Apps: apps}
		if err := try("landing", d); err != nil {
			return err
		}
		rd := registerData{page: p.slim(r, l, "sample"), Kind: kind, Error: "sample", ErrorField: "user", CSRF: "x", MinLen: 8,
			MaxLen: invites.MaxPasswordLen, Clients: []clientOption{{ID: "a", Label: "A", Selected: true}}, LandingURL: "invite"}
		if kind != "account" {
			rd.JID, rd.Contact = "user@example.org", "friend@example.org"
		}
		if err := try("register", rd); err != nil {
			return err
		}
		c := p.s.cfg.Clients
		sd := successData{page: p.slim(r, l, "sample"), Kind: kind, JID: "user@example.org", Typed: "User", Contact: "friend@example.org",
			ContactURI: "xmpp:friend@example.org"}
		if len(c) > 0 {
			sd.Client = &c[0]
		}
		if err := try("success", sd); err != nil {
			return err
		}
		sd.Client, sd.Apps, sd.Befriended = nil, apps, true
		if err := try("success", sd); err != nil {
			return err
		}
	}
	if err := try("error", errorData{page: p.slim(r, l, "sample"), Msg: "sample", LinkURL: "register", LinkLabel: "sample"}); err != nil {
		return err
	}
	return p.tryPortal(r, l)
}

// tryPortal renders each portal page once with sample data: they use the
// layout, which the operator may have overridden.
func (p *pages) tryPortal(r *http.Request, l *i18n.Localizer) error {
	var buf strings.Builder
	try := func(name string, data any) error {
		buf.Reset()
		if err := p.tmpl[name].ExecuteTemplate(&buf, "layout", data); err != nil {
			return &TemplateError{err}
		}
		return nil
	}
	v := viewer{JID: "admin@example.org", Admin: true, token: "sample"}
	pp := func(section string) portalPage { return p.portalPage(r, l, "sample", v, section) }
	now := time.Now()
	rows := []inviteRow{{ID: "sample", Type: "account", State: "used", Revocable: true, UsedBy: []useRow{{JID: "user@example.org", When: l.Date(now)}}}}
	for _, t := range []struct {
		name string
		data any
	}{
		{"login", loginData{portalPage: pp(""), Error: "sample", Component: "invites.example.org"}},
		{"login", loginData{portalPage: pp(""), Sent: true, Address: "user@example.org", Component: "invites.example.org", Minutes: 10}},
		{"confirm", confirmData{portalPage: pp(""), JID: "user@example.org", From: "192.0.2.1", Asked: l.Date(now)}},
		{"my", myData{portalPage: pp("my"), Types: []string{"contact", "account"}, TTLs: p.ttlOptions(l, "", false), Invites: rows, Quota: 10, NextBefore: "x"}},
		{"created", createdData{portalPage: pp("my"), Link: "https://example.org/invite?x", Expires: l.Date(now), Uses: 2}},
		{"admin_invites", myData{portalPage: pp("invites"), Types: []string{"account"}, Invites: rows, Error: "sample"}},
		{"admin_keys", keysData{portalPage: pp("keys"), Keys: []keyRow{{ID: "k", Scope: "manage"}}, Credential: "k/s", NewKey: "k", Error: "sample"}},
		{"admin_circles", circlesData{portalPage: pp("circles"), Circles: []circleRow{{Name: "family", Members: []string{"user@example.org"}}}, Error: "sample"}},
		{"admin_registrations", registrationsData{portalPage: pp("registrations"), Accounts: []accountRow{{JID: "user@example.org"}}, NextBefore: "1"}},
		{"admin_audit", auditData{portalPage: pp("audit"), Entries: []auditRow{{Action: "sample"}}, NextBefore: "1"}},
	} {
		if err := try(t.name, t.data); err != nil {
			return err
		}
	}
	return nil
}

// brandCSS is the stylesheet's addition for the accent colour.
func brandCSS(accent string) string {
	if accent == "" {
		return ""
	}
	// One colour for light and dark; hover and the soft background are
	// mixed from it.
	v := ":root{--accent:" + accent + ";--accent-hover:color-mix(in srgb," + accent + " 80%,#000);" +
		"--accent-soft:color-mix(in srgb," + accent + " 12%,var(--card));--on-accent:#fff}"
	return "\n" + v + "\n@media (prefers-color-scheme: dark){" + v + "}\n"
}

// legalLink is a footer link to the operator's imprint, privacy policy or
// terms.
type legalLink struct {
	URL   string
	Label template.HTML
}

// legalLinks are the footer's links in a language.
func (p *pages) legalLinks(l *i18n.Localizer) []legalLink {
	b := p.s.cfg.Branding
	h := i18n.HTML{Localizer: l}
	var out []legalLink
	if b.ImprintURL != "" {
		out = append(out, legalLink{b.ImprintURL, h.T("layout_imprint", "Imprint")})
	}
	if b.PrivacyURL != "" {
		out = append(out, legalLink{b.PrivacyURL, h.T("layout_privacy", "Privacy")})
	}
	if b.TermsURL != "" {
		out = append(out, legalLink{b.TermsURL, h.T("layout_terms", "Terms")})
	}
	return out
}

// logo serves the operator's logo, cacheable: it changes only with a
// restart, and its ETag is its hash.
func (p *pages) logo(w http.ResponseWriter, r *http.Request) {
	b := p.s.cfg.Branding
	sum := sha256.Sum256(b.Logo)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", "public, max-age=86400")
	h.Set("X-Content-Type-Options", "nosniff")
	// An SVG opened on its own must not run scripts.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", b.LogoType)
	h.Set("Content-Length", strconv.Itoa(len(b.Logo)))
	w.Write(b.Logo)
}
