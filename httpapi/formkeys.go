package httpapi

import (
	"context"
	"crypto/rand"
	"sync"
	"time"

	"xmpp-invites/keystore"
)

// Form keys: the keys that sign forms live in the database
// (keystore.FormKeys), shared by every instance on it, so that a form
// rendered by one instance may be posted to another. A new key is made
// every formKeyRotate; it starts signing only formKeyActivation after it
// was made, when every instance (which reads the keys every
// formKeyRefresh) knows it, and the keys it replaces are checked until
// every form they signed is too old (csrfMaxAge).
const (
	formKeyRotate     = 24 * time.Hour
	formKeyRefresh    = time.Minute
	formKeyActivation = 3 * formKeyRefresh
	formKeyRetire     = formKeyActivation + csrfMaxAge + csrfSkew + formKeyRefresh
)

// formKeyring holds the form keys read from the store.
type formKeyring struct {
	store *keystore.Store
	// local signs while the database has given no key (it could not be
	// read); it is checked too, so forms signed with it keep working here.
	local []byte

	mu     sync.Mutex
	keys   []keystore.FormKey // newest first
	loaded time.Time
}

func newFormKeyring(st *keystore.Store) *formKeyring {
	r := &formKeyring{store: st, local: make([]byte, 32)}
	rand.Read(r.local)
	return r
}

// current returns the keys, read again from the store when they are
// formKeyRefresh old. A failed read keeps the keys held, until the next
// refresh.
func (r *formKeyring) current(now time.Time) []keystore.FormKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.loaded.IsZero() || now.Sub(r.loaded) >= formKeyRefresh || now.Before(r.loaded) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		keys, err := r.store.FormKeys(ctx, formKeyRotate, formKeyRetire)
		cancel()
		if err == nil {
			r.keys = keys
		}
		r.loaded = now
	}
	return r.keys
}

// signing returns the key that signs now: the newest one made
// formKeyActivation ago or earlier, or else the oldest (a new database's
// first key signs at once).
func (r *formKeyring) signing(now time.Time) []byte {
	keys := r.current(now)
	if len(keys) == 0 {
		return r.local
	}
	for _, k := range keys {
		if now.Sub(k.Created) >= formKeyActivation {
			return k.Secret
		}
	}
	return keys[len(keys)-1].Secret
}

// checking returns every key a form may have been signed with.
func (r *formKeyring) checking(now time.Time) [][]byte {
	keys := r.current(now)
	out := make([][]byte, 0, len(keys)+1)
	for _, k := range keys {
		out = append(out, k.Secret)
	}
	return append(out, r.local)
}
