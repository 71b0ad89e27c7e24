package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
)

func TestAdminListenerStart(t *testing.T) {
	in := newInstance(t, "")
	serveWith := func(adminListen string) (int, string) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		logs := &cancelOn{word: "msg=serving", cancel: cancel}
		var out bytes.Buffer
		code := run(ctx, []string{"xmpp-invites", "--config", in.config, "--listen", "127.0.0.1:0",
			"--admin-listen", adminListen, "serve"}, &out, logs, mapEnv(nil))
		return code, logs.String()
	}
	// A port that is taken: exit 1, naming the option.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if code, logs := serveWith(busy.Addr().String()); code != exitFailure || !strings.Contains(logs, "http.admin_listen") {
		t.Errorf("admin listener on a taken port: exit %d, log:\n%s\nwant exit 1 naming http.admin_listen", code, logs)
	}
	// Off.
	if code, logs := serveWith(""); code != 0 || !strings.Contains(logs, "admin_addr=off") {
		t.Errorf("admin listener off: exit %d, log:\n%s", code, logs)
	}
	// On loopback: no warning.
	if code, logs := serveWith("127.0.0.1:0"); code != 0 || strings.Contains(logs, "admin listener has no authentication") {
		t.Errorf("admin listener on loopback: exit %d, log:\n%s", code, logs)
	}
}

// TestAdminLoopback checks which admin addresses get the warning (the
// tests bind loopback only, so it is checked on addresses).
func TestAdminLoopback(t *testing.T) {
	for _, tc := range []struct {
		ip   string
		want bool
	}{
		{"127.0.0.1", true}, {"127.0.0.2", true}, {"::1", true},
		{"0.0.0.0", false}, {"::", false}, {"192.0.2.1", false}, {"2001:db8::1", false},
	} {
		if got := loopback(&net.TCPAddr{IP: net.ParseIP(tc.ip), Port: 5381}); got != tc.want {
			t.Errorf("loopback(%s) = %v, want %v", tc.ip, got, tc.want)
		}
	}
}
