package httpapi

import (
	"net/http"
	"net/netip"
	"strings"
)

// One listener serves many domains (SPEC §6, docs/domains.md): each domain
// has its own Server, and a Dispatcher in front picks it by the request's
// host and path. The probes answer once, at the root, whatever the domains.

// routeSegments are the first path segments of every route a Server
// registers (TestRouteSegments keeps the list complete). A domain whose
// public_url path starts with one of them would be mistaken for a route of
// another domain when requests are routed by path alone.
var routeSegments = []string{
	"admin", "api", "healthz", "invite", "invites_api", "login", "logo", "logout", "metrics", "my", "readyz", "register",
}

// IsRoutePrefix reports whether the first segment of prefix (a public_url
// path such as /join or /join/chat) is the first segment of a route.
func IsRoutePrefix(prefix string) bool {
	first, _, _ := strings.Cut(strings.TrimPrefix(prefix, "/"), "/")
	for _, s := range routeSegments {
		if strings.EqualFold(first, s) {
			return true
		}
	}
	return false
}

// HostKey is the form in which hosts are compared: lower case, without the
// default ports 80 and 443 (a browser leaves them out of Host).
func HostKey(host string) string {
	h := strings.ToLower(strings.TrimSpace(host))
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		if port := h[i+1:]; port == "80" || port == "443" {
			h = h[:i]
		}
	}
	return strings.TrimSuffix(h, ".")
}

// Site is one domain as the dispatcher sees it.
type Site struct {
	// Host is public_url's host (with its port, if any).
	Host string
	// Prefix is public_url's path without the trailing slash; "" is the
	// root.
	Prefix  string
	Handler http.Handler
}

// Dispatcher routes each request to one Site: among the sites whose Host
// equals the request's (X-Forwarded-Host when the peer is in trusted), the
// one with the longest matching Prefix; when no site has that host, the
// longest matching Prefix among all of them (earlier sites win ties). The
// probes /healthz and /readyz go to the first site, whatever the host.
type Dispatcher struct {
	sites   []Site
	hosts   map[string][]int // HostKey → indexes into sites
	trusted []netip.Prefix
}

// NewDispatcher returns a handler serving sites on one listener. The
// config has already refused identical or overlapping prefixes on one host.
func NewDispatcher(sites []Site, trusted []netip.Prefix) *Dispatcher {
	d := &Dispatcher{sites: sites, hosts: map[string][]int{}, trusted: trusted}
	for i, s := range sites {
		k := HostKey(s.Host)
		d.hosts[k] = append(d.hosts[k], i)
	}
	return d
}

// ServeHTTP implements http.Handler.
func (d *Dispatcher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if len(d.sites) == 0 {
		http.NotFound(w, r)
		return
	}
	if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
		d.sites[0].Handler.ServeHTTP(w, r)
		return
	}
	if s := d.pick(r); s != nil {
		s.Handler.ServeHTTP(w, r)
		return
	}
	http.NotFound(w, r)
}

// pick chooses the site of r, or nil.
func (d *Dispatcher) pick(r *http.Request) *Site {
	if idx, ok := d.hosts[HostKey(d.host(r))]; ok {
		return d.longest(idx, r.URL.Path)
	}
	idx := make([]int, len(d.sites))
	for i := range idx {
		idx[i] = i
	}
	return d.longest(idx, r.URL.Path)
}

// longest returns the site among idx whose prefix is the longest one
// matching path, or nil.
func (d *Dispatcher) longest(idx []int, path string) *Site {
	var best *Site
	for _, i := range idx {
		s := &d.sites[i]
		if !underPrefix(path, s.Prefix) {
			continue
		}
		if best == nil || len(s.Prefix) > len(best.Prefix) {
			best = s
		}
	}
	return best
}

// underPrefix reports whether path is prefix itself or below it.
func underPrefix(path, prefix string) bool {
	if prefix == "" {
		return true
	}
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// host is the request's host: Host, or the last X-Forwarded-Host entry
// when the peer is a trusted proxy (the entry the nearest proxy wrote).
func (d *Dispatcher) host(r *http.Request) string {
	if len(d.trusted) == 0 {
		return r.Host
	}
	vals := r.Header.Values("X-Forwarded-Host")
	if len(vals) == 0 || !isTrusted(parseHostAddr(r.RemoteAddr), d.trusted) {
		return r.Host
	}
	last := vals[len(vals)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	if h := strings.TrimSpace(last); h != "" {
		return h
	}
	return r.Host
}
