package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"
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
