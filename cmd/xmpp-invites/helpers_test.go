package main

import (
	"context"
	"testing"
	"time"

	"xmpp-invites/keystore"
)

func openStoreForTest(t *testing.T, e *cliEnv) *keystore.Store {
	t.Helper()
	cfg, err := loadConfig(e.config, mapEnv(e.env), overrides{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := keystore.Open(context.Background(), cfg.Database, keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st.ForDomain(cfg.Domain)
}

func createKeyInvites(t *testing.T, st *keystore.Store, creator string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		_, _, err := st.CreateInvite(context.Background(), keystore.InviteParams{
			Type: keystore.TypeAccount, Creator: creator, MaxUses: 1, Expires: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
	}
}
