package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

// TestCreatedMatchesWriteJSON checks that the create answer is what
// writeJSON writes for the same value, with a Content-Length.
func TestCreatedMatchesWriteJSON(t *testing.T) {
	c := invites.Created{
		Invite: keystore.Invite{ID: "AbCd-_12", Type: keystore.TypeContact, Username: "ali<ce>",
			Expires: time.Date(2026, 12, 5, 4, 13, 16, 0, time.UTC)},
		Token: "7EAinFl3EiY3tWpf9prJvEwx", URI: "xmpp:ali<ce>@example.com?roster;preauth=7EAinFl3EiY3tWpf9prJvEwx;ibr=y",
		LandingURL: "https://example.com/a&b/invite?7EAinFl3EiY3tWpf9prJvEwx",
	}
	fast, slow := httptest.NewRecorder(), httptest.NewRecorder()
	writeCreated(fast, 201, c)
	writeJSON(slow, 201, createdBody(c))
	if fast.Body.String() != slow.Body.String() {
		t.Fatalf("writeCreated:\n%s\nwriteJSON:\n%s", fast.Body, slow.Body)
	}
	for _, h := range []string{"Content-Type", "Cache-Control"} {
		if fast.Header().Get(h) != slow.Header().Get(h) {
			t.Errorf("%s: %q, writeJSON sends %q", h, fast.Header().Get(h), slow.Header().Get(h))
		}
	}
	if got, want := fast.Header().Get("Content-Length"), strconv.Itoa(fast.Body.Len()); got != want {
		t.Errorf("Content-Length %q, want %q", got, want)
	}
	if fast.Code != slow.Code {
		t.Errorf("status %d, want %d", fast.Code, slow.Code)
	}
}

// discardWriter is a ResponseWriter that keeps nothing, so that the
// benchmark below measures building and writing the answer alone.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkCreatedJSON compares ways of writing the answer to a create:
// json.Marshal with the shared headers and a Content-Length (writeCreated)
// and json.NewEncoder on the response (writeJSON). docs/performance.md
// ("Hand-written JSON") records the figures, and those of the hand-written
// encoder this replaced:
//
//	go test -run '^$' -bench CreatedJSON -benchmem -count 5 ./httpapi/
func BenchmarkCreatedJSON(b *testing.B) {
	c := invites.Created{
		Invite: keystore.Invite{ID: "AbCd-_12", Type: keystore.TypeAccount,
			Expires: time.Date(2026, 12, 5, 4, 13, 16, 0, time.UTC)},
		Token: "7EAinFl3EiY3tWpf9prJvEwx", URI: "xmpp:example.com?register;preauth=7EAinFl3EiY3tWpf9prJvEwx",
		LandingURL: "https://example.com/invite?7EAinFl3EiY3tWpf9prJvEwx",
	}
	for _, bc := range []struct {
		name  string
		write func(w http.ResponseWriter)
	}{
		{"json.Marshal", func(w http.ResponseWriter) { writeCreated(w, http.StatusCreated, c) }},
		{"json.Encoder", func(w http.ResponseWriter) { writeJSON(w, http.StatusCreated, createdBody(c)) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bc.write(&discardWriter{h: http.Header{}})
			}
		})
	}
}
