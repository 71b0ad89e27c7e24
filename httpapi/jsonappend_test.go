package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", `q"b\s`, "<a href='x'>&amp;</a>", "tab\tnl\nret\r\x00\x1f\x7f",
		"\b\f", "é ü 漢字 😀", "\u2028\u2029", "bad\xff\xfeutf8", "\xed\xa0\x80", "xmpp:a@b?register;preauth=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("appendJSONString(%q) = %s, encoding/json: %s", s, got, want)
		}
	})
}

func TestAppendCreatedMatchesEncodingJSON(t *testing.T) {
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
// the hand-written appender, json.Marshal with the same headers, and
// json.NewEncoder on the response. docs/performance.md ("Hand-written
// JSON") records the figures:
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
		{"appended", func(w http.ResponseWriter) { writeCreated(w, http.StatusCreated, c) }},
		{"json.Marshal", func(w http.ResponseWriter) {
			body, _ := json.Marshal(createdBody(c))
			writeJSONBytes(w, http.StatusCreated, append(body, '\n'))
		}},
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
