package httpapi

import (
	"net/http"
	"net/url"
	"testing"
)

func TestCreateReservedUsernameIs400(t *testing.T) {
	e := newAPIEnv(t, nil)
	plain := e.plainKey(t)
	for _, tc := range []struct {
		name string
		req  apiReq
	}{
		{"compat query", apiReq{target: "/invites_api?username=admin", headers: apiBearer(plain)}},
		{"compat upper case", apiReq{target: "/invites_api?username=ADMIN", headers: apiBearer(plain)}},
		{"compat fullwidth", apiReq{target: "/invites_api?username=" + url.QueryEscape("Ａｄｍｉｎ"), headers: apiBearer(plain)}},
		{"compat JSON", apiReq{method: "POST", target: "/invites_api", body: `{"username":"Postmaster"}`,
			headers: append(apiBearer(plain), "Content-Type", "application/json")}},
		{"v1", apiReq{method: "POST", target: "/api/v1/invites", body: `{"username":"admin"}`,
			headers: append(apiBearer(plain), "Content-Type", "application/json")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do(t, tc.req)
			want := `username: "admin" is reserved`
			if tc.name == "compat JSON" {
				want = `username: "postmaster" is reserved`
			}
			apiWantError(t, rec, http.StatusBadRequest, want)
		})
	}
	if n := e.count(t); n != 0 {
		t.Fatalf("refused requests stored %d invites", n)
	}
	apiWantStatus(t, e.do(t, apiReq{target: "/invites_api?username=alice", headers: apiBearer(plain)}), http.StatusCreated)
}
