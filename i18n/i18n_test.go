package i18n

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func testCatalog(t *testing.T, def string) *Catalog {
	t.Helper()
	fsys := fstest.MapFS{
		"l/en.toml": {Data: []byte(`hello = "Hello {{.Name}} & co"
month_12 = "December"
date_time = "{{.Day}} {{.Month}} {{.Year}}, {{.Time}} UTC"
[until_days]
one = "in {{.Count}} day"
other = "in {{.Count}} days"
`)},
		"l/de.toml": {Data: []byte(`hello = "Hallo {{.Name}}"
month_12 = "Dezember"
date_time = "{{.Day}}. {{.Month}} {{.Year}}, {{.Time}} UTC"
[until_days]
one = "in {{.Count}} Tag"
other = "in {{.Count}} Tagen"
`)},
		"l/ru.toml": {Data: []byte(`[until_days]
one = "через {{.Count}} день"
few = "через {{.Count}} дня"
many = "через {{.Count}} дней"
other = "через {{.Count}} дня"
`)},
		"l/ar.toml": {Data: []byte(`hello = "مرحبا {{.Name}}"`)},
	}
	c, err := load(fsys, "l", def)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAcceptLanguage(t *testing.T) {
	c := testCatalog(t, "")
	for _, tc := range []struct{ header, want string }{
		{"", "en"},
		{"de-AT,de;q=0.9,en;q=0.5", "de"},
		{"fr-FR, fr;q=0.9", "en"}, // not available: the default
		{"ru", "ru"},
		{"ar-EG", "ar"},
		{"*", "en"},
		{"not a header;;;q=x", "en"},
		{strings.Repeat("x", 5000), "en"},
	} {
		if got := c.Accept(tc.header).Lang(); got != tc.want {
			t.Errorf("Accept(%.40q) = %s, want %s", tc.header, got, tc.want)
		}
	}
	if c := testCatalog(t, "de"); c.Accept("fr").Lang() != "de" {
		t.Error("an unavailable language does not fall back to default_language")
	}
	if _, err := New("xx"); err == nil {
		t.Error("an unknown default language was accepted")
	}
	if l, _ := c.Lookup("AR"); l == nil || l.Dir() != "rtl" {
		t.Error("ar is not right to left")
	}
}

func TestRenderEscapesAndFallsBack(t *testing.T) {
	c := testCatalog(t, "")
	de, _ := c.Lookup("de")
	if got := de.T("hello", "Hello {{.Name}} & co", "Name", "<b>"); got != "Hallo <b>" {
		t.Errorf("plain: %q", got)
	}
	en := c.Default()
	if got := (HTML{en}).T("hello", "Hello {{.Name}} & co", "Name", "<b>"); got != "Hello &lt;b&gt; &amp; co" {
		t.Errorf("HTML: %q", got)
	}
	ru, _ := c.Lookup("ru")
	// ru lacks hello: English.
	if got := ru.T("hello", "Hello {{.Name}} & co", "Name", "x"); got != "Hello x & co" {
		t.Errorf("fallback to English: %q", got)
	}
	// Nobody has it: the text given at the call.
	if got := ru.T("nowhere", "Given {{.A}}", "A", 1); got != "Given 1" {
		t.Errorf("fallback to the call's text: %q", got)
	}
	for n, want := range map[int]string{1: "через 1 день", 3: "через 3 дня", 5: "через 5 дней", 21: "через 21 день", 11: "через 11 дней"} {
		if got := ru.N("until_days", n, "in {{.Count}} day", "in {{.Count}} days"); got != want {
			t.Errorf("ru %d: %q, want %q", n, got, want)
		}
	}
}

func TestUntilRoundsToNearest(t *testing.T) {
	en := testCatalog(t, "").Default()
	for d, want := range map[time.Duration]string{
		7*24*time.Hour - 2*time.Second: "in 7 days",
		7*24*time.Hour - 11*time.Hour:  "in 7 days",
		6*24*time.Hour + 11*time.Hour:  "in 6 days",
		47 * time.Hour:                 "in 47 hours",
		time.Hour - time.Second:        "in 1 hour",
		90 * time.Second:               "in 2 minutes",
		10 * time.Second:               "in less than a minute",
	} {
		if got := en.Until(d); got != want {
			t.Errorf("Until(%v) = %q, want %q", d, got, want)
		}
	}
	de, _ := testCatalog(t, "").Lookup("de")
	if got := de.Date(time.Date(2026, 12, 7, 15, 4, 0, 0, time.UTC)); got != "7. Dezember 2026, 15:04 UTC" {
		t.Errorf("de date: %q", got)
	}
}

func TestRefusesTemplateSyntax(t *testing.T) {
	for _, s := range []string{"{{.A", "{{template \"x\"}}", "{{.A | printf}}", "{{ .1a }}"} {
		if _, err := parseText(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

// TestEveryCatalogueParses parses each embedded catalogue as the server
// would on its first use (the server parses only the source and the
// default at start).
func TestEveryCatalogueParses(t *testing.T) {
	cat, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	if err := cat.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestBrokenCatalogueSpeaksEnglish: a catalogue that does not parse leaves
// its language in English rather than failing the page; a broken default
// is refused at start.
func TestBrokenCatalogueSpeaksEnglish(t *testing.T) {
	fsys := fstest.MapFS{
		"l/en.toml": {Data: []byte("hello = \"Hello\"\n")},
		"l/de.toml": {Data: []byte("hello = \"Hallo\n")},
	}
	cat, err := Load(fsys, "l", "")
	if err != nil {
		t.Fatal(err)
	}
	de, ok := cat.Lookup("de")
	if !ok {
		t.Fatal("de not listed")
	}
	if got := de.T("hello", "Hello"); got != "Hello" {
		t.Errorf("broken German catalogue: %q, want the English text", got)
	}
	if cat.Check() == nil {
		t.Error("Check passed a catalogue that does not parse")
	}
	if _, err := Load(fsys, "l", "de"); err == nil {
		t.Error("a default language whose catalogue does not parse was accepted")
	}
}

// TestExtremeCounts: a count far in the future or negative neither panics
// nor overflows.
func TestExtremeCounts(t *testing.T) {
	l, _ := testCatalog(t, "").Lookup("de")
	if got := l.Until(time.Until(time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC))); !strings.HasPrefix(got, "in 36500 ") {
		t.Errorf("Until(year 9999) = %q, want a century", got)
	}
	if got := l.N("until_days", -3, "in {{.Count}} day", "in {{.Count}} days"); got != "in -3 Tagen" {
		t.Errorf("N(-3) = %q", got)
	}
}

func TestColon(t *testing.T) {
	cat, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	for tag, want := range map[string]string{"en": ":", "de": ":", "fr": "\u00a0:", "ja": "：", "zh-Hans": "："} {
		l, _ := cat.Lookup(tag)
		if got := l.Colon(); got != want {
			t.Errorf("%s: %q, want %q", tag, got, want)
		}
	}
}
