package httpapi

import (
	"net/http"
	"strconv"
)

// noteUntrustedProxy notices a reverse proxy on this host that is not in
// trusted_proxies: a request from a loopback peer carrying X-Forwarded-For.
// Its X-Forwarded-For is ignored, so every client behind it counts as that
// one peer: they share one failed-authentication limit (20 bad keys from
// anyone lock everyone out for a minute) and one per-client connection
// cap. The first such request logs a warning naming the fix, and the admin
// /readyz lists it from then on.
//
// Only a loopback peer counts: anyone can send X-Forwarded-For from
// elsewhere, and only a proxy on this host is certainly the operator's.
func (s *Server) noteUntrustedProxy(r *http.Request) {
	if s.proxyWarning.Load() != nil {
		return
	}
	if _, ok := r.Header["X-Forwarded-For"]; !ok {
		return
	}
	peer := parseHostAddr(r.RemoteAddr)
	if !peer.IsValid() || !peer.IsLoopback() || isTrusted(peer, s.cfg.TrustedProxies) {
		return
	}
	msg := "requests come through a reverse proxy on this host (X-Forwarded-For from " + peer.String() +
		") that http.trusted_proxies does not list, so every client behind it shares one failed-authentication limit and one connection cap: set [http] trusted_proxies = [" +
		strconv.Quote(peer.String()) + "]"
	if s.proxyWarning.CompareAndSwap(nil, &msg) {
		s.log.Warn(msg, "peer", peer.String())
	}
}

// warnings are the admin /readyz's warnings: configuration problems found
// at run time. Never nil.
func (s *Server) warnings() []string {
	w := []string{}
	if msg := s.proxyWarning.Load(); msg != nil {
		w = append(w, *msg)
	}
	return w
}
