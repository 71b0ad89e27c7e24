package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"

	"xmpp-invites/keystore"
)

// apiRequest is what the API adapter learns about a request, for the
// handlers and for logging. It never holds a credential.
type apiRequest struct {
	client netip.Addr // clientKey of the client's address
	keyID  string     // set once a key has authenticated
}

type apiRequestKey struct{}

// apiInfo returns the request's apiRequest; an empty one outside the API
// adapter.
func apiInfo(r *http.Request) *apiRequest {
	if info, ok := r.Context().Value(apiRequestKey{}).(*apiRequest); ok {
		return info
	}
	return &apiRequest{}
}

func withAPIInfo(r *http.Request, info *apiRequest) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), apiRequestKey{}, info))
}

// bearerCredential returns the credential of the first Authorization header
// with the Bearer scheme (in any case). found reports whether there was one:
// a Bearer header then decides alone, even with an empty or bad credential.
// Other schemes (Basic, …) are ignored.
func bearerCredential(h http.Header) (cred string, found bool) {
	for _, v := range h.Values("Authorization") {
		v = strings.TrimSpace(v)
		scheme, rest := v, ""
		if i := strings.IndexAny(v, " \t"); i >= 0 {
			scheme, rest = v[:i], v[i+1:]
		}
		if strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(rest), true
		}
	}
	return "", false
}

// authenticate checks cred ("ID/SECRET"). Every bad credential, an empty one
// included, is the same 401 and counts against the client's failure limit.
func (a *api) authenticate(r *http.Request, cred string) (keystore.Key, error) {
	info := apiInfo(r)
	if cred != "" {
		k, err := a.s.store.Authenticate(r.Context(), cred)
		if err == nil {
			info.keyID = k.ID
			return k, nil
		}
		if !errors.Is(err, keystore.ErrUnauthorized) {
			return keystore.Key{}, err
		}
	}
	a.s.metrics.AuthFailure()
	if a.limiter.Fail(info.client, a.s.now()) {
		a.s.log.Warn("refusing API requests from client after repeated authentication failures",
			"client", clientString(info.client), "window", AuthWindow, "max_failures", a.limiter.max)
	}
	return keystore.Key{}, errUnauthorized()
}

// authenticateToCreate is authenticate for the create endpoints: the key
// may come from the store's memory of recently verified keys (see
// keystore.Store.AuthenticateToCreate). cached reports that; such a caller
// passes its outcome through confirmOnError.
func (a *api) authenticateToCreate(r *http.Request, cred string) (k keystore.Key, cached bool, err error) {
	if cred != "" {
		k, cached, err := a.s.store.AuthenticateToCreate(r.Context(), cred)
		if err == nil {
			apiInfo(r).keyID = k.ID
			return k, cached, nil
		}
		if !errors.Is(err, keystore.ErrUnauthorized) {
			return keystore.Key{}, false, err
		}
	}
	k, err = a.authenticate(r, "")
	return k, false, err
}

// confirmOnError keeps "authentication first" true for keys answered from
// memory: before a request with such a key fails for another reason (a bad
// parameter, a missing scope), the key is checked against the database, so
// that a key deleted meanwhile gets 401 and not that other answer. A
// successful creation needs no check: its insert required the key to exist.
func (a *api) confirmOnError(r *http.Request, cred string, cached bool, err error) error {
	switch {
	case errors.Is(err, keystore.ErrUnauthorized):
		// The key was deleted after it was authenticated: a failure like
		// any other bad key.
		_, err = a.authenticate(r, "")
		return err
	case err == nil || !cached:
		return err
	}
	if _, aerr := a.authenticate(r, cred); aerr != nil {
		return aerr
	}
	return err
}

// authenticateBearer authenticates with the Authorization header only, as
// /api/v1 does.
func (a *api) authenticateBearer(r *http.Request) (keystore.Key, error) {
	cred, _ := bearerCredential(r.Header)
	return a.authenticate(r, cred)
}

// requireManage refuses a key without the manage scope.
func requireManage(k keystore.Key) error {
	if k.Scope != keystore.ScopeManage {
		return newAPIError(http.StatusForbidden, "this key lacks the manage scope")
	}
	return nil
}

// mayCreate refuses an invite type the key may not create: a plain key
// mints account invites only. A reset invite is an account takeover in the
// wrong hands.
func mayCreate(k keystore.Key, t keystore.Type) error {
	if t == keystore.TypeAccount || t == "" || k.Scope == keystore.ScopeManage {
		return nil
	}
	return newAPIError(http.StatusForbidden, "this key may only create account invites")
}
