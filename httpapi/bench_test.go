package httpapi

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkInvitesAPI measures the handler's cost per created invite, without
// the network: go test -bench InvitesAPI -cpuprofile cpu.out ./httpapi/
func BenchmarkInvitesAPI(b *testing.B) {
	e := newAPIEnv(b, nil)
	cred := e.plainKey(b)
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("GET", "/invites_api?key="+cred, nil)
			req.RemoteAddr = apiTestRemote
			rec := httptest.NewRecorder()
			e.srv.ServeHTTP(rec, req)
			if rec.Code != http.StatusCreated {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "invites/s")
}

// BenchmarkLandingPage measures the landing page's cost per request.
func BenchmarkLandingPage(b *testing.B) {
	e := newAPIEnv(b, nil)
	cred := e.plainKey(b)
	req := httptest.NewRequest("GET", "/invites_api?key="+cred, nil)
	req.RemoteAddr = apiTestRemote
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	loc := rec.Header().Get("Location")
	path := loc[len("https://example.com"):]
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("GET", path, nil)
			req.Header.Set("User-Agent", "Mozilla/5.0 (Linux; Android 14)")
			rec := httptest.NewRecorder()
			e.srv.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d", rec.Code)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
}

// benchAuthFailure measures one refused request per iteration: the bad key is sent
// as a Bearer key to /invites_api (the create path, which may answer from
// the key cache) and to /api/v1/invites (the list path, database only). The
// pair BenchmarkAuthUnknownID/BenchmarkAuthWrongSecret shows whether a
// wrong secret for an existing key costs the same as an unknown key ID:
//
//	go test -run '^$' -bench 'Auth(UnknownID|WrongSecret)' -count 10 ./httpapi/
func benchAuthFailure(b *testing.B, wrongSecret bool) {
	e, unknown, wrong := authFailureEnv(b)
	bad := unknown
	if wrongSecret {
		bad = wrong
	}
	for _, target := range []string{"/invites_api", "/api/v1/invites"} {
		b.Run(strings.ReplaceAll(strings.TrimPrefix(target, "/"), "/", "_"), func(b *testing.B) {
			req := httptest.NewRequest("GET", target, nil)
			req.Header.Set("Authorization", "Bearer "+bad)
			req.RemoteAddr = apiTestRemote
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				e.srv.ServeHTTP(rec, req)
				if rec.Code != http.StatusUnauthorized {
					b.Fatalf("status %d, want 401", rec.Code)
				}
			}
		})
	}
}

// authFailureEnv is a server without a failure limit and with one key,
// which has been used; unknown and wrong are credentials with an unknown ID
// and with the key's ID and a wrong secret, of the real lengths.
func authFailureEnv(b *testing.B) (e *apiEnv, unknown, wrong string) {
	e = newAPIEnv(b, func(c *Config) { c.MaxAuthFailures = 0 })
	cred := e.plainKey(b)
	// The key is used once, as a client that also sends good requests
	// would: it is then in the server's memory of verified keys.
	warm := httptest.NewRequest("GET", "/invites_api", nil)
	warm.Header.Set("Authorization", "Bearer "+cred)
	warm.RemoteAddr = apiTestRemote
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, warm)
	if rec.Code != http.StatusCreated {
		b.Fatalf("good key: status %d: %s", rec.Code, rec.Body)
	}
	id, secret, _ := strings.Cut(cred, "/")
	unknown = strings.Repeat("A", len(id)) + "/" + secret
	wrong = id + "/" + strings.Repeat("A", len(secret))
	return e, unknown, wrong
}

// BenchmarkAuthUnknownID is a refused request with a key ID that does not
// exist.
func BenchmarkAuthUnknownID(b *testing.B) { benchAuthFailure(b, false) }

// BenchmarkAuthWrongSecret is a refused request with the ID of an existing
// key and a wrong secret.
func BenchmarkAuthWrongSecret(b *testing.B) { benchAuthFailure(b, true) }

// BenchmarkAuthFailurePair alternates the two refusals on /invites_api
// and reports the median time of each (unknown-ns, wrong-ns) and their
// difference: alternating pairs keep the drift of a shared machine out of
// the difference, which separate benchmarks do not. One op is one pair.
func BenchmarkAuthFailurePair(b *testing.B) {
	e, unknown, wrong := authFailureEnv(b)
	do := func(cred string) time.Duration {
		req := httptest.NewRequest("GET", "/invites_api", nil)
		req.Header.Set("Authorization", "Bearer "+cred)
		req.RemoteAddr = apiTestRemote
		rec := httptest.NewRecorder()
		start := time.Now()
		e.srv.ServeHTTP(rec, req)
		took := time.Since(start)
		if rec.Code != http.StatusUnauthorized {
			b.Fatalf("status %d, want 401", rec.Code)
		}
		return took
	}
	var u, w, d []float64
	for i := 0; b.Loop(); i++ {
		var tu, tw time.Duration
		if i%2 == 0 { // alternate which goes first
			tu, tw = do(unknown), do(wrong)
		} else {
			tw, tu = do(wrong), do(unknown)
		}
		u, w = append(u, float64(tu)), append(w, float64(tw))
		d = append(d, float64(tw-tu))
	}
	median := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	b.ReportMetric(median(u), "unknown-ns")
	b.ReportMetric(median(w), "wrong-ns")
	b.ReportMetric(median(d), "diff-ns")
}
