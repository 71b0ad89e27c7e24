// Package i18n holds the translations of every text an invitee or a user
// sees: the pages and the in-band answers. CLI output, logs and the API's
// JSON errors stay English.
//
// Catalogues are go-i18n TOML files under locales/, one per locale; en.toml
// is generated from the code and the templates by cmd/i18n-extract, the
// others are written by translators (docs/translating.md). A message is
// looked up by ID; its text may hold placeholders written {{.Name}}, filled
// from name/value pairs. Plural messages have the CLDR forms of their
// language (zero, one, two, few, many, other) and a count, {{.Count}}.
package i18n

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html"
	"html/template"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

//go:embed locales/*.toml
var localeFS embed.FS

// Locale describes one language the catalogue speaks.
type Locale struct {
	Tag  string // BCP 47, as in lang=: "de", "pt-BR", "zh-Hans"
	Name string // its own name for itself: "Deutsch"
	RTL  bool   // written right to left
}

// Dir is the HTML dir attribute of the locale: "rtl" or "ltr".
func (l Locale) Dir() string {
	if l.RTL {
		return "rtl"
	}
	return "ltr"
}

// known are the locales a catalogue file may be written for, in the order
// the language menu lists them. Adding a language: a line here and its file.
var known = []Locale{
	{Tag: "en", Name: "English"},
	{Tag: "ar", Name: "العربية", RTL: true},
	{Tag: "cs", Name: "Čeština"},
	{Tag: "da", Name: "Dansk"},
	{Tag: "de", Name: "Deutsch"},
	{Tag: "es", Name: "Español"},
	{Tag: "fa", Name: "فارسی", RTL: true},
	{Tag: "fr", Name: "Français"},
	{Tag: "he", Name: "עברית", RTL: true},
	{Tag: "it", Name: "Italiano"},
	{Tag: "ja", Name: "日本語"},
	{Tag: "nl", Name: "Nederlands"},
	{Tag: "pl", Name: "Polski"},
	{Tag: "pt-BR", Name: "Português (Brasil)"},
	{Tag: "ru", Name: "Русский"},
	{Tag: "sv", Name: "Svenska"},
	{Tag: "uk", Name: "Українська"},
	{Tag: "zh-Hans", Name: "中文（简体）"},
}

// Source is the locale the code and templates are written in.
const Source = "en"

// Forms are the CLDR plural forms, in go-i18n's names.
var Forms = []string{"zero", "one", "two", "few", "many", "other"}

func formIndex(f plural.Form) int {
	switch f {
	case plural.Zero:
		return 0
	case plural.One:
		return 1
	case plural.Two:
		return 2
	case plural.Few:
		return 3
	case plural.Many:
		return 4
	}
	return 5
}

// segment is a piece of a message: literal text, or a placeholder.
type segment struct {
	text string // literal text; "" with name set: a placeholder
	html string // text, escaped for HTML
	name string // placeholder name, without "{{." and "}}"
}

// message is one parsed message: its forms, each a list of segments (nil:
// the form is absent).
type message struct {
	forms [6][]segment
}

// locale is one catalogue. Its messages are parsed on first use: a server
// whose visitors speak two languages does not keep sixteen in memory.
type locale struct {
	Locale
	tag  language.Tag
	lz   *Localizer // the one localizer of this locale
	raw  []byte     // the TOML, until parsed
	once sync.Once
	msgs map[string]*message
	err  error
}

// messages parses the catalogue on first use. A catalogue that does not
// parse (which the tests rule out for the embedded ones) has no messages:
// its localizer then speaks the source language.
func (l *locale) messages() map[string]*message {
	l.once.Do(func() {
		l.msgs, l.err = parseMessages(l.Tag+".toml", l.raw)
		l.raw = nil
	})
	return l.msgs
}

// Catalog is the set of locales the service speaks, with the default
// language for visitors whose language is not among them.
type Catalog struct {
	locales []*locale // in the order of known; the source first
	byTag   map[string]*locale
	def     *locale
	src     *locale
	matcher language.Matcher
	accept  sync.Map // Accept-Language value → *locale, a bounded cache
	nAccept int
	mu      sync.Mutex
}

// New loads the embedded catalogues. def is the default language: the one
// shown when nothing the visitor asks for is available; "" is English.
func New(def string) (*Catalog, error) {
	return load(localeFS, "locales", def)
}

// Load reads the catalogues TAG.toml in dir of fsys instead of the embedded
// ones, for tests that need a language the embedded catalogues do not have
// yet. en.toml must be among them.
func Load(fsys fs.FS, dir, def string) (*Catalog, error) {
	return load(fsys, dir, def)
}

func load(fsys fs.FS, dir, def string) (*Catalog, error) {
	c := &Catalog{byTag: make(map[string]*locale)}
	for _, k := range known {
		b, err := fs.ReadFile(fsys, path.Join(dir, k.Tag+".toml"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		loc := &locale{Locale: k, tag: language.MustParse(k.Tag), raw: b}
		loc.lz = &Localizer{c: c, loc: loc}
		c.locales = append(c.locales, loc)
		c.byTag[strings.ToLower(k.Tag)] = loc
	}
	c.src = c.byTag[Source]
	if c.src == nil {
		return nil, fmt.Errorf("i18n: no %s catalogue", Source)
	}
	if def == "" {
		def = Source
	}
	c.def = c.byTag[strings.ToLower(def)]
	if c.def == nil {
		return nil, fmt.Errorf("i18n: default language %q is not one of %s", def, strings.Join(c.Tags(), ", "))
	}
	// The matcher's first tag is what it answers when nothing matches.
	tags := []language.Tag{c.def.tag}
	for _, l := range c.locales {
		if l != c.def {
			tags = append(tags, l.tag)
		}
	}
	c.matcher = language.NewMatcher(tags)
	// The source and the default are needed at once; a broken one is an
	// error now rather than English later.
	for _, l := range []*locale{c.src, c.def} {
		if l.messages(); l.err != nil {
			return nil, l.err
		}
	}
	return c, nil
}

// Check parses every catalogue and returns the first error; for tests and
// cmd/i18n-extract (the server parses a catalogue on its first use).
func (c *Catalog) Check() error {
	for _, l := range c.locales {
		if l.messages(); l.err != nil {
			return l.err
		}
	}
	return nil
}

// parseMessages reads a go-i18n TOML catalogue: each key a message ID whose
// value is its text, or a table of plural forms (and an optional
// description for translators).
func parseMessages(name string, b []byte) (map[string]*message, error) {
	var raw map[string]any
	if _, err := toml.Decode(string(b), &raw); err != nil {
		return nil, fmt.Errorf("i18n: %s: %w", name, err)
	}
	msgs := make(map[string]*message, len(raw))
	for id, v := range raw {
		m := &message{}
		switch v := v.(type) {
		case string:
			segs, err := parseText(v)
			if err != nil {
				return nil, fmt.Errorf("i18n: %s: %s: %w", name, id, err)
			}
			m.forms[5] = segs
		case map[string]any:
			for key, fv := range v {
				s, ok := fv.(string)
				if !ok {
					return nil, fmt.Errorf("i18n: %s: %s.%s: not a string", name, id, key)
				}
				if key == "description" || key == "hash" {
					continue
				}
				i := indexOf(Forms, key)
				if i < 0 {
					return nil, fmt.Errorf("i18n: %s: %s: unknown key %q (want one of %s, description)", name, id, key, strings.Join(Forms, ", "))
				}
				segs, err := parseText(s)
				if err != nil {
					return nil, fmt.Errorf("i18n: %s: %s.%s: %w", name, id, key, err)
				}
				m.forms[i] = segs
			}
			if m.forms[5] == nil {
				return nil, fmt.Errorf("i18n: %s: %s: no \"other\" form", name, id)
			}
		default:
			return nil, fmt.Errorf("i18n: %s: %s: not a message", name, id)
		}
		msgs[id] = m
	}
	return msgs, nil
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// parseText splits a message text into literal text and {{.Name}}
// placeholders; any other template syntax is refused.
func parseText(s string) ([]segment, error) {
	segs := []segment{}
	for s != "" {
		i := strings.Index(s, "{{")
		if i < 0 {
			segs = append(segs, lit(s))
			break
		}
		if i > 0 {
			segs = append(segs, lit(s[:i]))
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return nil, fmt.Errorf("unclosed {{ in %q", s)
		}
		ph := strings.TrimSpace(s[i+2 : i+j])
		name, ok := strings.CutPrefix(ph, ".")
		if !ok || !isName(name) {
			return nil, fmt.Errorf("placeholder {{%s}} is not of the form {{.Name}}", ph)
		}
		segs = append(segs, segment{name: name})
		s = s[i+j+2:]
	}
	return segs, nil
}

func lit(s string) segment { return segment{text: s, html: html.EscapeString(s)} }

func isName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// Placeholders returns the placeholder names of a text, sorted, each once.
func Placeholders(s string) ([]string, error) {
	segs, err := parseText(s)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var names []string
	for _, sg := range segs {
		if sg.name != "" && !seen[sg.name] {
			seen[sg.name] = true
			names = append(names, sg.name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// Locales lists the locales, the source language first, then in the order
// of their tags.
func (c *Catalog) Locales() []Locale {
	out := make([]Locale, len(c.locales))
	for i, l := range c.locales {
		out[i] = l.Locale
	}
	return out
}

// Tags lists the locales' tags.
func (c *Catalog) Tags() []string {
	out := make([]string, len(c.locales))
	for i, l := range c.locales {
		out[i] = l.Tag
	}
	return out
}

// Default is the default language's localizer.
func (c *Catalog) Default() *Localizer { return c.localizer(c.def) }

// Lookup returns the localizer of a locale by its tag (case-insensitive),
// or false.
func (c *Catalog) Lookup(tag string) (*Localizer, bool) {
	l, ok := c.byTag[strings.ToLower(tag)]
	if !ok {
		return nil, false
	}
	return c.localizer(l), true
}

// maxAcceptCache bounds the Accept-Language cache: browsers send few
// distinct values, but anyone can send many.
const maxAcceptCache = 512

// Accept returns the localizer that best fits an Accept-Language header
// (RFC 9110), or the default language's. The same goes for an xml:lang.
func (c *Catalog) Accept(header string) *Localizer {
	if header == "" {
		return c.Default()
	}
	if v, ok := c.accept.Load(header); ok {
		return c.localizer(v.(*locale))
	}
	loc := c.def
	if tags, _, err := language.ParseAcceptLanguage(header); err == nil && len(tags) > 0 {
		_, i, conf := c.matcher.Match(tags...)
		if conf != language.No {
			loc = c.nth(i)
		}
	}
	if len(header) <= 256 {
		c.mu.Lock()
		if c.nAccept < maxAcceptCache {
			c.nAccept++
			c.accept.Store(header, loc)
		}
		c.mu.Unlock()
	}
	return c.localizer(loc)
}

// nth is the locale at index i of the matcher's tags.
func (c *Catalog) nth(i int) *locale {
	if i == 0 {
		return c.def
	}
	n := 0
	for _, l := range c.locales {
		if l == c.def {
			continue
		}
		n++
		if n == i {
			return l
		}
	}
	return c.def
}

func (c *Catalog) localizer(l *locale) *Localizer { return l.lz }

// Localizer speaks one locale.
type Localizer struct {
	c   *Catalog
	loc *locale
}

// Locale describes the localizer's language.
func (l *Localizer) Locale() Locale { return l.loc.Locale }

// Lang is the localizer's BCP 47 tag, for lang= and Content-Language.
func (l *Localizer) Lang() string { return l.loc.Tag }

// Dir is "rtl" or "ltr".
func (l *Localizer) Dir() string { return l.loc.Dir() }

// T returns the message id as plain text, its placeholders filled from
// name/value pairs; a value of type func(*Localizer) string is called with
// the localizer, for a phrase in the same language. def is the English text: cmd/i18n-extract reads it
// from the call, and it is used when no catalogue has the message.
func (l *Localizer) T(id, def string, kv ...any) string {
	var b strings.Builder
	l.render(&b, id, 0, false, def, def, kv, false)
	return b.String()
}

// N is T for a message that depends on a count: one and other are its
// English forms; {{.Count}} is n.
func (l *Localizer) N(id string, n int, one, other string, kv ...any) string {
	var b strings.Builder
	l.render(&b, id, n, true, one, other, kv, false)
	return b.String()
}

// M renders a message kept for later (see Msg).
func (l *Localizer) M(m Message, kv ...any) string { return l.T(m.ID, m.Text, kv...) }

// Message is a message named now and rendered later, in the language of
// whoever sees it: an error page's text, a command's name.
type Message struct {
	ID   string
	Text string // English
}

// Msg names a message to render later; def is its English text.
func Msg(id, def string) Message { return Message{ID: id, Text: def} }

// IsZero reports whether m names no message.
func (m Message) IsZero() bool { return m.ID == "" }

// HTML is a localizer whose texts are HTML: its T and N escape the text and
// the values, except values of type template.HTML. Page templates call
// {{.L.T "id" "English text" "Name" value}}.
type HTML struct{ *Localizer }

// T is Localizer.T as escaped HTML.
func (h HTML) T(id, def string, kv ...any) template.HTML {
	var b strings.Builder
	h.render(&b, id, 0, false, def, def, kv, true)
	return template.HTML(b.String())
}

// N is Localizer.N as escaped HTML.
func (h HTML) N(id string, n int, one, other string, kv ...any) template.HTML {
	var b strings.Builder
	h.render(&b, id, n, true, one, other, kv, true)
	return template.HTML(b.String())
}

// M is Localizer.M as escaped HTML.
func (h HTML) M(m Message, kv ...any) template.HTML { return h.T(m.ID, m.Text, kv...) }

// render writes message id: from the localizer's catalogue, else the
// source catalogue, else the English text given by the caller.
func (l *Localizer) render(b *strings.Builder, id string, n int, counted bool, one, other string, kv []any, escape bool) {
	form := 5
	tag := l.loc.tag
	m := l.loc.messages()[id]
	if m == nil {
		m = l.c.src.messages()[id]
		tag = l.c.src.tag
	}
	if counted {
		// CLDR's rules are for the number's absolute value; x/text
		// panics on a negative one.
		abs := n
		if abs < 0 {
			abs = -abs
		}
		form = formIndex(plural.Cardinal.MatchPlural(tag, abs, 0, 0, 0, 0))
		kv = append(kv, "Count", n)
	}
	var segs []segment
	if m != nil {
		segs = m.forms[form]
		if segs == nil {
			segs = m.forms[5]
		}
	} else {
		text := other
		if counted && form == 1 {
			text = one
		}
		var err error
		if segs, err = parseText(text); err != nil {
			segs = []segment{lit(text)}
		}
	}
	for _, s := range segs {
		if s.name == "" {
			if escape {
				b.WriteString(s.html)
			} else {
				b.WriteString(s.text)
			}
			continue
		}
		v := lookup(kv, s.name)
		if f, ok := v.(func(*Localizer) string); ok {
			v = f(l)
		}
		writeValue(b, v, escape)
	}
}

func lookup(kv []any, name string) any {
	for i := 0; i+1 < len(kv); i += 2 {
		if k, ok := kv[i].(string); ok && k == name {
			return kv[i+1]
		}
	}
	return "{{." + name + "}}"
}

func writeValue(b *strings.Builder, v any, escape bool) {
	var s string
	switch v := v.(type) {
	case template.HTML:
		if escape {
			b.WriteString(string(v))
			return
		}
		s = string(v)
	case string:
		s = v
	case int:
		s = strconv.Itoa(v)
	case fmt.Stringer:
		s = v.String()
	default:
		s = fmt.Sprint(v)
	}
	if escape {
		template.HTMLEscape(writer{b}, []byte(s))
		return
	}
	b.WriteString(s)
}

type writer struct{ b *strings.Builder }

func (w writer) Write(p []byte) (int, error) { return w.b.Write(p) }

// Messages returns the IDs of a locale's messages and, for each, its forms
// by name; for tests and cmd/i18n-extract.
func (c *Catalog) Messages(tag string) map[string]map[string]string {
	l := c.byTag[strings.ToLower(tag)]
	if l == nil {
		return nil
	}
	msgs := l.messages()
	out := make(map[string]map[string]string, len(msgs))
	for id, m := range msgs {
		forms := make(map[string]string)
		for i, segs := range m.forms {
			if segs == nil {
				continue
			}
			var b bytes.Buffer
			for _, s := range segs {
				if s.name != "" {
					b.WriteString("{{." + s.name + "}}")
				} else {
					b.WriteString(s.text)
				}
			}
			forms[Forms[i]] = b.String()
		}
		out[id] = forms
	}
	return out
}

// PluralForms are the CLDR plural forms a language's messages need for
// whole numbers, plus "other", which go-i18n always requires.
func PluralForms(tag string) []string {
	t := language.MustParse(tag)
	seen := [6]bool{5: true}
	for n := 0; n <= 1_000_000; {
		seen[formIndex(plural.Cardinal.MatchPlural(t, n, 0, 0, 0, 0))] = true
		switch {
		case n < 1000:
			n++
		default:
			n += 1000
		}
	}
	var out []string
	for i, ok := range seen {
		if ok {
			out = append(out, Forms[i])
		}
	}
	return out
}
