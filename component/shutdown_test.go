package component

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xmpp-invites/internal/xmpptest"
	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

// TestServerShutdownLoggedPlainly: when the XMPP server shuts down cleanly
// (it sends its stream error or closing tag, then closes), the log says the
// server closed the link, not that the XML was broken.
func TestServerShutdownLoggedPlainly(t *testing.T) {
	for _, kind := range []string{xmpptest.Prosody, xmpptest.Ejabberd} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			srv := xmpptest.Start(t, kind, xmpptest.Options{})
			var buf logBuffer
			log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			st, err := keystore.Open(t.Context(), filepath.Join(t.TempDir(), "db"), keystore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			svc := invites.New(st, invites.Config{Domain: srv.Domain, PublicURL: "https://chat.example.test",
				DefaultTTL: time.Hour, MaxTTL: time.Hour, ResetTTL: time.Hour, PasswordMinLength: 8}, nil)
			c, err := New(Config{JID: srv.ComponentJID, Server: srv.ComponentAddr, Secret: srv.Secret, Domain: srv.Domain, Version: "test"}, svc, log, nil)
			if err != nil {
				t.Fatal(err)
			}
			startRun(t, c)
			waitUp(t, c)
			srv.Stop()
			deadline := time.Now().Add(20 * time.Second)
			for !strings.Contains(buf.String(), "lost the link") && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			logs := buf.String()
			t.Logf("log:\n%s", logs)
			if !strings.Contains(logs, "lost the link") {
				t.Fatal("no log line for the lost link")
			}
			if strings.Contains(strings.ToLower(logs), "syntax error") {
				t.Errorf("a clean shutdown of %s is logged as an XML syntax error", kind)
			}
		})
	}
}
