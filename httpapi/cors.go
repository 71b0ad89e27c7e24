package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// corsPolicy lets browser pages on other origins call the APIs. Bearer keys
// are not cookies (no credentials mode), so allowing any origin ("*") is safe
// and is the default; a list restricts it to those origins.
type corsPolicy struct {
	anyOrigin bool
	origins   map[string]bool // lower-case scheme://host[:port]
	methods   []string        // the Access-Control-Allow-Methods value
}

// Header values of every CORS answer, assigned without copying (see hdrJSON).
var (
	hdrAnyOrigin    = []string{"*"}
	hdrAllowHeaders = []string{"Authorization, Content-Type"}
	hdrExpose       = []string{"Location"}
	hdrMaxAge       = []string{"7200"}
)

// newCORSPolicy checks cors_origins: "*" or origins such as
// https://app.example.com (no path).
func newCORSPolicy(origins []string, methods string) (corsPolicy, error) {
	c := corsPolicy{origins: make(map[string]bool), methods: []string{methods}}
	for _, o := range origins {
		if o == "*" {
			c.anyOrigin = true
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return corsPolicy{}, fmt.Errorf("http.cors_origins: %q is not \"*\" or an origin such as https://app.example.com", o)
		}
		c.origins[strings.ToLower(u.Scheme+"://"+u.Host)] = true
	}
	return c, nil
}

// apply sets the CORS headers of a response to r. They go on every answer,
// errors included, so that a page can read why a call failed.
func (c corsPolicy) apply(h http.Header, r *http.Request) {
	switch {
	case c.anyOrigin:
		h["Access-Control-Allow-Origin"] = hdrAnyOrigin
	case len(c.origins) > 0:
		// The answer depends on Origin: caches must keep them apart.
		h.Add("Vary", "Origin")
		if o := r.Header.Get("Origin"); o != "" && c.origins[strings.ToLower(o)] {
			h.Set("Access-Control-Allow-Origin", o)
		}
	}
	h["Access-Control-Allow-Headers"] = hdrAllowHeaders
	h["Access-Control-Allow-Methods"] = c.methods
	h["Access-Control-Expose-Headers"] = hdrExpose
	h["Access-Control-Max-Age"] = hdrMaxAge
}

// Validate checks the configuration as New would, so that check and serve
// refuse the same mistakes before anything starts.
func (cfg Config) Validate() error {
	_, err := newCORSPolicy(cfg.CORSOrigins, compatMethods)
	return err
}
