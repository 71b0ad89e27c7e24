package httpapi

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

// TestRouteSegments keeps routeSegments complete: every route registered
// starts with one of them, so a domain's path can never shadow a route.
func TestRouteSegments(t *testing.T) {
	e := newAPIEnv(t, nil)
	if len(e.srv.patterns) < 10 {
		t.Fatalf("only %d patterns recorded", len(e.srv.patterns))
	}
	for _, p := range append(e.srv.patterns, "/healthz", "/readyz") {
		if p == "/" {
			continue
		}
		if !IsRoutePrefix(p) {
			t.Errorf("route %s starts with a segment missing from routeSegments", p)
		}
	}
	for _, p := range []string{"/a", "/invites", "/join/invite", "/"} {
		if IsRoutePrefix(p) {
			t.Errorf("IsRoutePrefix(%q) = true, want false", p)
		}
	}
}

// name answers with its name and the path it got.
type name string

func (n name) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.WriteString(w, string(n)+" "+r.URL.Path)
}

func TestDispatcher(t *testing.T) {
	d := NewDispatcher([]Site{
		{Host: "localhost:8080", Prefix: "/a", Handler: name("a")},
		{Host: "localhost:8080", Prefix: "/b", Handler: name("b")},
		{Host: "join.example", Prefix: "", Handler: name("root")},
		{Host: "join.example", Prefix: "/x/y", Handler: name("xy")},
		{Host: "other.example", Prefix: "/a", Handler: name("other-a")},
	}, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")})
	for _, tc := range []struct {
		host, path, remote, xfh string
		want                    string // "" for 404
	}{
		{"localhost:8080", "/a/invite", "", "", "a /a/invite"},
		{"LOCALHOST:8080", "/b", "", "", "b /b"},
		{"localhost:8080", "/c/invite", "", "", ""},            // host known, no prefix: no fallback
		{"localhost:8080", "/ab/invite", "", "", ""},           // /a is not a prefix of /ab
		{"127.0.0.1:8080", "/a/invite", "", "", "a /a/invite"}, // no host matches: by prefix alone, first wins
		{"127.0.0.1:8080", "/b/api/v1/invites", "", "", "b /b/api/v1/invites"},
		{"127.0.0.1:8080", "/x/y/z", "", "", "xy /x/y/z"}, // longest prefix among all
		{"127.0.0.1:8080", "/zzz", "", "", "root /zzz"},
		{"join.example:443", "/x/y/invite", "", "", "xy /x/y/invite"},
		{"join.example", "/x/invite", "", "", "root /x/invite"},
		{"join.example.", "/a", "", "", "root /a"},
		{"other.example", "/healthz", "", "", "a /healthz"}, // probes: the first site, once
		{"other.example", "/readyz", "", "", "a /readyz"},
		// X-Forwarded-Host only from a trusted peer.
		{"127.0.0.1:8080", "/a/x", "127.0.0.1:5000", "other.example", "other-a /a/x"},
		{"127.0.0.1:8080", "/a/x", "127.0.0.1:5000", "evil.example, other.example", "other-a /a/x"},
		{"127.0.0.1:8080", "/a/x", "192.0.2.1:5000", "other.example", "a /a/x"},
		{"other.example", "/a/x", "192.0.2.1:5000", "localhost:8080", "other-a /a/x"},
	} {
		r := httptest.NewRequest("GET", "http://"+tc.host+tc.path, nil)
		r.Host = tc.host
		if tc.remote != "" {
			r.RemoteAddr = tc.remote
		}
		if tc.xfh != "" {
			r.Header.Set("X-Forwarded-Host", tc.xfh)
		}
		w := httptest.NewRecorder()
		d.ServeHTTP(w, r)
		got := w.Body.String()
		if tc.want == "" {
			if w.Code != http.StatusNotFound {
				t.Errorf("%s%s: status %d %q, want 404", tc.host, tc.path, w.Code, got)
			}
			continue
		}
		if w.Code != http.StatusOK || got != tc.want {
			t.Errorf("%s%s (peer %q, X-Forwarded-Host %q): %d %q, want %q", tc.host, tc.path, tc.remote, tc.xfh, w.Code, got, tc.want)
		}
	}
}

// TestTwoDomainsOneListener serves two real domains on one listener at
// http://localhost:PORT/a and /b, and reaches each also through
// 127.0.0.1:PORT: each answers its own pages, and the probes answer once
// at the root.
func TestTwoDomainsOneListener(t *testing.T) {
	store, err := keystore.Open(context.Background(), filepath.Join(t.TempDir(), "db"), keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ts := httptest.NewUnstartedServer(nil)
	port := strconv.Itoa(ts.Listener.Addr().(*net.TCPAddr).Port)
	var sites []Site
	for _, d := range []string{"a", "b"} {
		public := "http://localhost:" + port + "/" + d
		svc := invites.New(store, invites.Config{
			Domain: d + ".example", PublicURL: public, SiteName: "Site " + strings.ToUpper(d),
			DefaultTTL: time.Hour, MaxTTL: time.Hour, ResetTTL: time.Hour, Retention: time.Hour, PasswordMinLength: 8,
		}, nil)
		srv, err := New(Config{Version: "test"}, svc, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		sites = append(sites, Site{Host: "localhost:" + port, Prefix: "/" + d, Handler: srv})
	}
	ts.Config.Handler = NewDispatcher(sites, nil)
	ts.Start()
	defer ts.Close()

	get := func(host, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		req.Host = host
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	other := map[string]string{"a": "B", "b": "A"}
	for _, host := range []string{"localhost:" + port, "127.0.0.1:" + port} {
		for _, d := range []string{"a", "b"} {
			code, body := get(host, "/"+d+"/login")
			if code != http.StatusOK || !strings.Contains(body, "Site "+strings.ToUpper(d)) || strings.Contains(body, "Site "+other[d]) {
				t.Errorf("Host %s, /%s/login: %d, page of the wrong site or none:\n%.300s", host, d, code, body)
			}
		}
		if code, _ := get(host, "/login"); code != http.StatusNotFound {
			t.Errorf("Host %s, /login outside both prefixes: %d, want 404", host, code)
		}
		if code, body := get(host, "/healthz"); code != http.StatusOK || body != "ok\n" {
			t.Errorf("Host %s, /healthz: %d %q", host, code, body)
		}
	}
}
