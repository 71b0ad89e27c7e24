package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"xmpp-invites/httpapi"
	"xmpp-invites/internal/diskfault"
	"xmpp-invites/invites"
	"xmpp-invites/keystore"
	"xmpp-invites/metrics"
)

// newStorageEnv is newPageEnv with the database at path.
func newStorageEnv(t *testing.T, path string, opts ...httpapi.Option) *pageEnv {
	t.Helper()
	clock := &pageClock{t: time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)}
	store, err := keystore.Open(context.Background(), path, keystore.Options{Now: clock.Now})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	svc := invites.New(store, invites.Config{
		Domain: pageDomain, PublicURL: pagePublic, SiteName: pageSite,
		DefaultTTL: 7 * 24 * time.Hour, MaxTTL: 30 * 24 * time.Hour, ResetTTL: 24 * time.Hour,
		Retention: 30 * 24 * time.Hour, PasswordMinLength: 8, UserInvitesPerDay: 10,
	}, clock.Now)
	e := &pageEnv{t: t, store: store, svc: svc, link: newPageLink(), clock: clock, logs: &pageLogBuffer{}, metrics: metrics.New()}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts = append([]httpapi.Option{httpapi.WithClock(clock.Now), httpapi.WithMetrics(e.metrics)}, opts...)
	e.srv, err = httpapi.New(httpapi.Config{Version: "test"}, svc, e.link, log, opts...)
	if err != nil {
		t.Fatalf("httpapi.New: %v", err)
	}
	return e
}

// createKey returns the credential of a new create key.
func (e *pageEnv) createKey() string {
	e.t.Helper()
	_, cred, err := e.store.CreateKey(context.Background(), keystore.KeyParams{Name: "k", Scope: keystore.ScopeCreate})
	if err != nil {
		e.t.Fatalf("CreateKey: %v", err)
	}
	return cred
}

// apiCreate creates an invite over /invites_api.
func (e *pageEnv) apiCreate(cred string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/invites_api", nil)
	req.Header.Set("Authorization", "Bearer "+cred)
	return e.do(req)
}

// admin serves target on the admin listener's handler.
func (e *pageEnv) admin(target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.srv.Admin().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return rec
}

// wantReady checks the public /readyz.
func (e *pageEnv) wantReady(status int, body string) {
	e.t.Helper()
	rec := e.get("/readyz")
	if rec.Code != status || strings.TrimSpace(rec.Body.String()) != body {
		e.t.Fatalf("public /readyz: %d %s, want %d %s", rec.Code, rec.Body, status, body)
	}
}

// adminReady returns the admin /readyz answer, checking its status.
func (e *pageEnv) adminReady(status int) map[string]any {
	e.t.Helper()
	rec := e.admin("/readyz")
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != status {
		e.t.Fatalf("admin /readyz: %d %s, want %d and JSON (%v)", rec.Code, rec.Body, status, err)
	}
	return body
}

// wantStorage503 checks an API answer for a storage fault.
func wantStorage503(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code != http.StatusServiceUnavailable || rec.Body.String() != `{"error":"storage unavailable","code":503}` ||
		rec.Header().Get("Retry-After") != "30" {
		t.Fatalf("API during a storage fault: %d Retry-After %q %s, want 503 Retry-After 30 and the storage error",
			rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
}

// TestStorageDiskFull fills the disk under a running server: the public
// /readyz says unavailable, the API and the registration page answer 503
// with Retry-After; once space is freed everything works again, without a
// restart.
func TestStorageDiskFull(t *testing.T) {
	dir := diskfault.Tmpfs(t, "2m")
	e := newStorageEnv(t, filepath.Join(dir, "db"))
	cred := e.createKey()
	inv := e.invite(invites.Request{})
	csrf := e.csrf(inv.Token)
	e.wantReady(http.StatusOK, `{"status":"ok"}`)

	filler := filepath.Join(dir, "filler")
	diskfault.Fill(t, filler)
	e.clock.Add(2 * time.Second) // past the cached probe
	e.wantReady(http.StatusServiceUnavailable, `{"status":"unavailable"}`)
	if got := e.adminReady(http.StatusServiceUnavailable); got["database"] != keystore.FaultFull || got["status"] != "unavailable" {
		t.Errorf("admin /readyz on a full disk: %v, want database %q", got, keystore.FaultFull)
	}
	wantStorage503(t, e.apiCreate(cred))
	pw := "a fine password"
	form := url.Values{"csrf": {csrf}, "user": {"alice"}, "password": {pw}, "password_confirm": {pw}}
	rec := e.postForm(inv.Token, form, nil)
	pageWantStatus(t, rec, http.StatusServiceUnavailable, "registration on a full disk")
	if rec.Header().Get("Retry-After") != "30" || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") ||
		!strings.Contains(pageText(rec.Body.String()), "Please try again in a few minutes") {
		t.Fatalf("registration on a full disk: Retry-After %q Content-Type %q:\n%s",
			rec.Header().Get("Retry-After"), rec.Header().Get("Content-Type"), pageText(rec.Body.String()))
	}
	if len(e.link.createdAccounts()) != 0 {
		t.Error("an account was created although nothing could be saved")
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(2 * time.Second)
	e.wantReady(http.StatusOK, `{"status":"ok"}`)
	if rec := e.apiCreate(cred); rec.Code != http.StatusCreated {
		t.Fatalf("API create after space was freed: %d %s", rec.Code, rec.Body)
	}
	pageWantStatus(t, e.register(inv.Token, "alice", pw, pw), http.StatusOK, "registration after space was freed")
}

// TestStorageReadOnly starts on a database whose directory is read-only,
// with the WAL a crash left: SQLite opens it read-only. /readyz says so and
// writes answer 503 until the file system is writable again; then they work
// without a restart.
func TestStorageReadOnly(t *testing.T) {
	src := t.TempDir()
	st, err := keystore.Open(context.Background(), filepath.Join(src, "db"), keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, cred, err := st.CreateKey(context.Background(), keystore.KeyParams{Name: "k", Scope: keystore.ScopeCreate})
	if err != nil {
		t.Fatal(err)
	}
	dir := diskfault.Tmpfs(t, "2m")
	diskfault.CopyFiles(t, src, dir, "db", "db-wal", "db-shm")
	diskfault.ReadOnly(t, dir)

	e := newStorageEnv(t, filepath.Join(dir, "db"))
	e.wantReady(http.StatusServiceUnavailable, `{"status":"unavailable"}`)
	if got := e.adminReady(http.StatusServiceUnavailable); got["database"] != keystore.FaultReadonly {
		t.Errorf("admin /readyz read-only: %v, want database %q", got, keystore.FaultReadonly)
	}
	wantStorage503(t, e.apiCreate(cred))

	diskfault.ReadWrite(t, dir)
	if rec := e.apiCreate(cred); rec.Code != http.StatusCreated {
		t.Fatalf("API create after the remount: %d %s", rec.Code, rec.Body)
	}
	e.clock.Add(2 * time.Second)
	e.wantReady(http.StatusOK, `{"status":"ok"}`)
}

// TestStorageFaultLogRateLimited checks that a burst of requests failing on
// a full disk logs one line, and the next line, a while later, counts the
// ones left out.
func TestStorageFaultLogRateLimited(t *testing.T) {
	dir := diskfault.Tmpfs(t, "2m")
	e := newStorageEnv(t, filepath.Join(dir, "db"))
	cred := e.createKey()
	diskfault.Fill(t, filepath.Join(dir, "filler"))
	const burst = 50
	for range burst {
		wantStorage503(t, e.apiCreate(cred))
		e.get("/readyz")
	}
	errorLines := func() []string {
		var out []string
		for _, l := range strings.Split(e.logs.String(), "\n") {
			if strings.Contains(l, "level=ERROR") {
				out = append(out, l)
			}
		}
		return out
	}
	if got := errorLines(); len(got) != 1 || !strings.Contains(got[0], `msg="storage unavailable" kind=full`) {
		t.Fatalf("%d requests on a full disk logged %d error lines, want one storage line:\n%s", 2*burst, len(got), strings.Join(got, "\n"))
	}
	e.clock.Add(11 * time.Second)
	wantStorage503(t, e.apiCreate(cred))
	got := errorLines()
	if len(got) != 2 || !strings.Contains(got[1], "suppressed="+strconv.Itoa(2*burst-1)) {
		t.Fatalf("after 11 s: %d error lines, want 2, the second with suppressed=%d:\n%s", len(got), 2*burst-1, strings.Join(got, "\n"))
	}
}

// TestAdminListener checks the admin handler: /readyz with the detail,
// /metrics, and nothing else; /metrics is not on the public handler.
func TestAdminListener(t *testing.T) {
	var permitted, known bool
	e := newStorageEnv(t, filepath.Join(t.TempDir(), "db"),
		httpapi.WithAccountRights(func() (bool, bool) { return permitted, known }))
	body := func() string {
		rec := e.admin("/readyz")
		if rec.Code != http.StatusOK {
			t.Fatalf("admin /readyz: %d %s", rec.Code, rec.Body)
		}
		return strings.TrimSpace(rec.Body.String())
	}
	if got, want := body(), fmt.Sprintf(`{"status":"ok","database":"writable","database_engine":"sqlite","database_reachable":true,"database_schema":%d,"component":"up","account_creation":"unknown","warnings":[],"version":"test"}`, keystore.SchemaVersion()); got != want {
		t.Errorf("admin /readyz:\n got %s\nwant %s", got, want)
	}
	known = true
	if got := body(); !strings.Contains(got, `"account_creation":"not permitted"`) {
		t.Errorf("admin /readyz when the server refuses: %s", got)
	}
	permitted = true
	e.link.setState("down")
	if got := body(); !strings.Contains(got, `"account_creation":"permitted"`) || !strings.Contains(got, `"component":"down"`) {
		t.Errorf("admin /readyz with the link down: %s", got)
	}
	// The link does not make the service unready: registrations wait for
	// it, invites can still be created.
	e.wantReady(http.StatusOK, `{"status":"ok"}`)
	if rec := e.admin("/healthz"); rec.Code != http.StatusOK {
		t.Errorf("admin /healthz: %d", rec.Code)
	}
	if rec := e.admin("/metrics"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "xmpp_invites_") {
		t.Errorf("admin /metrics: %d", rec.Code)
	}
	if rec := e.get("/metrics"); rec.Code != http.StatusNotFound {
		t.Errorf("public /metrics: %d, want 404", rec.Code)
	}
	for _, target := range []string{"/invites_api", "/invite", "/"} {
		if rec := e.admin(target); rec.Code != http.StatusNotFound {
			t.Errorf("admin %s: %d, want 404", target, rec.Code)
		}
	}
}
