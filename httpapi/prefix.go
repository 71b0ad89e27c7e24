package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// Every route but the probes lives under the path of public_url, so that a
// reverse proxy can pass requests on unchanged: with public_url
// https://example.com/join the landing page is /join/invite?TOKEN, the API
// /join/invites_api and /join/api/v1/…, and anything outside /join/ is 404.
// /healthz and /readyz stay at the root, where monitoring finds them
// whatever the prefix. Cookies, where pages set them, get Path=<prefix>.
//
// The prefix goes into the mux patterns themselves rather than being
// stripped before routing: the mux's own redirects (a cleaned path, the
// slash of a subtree such as /join/api/v1/) then name the full path, which
// is the one the browser and the proxy know.

// routePrefix returns the path of publicURL as mux patterns need it:
// escaped (so that no character of it reads as a wildcard), without a
// trailing slash, and "" when the service is at the root.
func routePrefix(publicURL string) (string, error) {
	u, err := url.Parse(publicURL)
	if err != nil {
		return "", fmt.Errorf("public_url: %w", err)
	}
	p := strings.TrimRight(u.EscapedPath(), "/")
	if p == "" {
		return "", nil
	}
	// The mux cleans request paths before matching, so a pattern with
	// "//", "." or ".." segments would never match (and is refused).
	if path.Clean(p) != p {
		return "", fmt.Errorf("public_url: the path %q is not clean (no //, . or .. segments)", u.Path)
	}
	if p == "/healthz" || p == "/readyz" {
		return "", fmt.Errorf("public_url: the path %s is where the probes answer", p)
	}
	return p, nil
}

// routes registers handlers under the prefix. Patterns are written as if
// the service were at the root: "GET /invite" becomes "GET /join/invite".
type routes struct {
	mux    *http.ServeMux
	prefix string    // from routePrefix
	seen   *[]string // if set, every pattern as written (TestRouteSegments)
}

// Handle registers h for pattern under the prefix.
func (rt routes) Handle(pattern string, h http.Handler) {
	method, p, ok := strings.Cut(pattern, " ")
	if !ok {
		method, p = "", pattern
	} else {
		method += " "
	}
	if rt.seen != nil {
		*rt.seen = append(*rt.seen, p)
	}
	rt.mux.Handle(method+rt.prefix+p, h)
}

// HandleFunc registers f for pattern under the prefix.
func (rt routes) HandleFunc(pattern string, f func(http.ResponseWriter, *http.Request)) {
	rt.Handle(pattern, http.HandlerFunc(f))
}

// prefixRoot sends a request for the prefix itself (/join) to the directory
// (/join/), as nginx does for a location /join/ and the mux for a subtree:
// the prefix is a directory, and relative links on a page there must
// resolve inside it. 307 like the mux's own redirects, so a POST stays one.
func prefixRoot(prefix string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := prefix + "/"
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusTemporaryRedirect)
	})
}
