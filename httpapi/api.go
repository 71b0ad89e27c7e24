package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

// Limits of the APIs.
const (
	maxBodyBytes     = 64 << 10 // request bodies
	maxParamLen      = 1024     // any one parameter value
	defaultListLimit = 100
	maxListLimit     = 500
	// quotaWindow is the window of a key's quota (invites per hour).
	quotaWindow = time.Hour
	// quotaRetryAfter is what a client over its quota is told to wait when
	// the error does not say when a slot frees: a minute is a fair poll
	// interval.
	quotaRetryAfter = 60 * time.Second
)

// CORS methods of the two APIs. /api/v1 also needs DELETE, or a browser
// could not revoke.
const (
	compatMethods = "GET, POST, OPTIONS"
	v1Methods     = "GET, POST, DELETE, OPTIONS"
)

// api serves /invites_api and /api/v1.
type api struct {
	s       *Server
	limiter *failureLimiter
	compat  corsPolicy
	v1      corsPolicy
}

// apiHandler is an API handler. It either writes a response and returns
// nil, or writes nothing and returns the error to answer.
type apiHandler func(w http.ResponseWriter, r *http.Request) error

// apiMethods maps request methods to their handlers.
type apiMethods map[string]apiHandler

// registerAPI adds /invites_api and /api/v1.
func (s *Server) registerAPI(mux routes) error {
	compat, err := newCORSPolicy(s.cfg.CORSOrigins, compatMethods)
	if err != nil {
		return err
	}
	v1, err := newCORSPolicy(s.cfg.CORSOrigins, v1Methods)
	if err != nil {
		return err
	}
	a := &api{s: s, compat: compat, v1: v1}
	if s.authLimiter != nil {
		a.limiter = s.authLimiter.l
	} else {
		a.limiter = newFailureLimiter(s.cfg.MaxAuthFailures, AuthWindow, maxTrackedClients)
	}
	// Patterns without a method: the handler switches on it itself, so HEAD
	// (which "GET /path" would match) and every other method get a JSON 405.
	mux.Handle("/invites_api", a.endpoint(a.compat, "GET, POST, OPTIONS",
		apiMethods{http.MethodGet: a.compatCreate, http.MethodPost: a.compatCreate}))
	mux.Handle("/api/v1/invites", a.endpoint(a.v1, "GET, POST, OPTIONS",
		apiMethods{http.MethodGet: a.list, http.MethodPost: a.v1Create}))
	mux.Handle("/api/v1/invites/{id}", a.endpoint(a.v1, "GET, DELETE, OPTIONS",
		apiMethods{http.MethodGet: a.show, http.MethodDelete: a.revoke}))
	a.registerCircles(mux)
	mux.Handle("/api/v1/", a.endpoint(a.v1, "", nil))
	return nil
}

// endpoint wraps the handlers of one path: CORS headers, the failed-auth
// limit (checked before anything else, valid key or not, so a blocked client
// learns nothing), preflight, the method switch and the error adapter.
// methods nil: the path does not exist.
func (a *api) endpoint(cors corsPolicy, allow string, methods apiMethods) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		cors.apply(h, r)
		h["X-Content-Type-Options"] = hdrNosniff
		info := &apiRequest{client: clientKey(clientAddr(r, a.s.cfg.TrustedProxies))}
		r = withAPIInfo(r, info)
		defer a.recoverPanic(w, r)
		if wait, blocked := a.limiter.Blocked(info.client, a.s.now()); blocked {
			a.s.writeAPIError(w, r, &apiError{Status: http.StatusTooManyRequests,
				Message: "too many failed authentication attempts", RetryAfter: wait})
			return
		}
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		var err error
		if fn := methods[r.Method]; fn != nil {
			err = fn(w, r)
		} else if methods == nil {
			err = newAPIError(http.StatusNotFound, "not found")
		} else {
			err = &apiError{Status: http.StatusMethodNotAllowed, Message: "method not allowed", Allow: allow}
		}
		if err != nil {
			a.s.writeAPIError(w, r, err)
		}
	})
}

// recoverPanic turns a panic in a handler (a bug) into a logged 500, so one
// bad request cannot take more than itself down.
func (a *api) recoverPanic(w http.ResponseWriter, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	a.s.log.Error("api handler panicked", "route", r.Pattern, "method", r.Method,
		"key", apiInfo(r).keyID, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	writeJSONError(w, http.StatusInternalServerError, "internal error")
}

// Parameters of a create request.
var (
	createParamNames = []string{"ttl", "type", "username", "uses", "note"}
	compatParamNames = []string{"ttl", "type", "username", "uses", "note", "redirect"}
)

// createParams are the create parameters a request gave, from any source.
// A parameter given twice, even in two sources, is refused: which one would
// win is a guess.
type createParams map[string]string

func (p createParams) set(name, v string) error {
	if _, dup := p[name]; dup {
		return newAPIError(http.StatusBadRequest, name+": given more than once")
	}
	if len(v) > maxParamLen {
		return newAPIError(http.StatusBadRequest, name+": too long")
	}
	p[name] = v
	return nil
}

// addValues takes names from a query or form. Other parameters are ignored,
// as mod_invites_api ignores them.
func (p createParams) addValues(v url.Values, names []string) error {
	for _, n := range names {
		vs, ok := v[n]
		if !ok {
			continue
		}
		if len(vs) > 1 {
			return newAPIError(http.StatusBadRequest, n+": given more than once")
		}
		if err := p.set(n, vs[0]); err != nil {
			return err
		}
	}
	return nil
}

// jsonParam is a JSON parameter value: a string, a number (kept as written)
// or a boolean, so "uses": 5 and "uses": "5" both work. null is absent.
type jsonParam struct {
	set bool
	v   string
}

var errJSONParam = errors.New("parameters must be strings, numbers or booleans")

// UnmarshalJSON implements json.Unmarshaler.
func (p *jsonParam) UnmarshalJSON(b []byte) error {
	s := string(b)
	switch {
	case s == "null":
		return nil
	case s == "true" || s == "false":
		p.set, p.v = true, s
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil { // refuses unpaired surrogates
			return err
		}
		p.set, p.v = true, v
	case len(b) > 0 && (b[0] == '-' || b[0] >= '0' && b[0] <= '9'):
		p.set, p.v = true, s
	default:
		return errJSONParam
	}
	return nil
}

// createJSON is the JSON body of a create request.
type createJSON struct {
	TTL      jsonParam `json:"ttl"`
	Type     jsonParam `json:"type"`
	Username jsonParam `json:"username"`
	Uses     jsonParam `json:"uses"`
	Note     jsonParam `json:"note"`
	// Presets (manage keys only): group chats and a circle.
	Rooms  []string  `json:"rooms"`
	Circle jsonParam `json:"circle"`
}

func (c createJSON) addTo(p createParams) error {
	for _, f := range []struct {
		name string
		v    jsonParam
	}{{"ttl", c.TTL}, {"type", c.Type}, {"username", c.Username}, {"uses", c.Uses}, {"note", c.Note}, {"circle", c.Circle}} {
		if !f.v.set {
			continue
		}
		if err := p.set(f.name, f.v.v); err != nil {
			return err
		}
	}
	if c.Rooms != nil {
		if len(c.Rooms) > keystore.MaxRooms {
			return newAPIError(http.StatusBadRequest, fmt.Sprintf("rooms: at most %d", keystore.MaxRooms))
		}
		for _, room := range c.Rooms {
			if room == "" || strings.ContainsAny(room, "\n") {
				return newAPIError(http.StatusBadRequest, "rooms: each must be a group chat address such as room@conference.example.org")
			}
		}
		return p.set("rooms", strings.Join(c.Rooms, "\n"))
	}
	return nil
}

// compatJSON is the JSON body of /invites_api, which also takes redirect.
type compatJSON struct {
	createJSON
	Redirect jsonParam `json:"redirect"`
}

// decodeAPIJSON decodes one JSON object into v. It refuses what
// encoding/json lets through: a member given twice, a name in another case
// than the field's ({"type":"contact","Type":"reset"} would otherwise be a
// reset invite), invalid UTF-8 (which encoding/json turns into U+FFFD) and
// unpaired surrogate escapes. It also refuses unknown members and trailing
// data. go-json-experiment/json (encoding/json/v2) does all of that by
// default.
func decodeAPIJSON(body []byte, v any) error {
	if !utf8.Valid(body) {
		return newAPIError(http.StatusBadRequest, "JSON body must be valid UTF-8")
	}
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	if err := json.UnmarshalDecode(dec, v, json.RejectUnknownMembers(true)); err != nil {
		return jsonBodyError(body, err)
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return newAPIError(http.StatusBadRequest, "malformed JSON body: data after the object")
	}
	return nil
}

// jsonBodyError is the 400 for err, an error of decodeAPIJSON on body. The
// decoder's own messages are not passed on: they quote the body.
func jsonBodyError(body []byte, err error) error {
	var syn *jsontext.SyntacticError
	var sem *json.SemanticError
	switch {
	case errors.As(err, &syn) && syn.Err == jsontext.ErrDuplicateName:
		return newAPIError(http.StatusBadRequest, fmt.Sprintf("duplicate field %q", jsonMember(syn.JSONPointer)))
	case errors.As(err, &syn) && validIgnoringUTF8(body):
		// The raw body is valid UTF-8, so an escape is at fault: an
		// unpaired surrogate such as "\ud800".
		return newAPIError(http.StatusBadRequest, "JSON body must be valid UTF-8 (no unpaired surrogate escapes)")
	case errors.As(err, &sem) && errors.Is(sem.Err, json.ErrUnknownName):
		return newAPIError(http.StatusBadRequest, fmt.Sprintf("unknown field %q", jsonMember(sem.JSONPointer)))
	case errors.As(err, &sem) && sem.JSONPointer == "" && sem.JSONKind != 0 && sem.JSONKind != '{':
		return newAPIError(http.StatusBadRequest, "JSON body must be an object")
	case errors.Is(err, errJSONParam):
		return newAPIError(http.StatusBadRequest, errJSONParam.Error())
	}
	return newAPIError(http.StatusBadRequest, "malformed JSON body")
}

// validIgnoringUTF8 reports whether body starts with a JSON value that is
// valid but for invalid UTF-8 and duplicate names.
func validIgnoringUTF8(body []byte) bool {
	dec := jsontext.NewDecoder(bytes.NewReader(body), jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true))
	_, err := dec.ReadValue()
	return err == nil
}

// jsonMember is the member name at the end of a JSON pointer into the
// body, which the decoder reports for member errors.
func jsonMember(p jsontext.Pointer) string {
	return p.LastToken()
}

// Kinds of request body.
const (
	bodyNone = iota
	bodyForm
	bodyJSON
)

// apiBody is a request body, read (at most maxBodyBytes) before
// authentication because /invites_api takes key= in a form body. Its
// errors are reported only after authentication.
type apiBody struct {
	kind    int
	raw     []byte
	form    url.Values // bodyForm: what could be parsed
	formErr error
	err     error
}

// readAPIBody reads the body of r. An empty body is none, whatever its
// Content-Type; a non-empty one must be JSON, or a form when formOK.
func readAPIBody(w http.ResponseWriter, r *http.Request, formOK bool) apiBody {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return apiBody{err: err}
		}
		return apiBody{err: newAPIError(http.StatusBadRequest, "could not read the request body")}
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return apiBody{}
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return apiBody{kind: bodyJSON, raw: raw}
	case mt == "application/x-www-form-urlencoded" && formOK:
		b := apiBody{kind: bodyForm, raw: raw}
		b.form, b.formErr = url.ParseQuery(string(raw))
		return b
	case formOK:
		return apiBody{err: newAPIError(http.StatusUnsupportedMediaType,
			"Content-Type must be application/x-www-form-urlencoded or application/json")}
	}
	return apiBody{err: newAPIError(http.StatusUnsupportedMediaType, "Content-Type must be application/json")}
}

// firstValue is the first value of name in v, "" if none.
func firstValue(v url.Values, name string) string {
	if vs := v[name]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// compatCreate is /invites_api (GET, POST): mod_invites_api's endpoint.
func (a *api) compatCreate(w http.ResponseWriter, r *http.Request) error {
	// Parse errors wait until the key is checked: authentication first.
	query, queryErr := url.ParseQuery(r.URL.RawQuery)
	var body apiBody
	if r.Method == http.MethodPost {
		body = readAPIBody(w, r, true)
	}
	cred, bearer := bearerCredential(r.Header)
	if !bearer {
		cred = firstValue(query, "key")
		if cred == "" && body.form != nil {
			cred = firstValue(body.form, "key")
		}
	}
	key, cached, err := a.authenticateToCreate(r, cred)
	if err != nil {
		return err
	}
	return a.confirmOnError(r, cred, cached, a.compatCreateAs(w, r, key, query, queryErr, body))
}

// compatCreateAs is compatCreate once the key is known.
func (a *api) compatCreateAs(w http.ResponseWriter, r *http.Request, key keystore.Key,
	query url.Values, queryErr error, body apiBody) error {
	if queryErr != nil {
		return newAPIError(http.StatusBadRequest, "malformed query string")
	}
	if body.err != nil {
		return body.err
	}
	p := createParams{}
	if err := p.addValues(query, compatParamNames); err != nil {
		return err
	}
	switch body.kind {
	case bodyForm:
		if body.formErr != nil {
			return newAPIError(http.StatusBadRequest, "malformed form body")
		}
		if err := p.addValues(body.form, compatParamNames); err != nil {
			return err
		}
	case bodyJSON:
		var j compatJSON
		if err := decodeAPIJSON(body.raw, &j); err != nil {
			return err
		}
		if err := j.addTo(p); err != nil {
			return err
		}
		if j.Redirect.set {
			if err := p.set("redirect", j.Redirect.v); err != nil {
				return err
			}
		}
	}
	redirect, err := parseRedirect(p)
	if err != nil {
		return err
	}
	c, err := a.create(r, key, p)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if redirect {
		status = http.StatusSeeOther
	}
	w.Header()["Location"] = []string{c.LandingURL}
	writeCreated(w, status, c)
	return nil
}

// parseRedirect reads redirect: true|1|yes, false|0|no, or absent.
func parseRedirect(p createParams) (bool, error) {
	v, ok := p["redirect"]
	if !ok {
		return false, nil
	}
	switch strings.ToLower(v) {
	case "true", "1", "yes":
		return true, nil
	case "false", "0", "no":
		return false, nil
	}
	return false, newAPIError(http.StatusBadRequest, "redirect: must be true or false")
}

// v1Create is POST /api/v1/invites.
func (a *api) v1Create(w http.ResponseWriter, r *http.Request) error {
	cred, _ := bearerCredential(r.Header)
	key, cached, err := a.authenticateToCreate(r, cred)
	if err != nil {
		return err
	}
	return a.confirmOnError(r, cred, cached, a.v1CreateAs(w, r, key))
}

// v1CreateAs is v1Create once the key is known.
func (a *api) v1CreateAs(w http.ResponseWriter, r *http.Request, key keystore.Key) error {
	body := readAPIBody(w, r, false)
	if body.err != nil {
		return body.err
	}
	p := createParams{}
	if body.kind == bodyJSON {
		var j createJSON
		if err := decodeAPIJSON(body.raw, &j); err != nil {
			return err
		}
		if err := j.addTo(p); err != nil {
			return err
		}
	}
	c, err := a.create(r, key, p)
	if err != nil {
		return err
	}
	w.Header()["Location"] = []string{c.LandingURL}
	writeCreated(w, http.StatusCreated, c)
	return nil
}

// create checks the parameters and the key's scope, and creates the
// invite. Syntax is checked first (400), then the scope (403), then the
// invite rules (400).
func (a *api) create(r *http.Request, key keystore.Key, p createParams) (invites.Created, error) {
	var req invites.Request
	if v, ok := p["type"]; ok {
		req.Type = keystore.Type(v)
		if !req.Type.Valid() {
			return invites.Created{}, newAPIError(http.StatusBadRequest, "type: must be account, reset or contact")
		}
	}
	if v, ok := p["ttl"]; ok {
		d, never, err := invites.ParseValidity(v)
		if err != nil {
			return invites.Created{}, err
		}
		req.TTL, req.Never = d, never
	}
	if v, ok := p["uses"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > invites.MaxUses || v[0] == '+' {
			return invites.Created{}, newAPIError(http.StatusBadRequest,
				fmt.Sprintf("uses: must be a whole number from 1 to %d", invites.MaxUses))
		}
		req.Uses = n
	}
	req.Username = p["username"]
	req.Note = p["note"]
	if v, ok := p["rooms"]; ok && v != "" {
		req.Rooms = strings.Split(v, "\n")
	}
	req.Circle = p["circle"]
	if err := mayCreate(key, req.Type); err != nil {
		return invites.Created{}, err
	}
	if req.Never && key.Scope != keystore.ScopeManage {
		return invites.Created{}, newAPIError(http.StatusForbidden, "ttl: only a manage key may create invites that never expire")
	}
	if (len(req.Rooms) > 0 || req.Circle != "") && key.Scope != keystore.ScopeManage {
		return invites.Created{}, newAPIError(http.StatusForbidden, "only a manage key may give an invite rooms or a circle")
	}
	req.Creator = key.Creator()
	// A manage key acts for the operator: its contact invites may register
	// new accounts, like those of admins in-band.
	req.AllowRegister = key.Scope == keystore.ScopeManage
	if key.Quota > 0 {
		req.Limit = keystore.Limit{Max: key.Quota, Since: a.s.now().Add(-quotaWindow)}
	}
	if a.s.link.State() == "up" {
		req.Accounts = a.s.link
	}
	c, err := a.s.svc.Create(r.Context(), req)
	if err != nil {
		return invites.Created{}, err
	}
	a.s.metrics.InviteCreated("http", string(c.Invite.Type))
	a.s.log.LogAttrs(r.Context(), slog.LevelInfo, "invite created", slog.String("source", "http"),
		slog.String("id", c.Invite.ID), slog.String("type", string(c.Invite.Type)), slog.String("key", key.ID))
	return c, nil
}

// createdJSON answers a create: the only time the token is shown.
type createdJSON struct {
	ID         string  `json:"id"`
	Token      string  `json:"token"`
	URI        string  `json:"uri"`
	LandingURL string  `json:"landing_url"`
	Type       string  `json:"type"`
	Expires    *string `json:"expires"` // null: never expires
}

func createdBody(c invites.Created) createdJSON {
	return createdJSON{ID: c.Invite.ID, Token: c.Token, URI: c.URI, LandingURL: c.LandingURL,
		Type: string(c.Invite.Type), Expires: invites.JSONExpires(c.Invite)}
}

// apiTime formats times as RFC 3339 UTC.
func apiTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// inviteJSON is an invite in lists and details. It never has the token.
type inviteJSON = invites.JSON

func inviteBody(inv keystore.Invite, now time.Time) inviteJSON { return invites.ToJSON(inv, now) }

// useJSON is one use of an invite.
type useJSON struct {
	JID  string `json:"jid"`
	Time string `json:"time"`
}

// inviteDetailJSON is one invite with its uses.
type inviteDetailJSON struct {
	inviteJSON
	UsedBy []useJSON `json:"used_by"`
}

// inviteListJSON is a page of invites; Next continues it (after=Next), null
// on the last page.
type inviteListJSON struct {
	Invites []inviteJSON `json:"invites"`
	Next    *string      `json:"next"`
}

// list is GET /api/v1/invites?limit=N&after=ID&all=true.
func (a *api) list(w http.ResponseWriter, r *http.Request) error {
	key, err := a.authenticateBearer(r)
	if err != nil {
		return err
	}
	if err := requireManage(key); err != nil {
		return err
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return newAPIError(http.StatusBadRequest, "malformed query string")
	}
	for _, n := range []string{"limit", "after", "all"} {
		if len(q[n]) > 1 {
			return newAPIError(http.StatusBadRequest, n+": given more than once")
		}
	}
	opts := keystore.ListOptions{Limit: defaultListLimit}
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 || n > maxListLimit || v[0][0] == '+' {
			return newAPIError(http.StatusBadRequest, fmt.Sprintf("limit: must be a whole number from 1 to %d", maxListLimit))
		}
		opts.Limit = n
	}
	if v, ok := q["all"]; ok {
		switch strings.ToLower(v[0]) {
		case "true", "1", "yes":
			opts.All = true
		case "false", "0", "no":
		default:
			return newAPIError(http.StatusBadRequest, "all: must be true or false")
		}
	}
	if v, ok := q["after"]; ok {
		// An unknown ID would silently restart the listing: refuse it.
		if len(v[0]) != keystore.InviteIDLen {
			return newAPIError(http.StatusBadRequest, "after: not an invite ID")
		}
		if _, err := a.s.store.GetInvite(r.Context(), v[0]); errors.Is(err, keystore.ErrNotFound) {
			return newAPIError(http.StatusBadRequest, "after: no such invite")
		} else if err != nil {
			return err
		}
		opts.After = v[0]
	}
	limit := opts.Limit
	opts.Limit++ // one more tells whether there is a next page
	invs, err := a.s.store.ListInvites(r.Context(), opts)
	if err != nil {
		return err
	}
	out := inviteListJSON{Invites: make([]inviteJSON, 0, min(len(invs), limit))}
	if len(invs) > limit {
		invs = invs[:limit]
		next := invs[limit-1].ID
		out.Next = &next
	}
	now := a.s.now()
	for _, inv := range invs {
		out.Invites = append(out.Invites, inviteBody(inv, now))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// show is GET /api/v1/invites/{id}; {id} may also be the token.
func (a *api) show(w http.ResponseWriter, r *http.Request) error {
	key, err := a.authenticateBearer(r)
	if err != nil {
		return err
	}
	if err := requireManage(key); err != nil {
		return err
	}
	inv, err := a.s.store.GetInvite(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	uses, err := a.s.store.Uses(r.Context(), inv.ID)
	if err != nil {
		return err
	}
	out := inviteDetailJSON{inviteJSON: inviteBody(inv, a.s.now()), UsedBy: make([]useJSON, 0, len(uses))}
	for _, u := range uses {
		out.UsedBy = append(out.UsedBy, useJSON{JID: u.JID, Time: apiTime(u.Time)})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// revoke is DELETE /api/v1/invites/{id}; {id} may also be the token. An
// invite that cannot be used any more is a conflict (409).
func (a *api) revoke(w http.ResponseWriter, r *http.Request) error {
	key, err := a.authenticateBearer(r)
	if err != nil {
		return err
	}
	if err := requireManage(key); err != nil {
		return err
	}
	inv, err := a.s.store.RevokeInvite(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	a.s.log.Info("invite revoked", "source", "http", "id", inv.ID, "key", key.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
