package component

import (
	"encoding/xml"
	"sync"

	"xmpp-invites/i18n"
)

// nsXML is the namespace of the xml: prefix, as encoding/xml reports it.
const nsXML = "http://www.w3.org/XML/1998/namespace"

// xmlLang returns the xml:lang attribute of a stanza, "" when it has none.
func xmlLang(attrs []xml.Attr) string {
	for _, a := range attrs {
		if a.Name.Local == "lang" && (a.Name.Space == nsXML || a.Name.Space == "xml") {
			return a.Value
		}
	}
	return ""
}

// localizer picks the language of the answer to a stanza with attributes
// attrs: its xml:lang, else the default of the server's stream, else the
// catalogue's default; a language the catalogue lacks gets the nearest it
// has, or the default. given reports whether the stanza or the stream
// named a language. (Prosody and ejabberd put the language of the user's
// own stream on every stanza they route that has none.)
func (h *handler) localizer(attrs []xml.Attr) (loc *i18n.Localizer, given bool) {
	lang := xmlLang(attrs)
	if lang == "" && h.l != nil && h.l.s != nil {
		lang = h.l.s.In().Lang
	}
	if len(lang) > maxLangLen {
		// Not a language tag; not worth parsing.
		return h.c.cat.Default(), false
	}
	return h.c.cat.Accept(lang), lang != ""
}

// maxLangLen bounds the xml:lang values read. A language tag with all its
// subtags fits in 35 characters (RFC 5646 4.4.1); anything far longer is
// not one.
const maxLangLen = 64

// remember notes the language r spoke, so that a notice sent to r later
// (NotifyJoined) speaks it too. Only users of Domain are remembered: they
// are the ones who get notices, and strangers cannot fill the memory.
func (c *Component) remember(r requester, loc *i18n.Localizer, given bool) {
	if given && r.local {
		c.langs.set(r.bare.String(), loc.Lang())
	}
}

// localizerFor returns the language last heard from bare, else the
// catalogue's default.
func (c *Component) localizerFor(bare string) *i18n.Localizer {
	if loc, ok := c.lastLocalizer(bare); ok {
		return loc
	}
	return c.cat.Default()
}

// lastLocalizer returns the language last heard from bare, if any.
func (c *Component) lastLocalizer(bare string) (*i18n.Localizer, bool) {
	if tag, ok := c.langs.get(bare); ok {
		return c.cat.Lookup(tag)
	}
	return nil, false
}

// maxLangs bounds the languages remembered. The memory keeps two
// generations of at most maxLangs/2 users each: when the current one is
// full it becomes the old one and the one before is forgotten, so the
// users heard from most recently are kept and a flood of new senders
// cannot make it grow.
const maxLangs = 10000

// langMemory maps bare JIDs to the language tag they last used.
type langMemory struct {
	mu       sync.Mutex
	cur, old map[string]string
}

func (m *langMemory) set(bare, tag string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur == nil {
		m.cur = make(map[string]string)
	}
	if _, ok := m.cur[bare]; !ok && len(m.cur) >= maxLangs/2 {
		m.old, m.cur = m.cur, make(map[string]string)
	}
	m.cur[bare] = tag
}

func (m *langMemory) get(bare string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if tag, ok := m.cur[bare]; ok {
		return tag, true
	}
	tag, ok := m.old[bare]
	return tag, ok
}

// len is the number of users remembered, for tests.
func (m *langMemory) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.cur) + len(m.old)
}
