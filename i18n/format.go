package i18n

import "time"

// months are the English month names, as the catalogue's month_N messages.
var months = [12]Message{
	Msg("month_1", "January"), Msg("month_2", "February"), Msg("month_3", "March"),
	Msg("month_4", "April"), Msg("month_5", "May"), Msg("month_6", "June"),
	Msg("month_7", "July"), Msg("month_8", "August"), Msg("month_9", "September"),
	Msg("month_10", "October"), Msg("month_11", "November"), Msg("month_12", "December"),
}

// Date writes t, in UTC, as the locale writes a date with its time: "7
// December 2026, 15:04 UTC", "7. Dezember 2026, 15:04 UTC",
// "2026年12月7日 15:04 UTC". The month names are month_1 … month_12, in
// the form the date pattern needs (genitive where the language has one).
func (l *Localizer) Date(t time.Time) string {
	t = t.UTC()
	return l.T("date_time", "{{.Day}} {{.Month}} {{.Year}}, {{.Time}} UTC",
		"Day", t.Day(), "Month", l.M(months[t.Month()-1]), "MonthNum", int(t.Month()),
		"Year", t.Year(), "Time", t.Format("15:04"))
}

// Until says how far in the future d is, rounded to the nearest unit, so
// that an invite valid for 7 days reads "in 7 days" when it is opened.
func (l *Localizer) Until(d time.Duration) string {
	// Rounding must not overflow: nothing shown is further than a
	// century (an invite that never expires is not shown with Until).
	d = min(d, 100*365*24*time.Hour)
	switch {
	case d < 30*time.Second:
		return l.T("until_now", "in less than a minute")
	case d < time.Hour-30*time.Second:
		return l.N("until_minutes", int((d+30*time.Second)/time.Minute), "in {{.Count}} minute", "in {{.Count}} minutes")
	case d < 48*time.Hour-30*time.Minute:
		return l.N("until_hours", int((d+30*time.Minute)/time.Hour), "in {{.Count}} hour", "in {{.Count}} hours")
	}
	return l.N("until_days", int((d+12*time.Hour)/(24*time.Hour)), "in {{.Count}} day", "in {{.Count}} days")
}

// ISO is t as an HTML datetime value.
func ISO(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Colon is the colon that ends a title before a list, as the language
// writes it: with a no-break space before it in French, full width in
// Japanese and Chinese.
func (l *Localizer) Colon() string {
	switch l.Lang() {
	case "fr":
		return "\u00a0:"
	case "ja", "zh-Hans":
		return "："
	}
	return ":"
}
