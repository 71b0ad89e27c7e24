package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"xmpp-invites/invites"
	"xmpp-invites/keystore"
	"xmpp-invites/metrics"
)

// apiClock is a settable clock shared by the store, the invite service and
// the server.
type apiClock struct {
	mu sync.Mutex
	t  time.Time
}

func newAPIClock() *apiClock {
	return &apiClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *apiClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *apiClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// apiLogBuffer collects log output from concurrent handlers.
type apiLogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *apiLogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *apiLogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// apiEnv is a Server on a real temporary store with a fake clock.
type apiEnv struct {
	srv     *Server
	store   *keystore.Store
	svc     *invites.Service
	clock   *apiClock
	logs    *apiLogBuffer
	metrics *metrics.Metrics
	path    string // the database: a file, or a PostgreSQL URL
}

// apiTestRemote is the default client address of test requests.
const apiTestRemote = "192.0.2.10:40000"

// newAPIEnv builds an environment; mod may change the server config, whose
// defaults are cors_origins ["*"] and max_auth_failures 5.
func newAPIEnv(tb testing.TB, mod func(*Config)) *apiEnv {
	tb.Helper()
	clock := newAPIClock()
	path := StoreDatabase(tb)
	store, err := keystore.Open(context.Background(), path, keystore.Options{Now: clock.Now})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { store.Close() })
	svc := invites.New(store, invites.Config{
		Domain: "example.com", PublicURL: "https://example.com/",
		DefaultTTL: 168 * time.Hour, MaxTTL: 720 * time.Hour, ResetTTL: 24 * time.Hour,
		Retention: 720 * time.Hour, UserInvitesPerDay: 10, PasswordMinLength: 8,
		Admins: []string{"boss@example.com"},
	}, clock.Now)
	cfg := Config{CORSOrigins: []string{"*"}, MaxAuthFailures: 5, Version: "test"}
	if mod != nil {
		mod(&cfg)
	}
	logs := &apiLogBuffer{}
	m := metrics.New()
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := New(cfg, svc, nil, log, WithClock(clock.Now), WithMetrics(m))
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return &apiEnv{srv: srv, store: store, svc: svc, clock: clock, logs: logs, metrics: m, path: path}
}

// key creates a key and returns the key and its credential "ID/SECRET".
func (e *apiEnv) key(tb testing.TB, p keystore.KeyParams) (keystore.Key, string) {
	tb.Helper()
	k, cred, err := e.store.CreateKey(context.Background(), p)
	if err != nil {
		tb.Fatalf("CreateKey: %v", err)
	}
	return k, cred
}

// plainKey and manageKey return credentials of a create and a manage key.
func (e *apiEnv) plainKey(tb testing.TB) string {
	_, cred := e.key(tb, keystore.KeyParams{Name: "plain", Scope: keystore.ScopeCreate})
	return cred
}

func (e *apiEnv) manageKey(tb testing.TB) string {
	_, cred := e.key(tb, keystore.KeyParams{Name: "manage", Scope: keystore.ScopeManage})
	return cred
}

// apiReq describes a test request. Headers are name, value pairs.
type apiReq struct {
	method  string
	target  string
	body    string
	headers []string
	remote  string // default apiTestRemote
}

func (q apiReq) build(tb testing.TB) *http.Request {
	tb.Helper()
	method := q.method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if q.body != "" {
		body = strings.NewReader(q.body)
	}
	r := httptest.NewRequest(method, q.target, body)
	for i := 0; i+1 < len(q.headers); i += 2 {
		r.Header.Add(q.headers[i], q.headers[i+1])
	}
	r.RemoteAddr = apiTestRemote
	if q.remote != "" {
		r.RemoteAddr = q.remote
	}
	return r
}

// do serves q and returns the recorded response.
func (e *apiEnv) do(tb testing.TB, q apiReq) *httptest.ResponseRecorder {
	tb.Helper()
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, q.build(tb))
	return rec
}

// count is the number of invites in the store, whatever their state.
func (e *apiEnv) count(tb testing.TB) int {
	tb.Helper()
	invs, err := e.store.ListInvites(context.Background(), keystore.ListOptions{All: true})
	if err != nil {
		tb.Fatalf("ListInvites: %v", err)
	}
	return len(invs)
}

// scrape returns the metrics text.
func (e *apiEnv) scrape(tb testing.TB) string {
	tb.Helper()
	rec := httptest.NewRecorder()
	e.metrics.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Body.String()
}

func apiBearer(cred string) []string { return []string{"Authorization", "Bearer " + cred} }

// apiDecode decodes a JSON response body strictly.
func apiDecode[T any](tb testing.TB, rec *httptest.ResponseRecorder) T {
	tb.Helper()
	var v T
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		tb.Fatalf("decode %T from %q: %v", v, rec.Body.String(), err)
	}
	return v
}

// apiWantStatus fails unless rec has status want.
func apiWantStatus(tb testing.TB, rec *httptest.ResponseRecorder, want int) {
	tb.Helper()
	if rec.Code != want {
		tb.Fatalf("status %d, want %d; body %q", rec.Code, want, rec.Body.String())
	}
}

// apiWantError fails unless rec is the JSON error {"error":msg,"code":status}
// exactly.
func apiWantError(tb testing.TB, rec *httptest.ResponseRecorder, status int, msg string) {
	tb.Helper()
	apiWantStatus(tb, rec, status)
	b, _ := json.Marshal(errorBody{Error: msg, Code: status})
	if got := rec.Body.String(); got != string(b) {
		tb.Fatalf("body %q, want %q", got, b)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		tb.Fatalf("Content-Type %q, want application/json", ct)
	}
}

// apiWant401 fails unless rec is the one 401 of every bad key.
func apiWant401(tb testing.TB, rec *httptest.ResponseRecorder) {
	tb.Helper()
	apiWantStatus(tb, rec, http.StatusUnauthorized)
	if got, want := rec.Body.String(), `{"error":"unauthorized","code":401}`; got != want {
		tb.Fatalf("401 body %q, want %q", got, want)
	}
	if got := rec.Header().Get("WWW-Authenticate"); got != "Bearer" {
		tb.Fatalf("WWW-Authenticate %q, want Bearer", got)
	}
}
