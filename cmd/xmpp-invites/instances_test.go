package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"xmpp-invites/internal/pgtest"
	"xmpp-invites/internal/xmpptest"
	"xmpp-invites/keystore"
)

// TestTwoInstances: two serve processes on one PostgreSQL database, each
// with its own component JID on one Prosody. 20 racers split over both
// instances (each posting a form rendered by the other instance) redeem a
// one-use invite: exactly one account is made, checked by logging in. Then
// one instance is killed (SIGKILL) while both create invites: every invite
// either acknowledged is in the database. The load balancer of
// docs/operations.md in front of both passes a registration from one to
// the other, and with one killed still creates every invite.
func TestTwoInstances(t *testing.T) {
	started := time.Now()
	cl := pgtest.Shared(t)
	db := cl.NewDatabase(t)
	second := "invites2." + xmpptest.Domain
	secret2 := pgSecret(t)
	srv := xmpptest.StartProsody(t, xmpptest.Options{
		Admins: []string{second},
		Config: []string{fmt.Sprintf("Component %q\n\tcomponent_secret = %q", second, secret2)},
	})
	var ins [2]*instance
	for i, comp := range [][2]string{{srv.ComponentJID, srv.Secret}, {second, secret2}} {
		in := newInstanceFor(t, srv.Domain, fmt.Sprintf(`[component]
jid = "%s"
server = "%s"
secret = "%s"
`, comp[0], srv.ComponentAddr, comp[1]))
		usePostgres(t, in, db)
		ins[i] = in
	}
	cred, errs, code := ins[0].cli("key", "create", srv.Domain, "two instances")
	if code != 0 {
		t.Fatalf("key create: %s", errs)
	}
	cred = strings.TrimSpace(cred)
	for _, in := range ins {
		in.start()
	}
	for i, in := range ins {
		deadline := time.Now().Add(20 * time.Second)
		for componentUp(in) != "up" {
			if time.Now().After(deadline) {
				t.Fatalf("instance %d: component not up: %s", i, in.stderr)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Logf("two instances up, components %s and %s, after %s", srv.ComponentJID, second, time.Since(started).Round(time.Millisecond))

	// 20 racers on a one-use invite.
	resp, body := ins[0].createInvite(cred)
	token, _ := body["token"].(string)
	if resp.StatusCode != 201 || token == "" {
		t.Fatalf("create invite: %d %v", resp.StatusCode, body)
	}
	const racers = 20
	const password = "correct horse battery"
	forms := make([]string, racers)
	for i := range forms {
		forms[i] = formToken(t, ins[i%2], token) // rendered by one instance ...
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	codes := make([]int, racers)
	won := make([]bool, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			user := fmt.Sprintf("racer%02d", i)
			// ... posted to the other.
			codes[i], won[i] = postRegistration(ins[(i+1)%2], token, forms[i], user, password)
		}()
	}
	close(start)
	wg.Wait()
	var winners, accounts []string
	for i := range racers {
		user := fmt.Sprintf("racer%02d", i)
		if won[i] {
			winners = append(winners, user)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if s, err := srv.Dial(ctx, user, password); err == nil {
			accounts = append(accounts, user)
			s.Close()
			s.Conn().Close()
		}
		cancel()
	}
	t.Logf("20 racers over both instances on a one-use invite: answers %v; success pages %v; accounts that log in %v", codes, winners, accounts)
	if len(winners) != 1 || len(accounts) != 1 || winners[0] != accounts[0] {
		t.Fatalf("want exactly one account, made by the one racer told so")
	}

	// The load balancer of docs/operations.md in front of both.
	lb := startBalancer(t, ins[:])
	if lb != nil {
		registerThroughBalancer(t, lb, srv, cred, "balanced")
		t.Logf("through the load balancer (round robin): an invite, its landing page, the form and its post; the account logs in")
	}

	// SIGKILL one instance under invite-creation load.
	all, err := keystore.Open(context.Background(), db, keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	st := all.ForDomain(srv.Domain)
	var mu sync.Mutex
	acked := map[string]int{} // invite ID → the instance that acknowledged it
	var onB atomic.Int32
	stop := make(chan struct{})
	killed := make(chan struct{})
	var load sync.WaitGroup
	var failed [2]atomic.Int32
	for w := range 8 {
		load.Add(1)
		go func() {
			defer load.Done()
			in := ins[w%2]
			for {
				select {
				case <-stop:
					return
				default:
				}
				id, ok := createInviteID(in, cred)
				if !ok {
					failed[w%2].Add(1)
					if w%2 == 1 {
						select {
						case <-killed:
							return // the killed instance answers no more
						default:
						}
					}
					continue
				}
				mu.Lock()
				acked[id] = w % 2
				mu.Unlock()
				if w%2 == 1 && onB.Add(1) == 40 {
					ins[1].cmd.Process.Signal(syscall.SIGKILL)
					<-ins[1].exited
					close(killed)
				}
			}
		}()
	}
	<-killed
	// The survivor keeps creating for a further 40 invites.
	for n := 0; ; n++ {
		mu.Lock()
		m := len(acked)
		mu.Unlock()
		if m >= int(onB.Load())+80 || n > 5000 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	load.Wait()
	var missing []string
	per := [2]int{}
	for id, i := range acked {
		per[i]++
		if _, err := st.GetInvite(context.Background(), id); err != nil {
			missing = append(missing, fmt.Sprintf("%s (instance %d): %v", id, i, err))
		}
	}
	t.Logf("SIGKILL of instance 1 under load: %d invites acknowledged (%d by the killed instance, %d by the survivor), %d missing from the database; %d requests to the killed instance failed", len(acked), per[1], per[0], len(missing), failed[1].Load())
	if len(missing) > 0 {
		t.Fatalf("acknowledged invites lost:\n%s", strings.Join(missing, "\n"))
	}
	if failed[0].Load() > 0 {
		t.Errorf("%d creations on the surviving instance failed", failed[0].Load())
	}
	if code, body := httpGet(t, "http://"+ins[0].admin+"/readyz"); code != 200 {
		t.Errorf("survivor's admin /readyz: %d %s", code, body)
	}
	if lb != nil {
		createThroughBalancer(t, lb, cred, 20)
		t.Logf("through the load balancer with instance 1 killed: 20 invites created")
	}
	t.Logf("whole test: %s", time.Since(started).Round(time.Millisecond))
}

// componentUp reads the component state on in's admin /readyz.
func componentUp(in *instance) string {
	resp, err := http.Get("http://" + in.admin + "/readyz")
	if err != nil {
		return "unreachable"
	}
	defer resp.Body.Close()
	var body struct{ Component string }
	json.NewDecoder(resp.Body).Decode(&body)
	return body.Component
}

// formToken fetches the registration form of token from in and returns its
// signed form token.
func formToken(t *testing.T, in *instance, token string) string {
	t.Helper()
	code, page := httpGet(t, "http://"+in.addr+"/register?t="+url.QueryEscape(token))
	m := csrfRE.FindStringSubmatch(page)
	if code != 200 || m == nil {
		t.Fatalf("register form from %s: %d", in.addr, code)
	}
	return m[1]
}

// postRegistration submits a registration form to in; won reports the
// success page naming the account.
func postRegistration(in *instance, token, csrf, user, password string) (code int, won bool) {
	form := url.Values{"csrf": {csrf}, "user": {user}, "password": {password}, "password_confirm": {password}}
	req, _ := http.NewRequest("POST", "http://"+in.addr+"/register?t="+url.QueryEscape(token), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.StatusCode == 200 && strings.Contains(string(b), user+"@"+xmpptest.Domain)
}

// createInviteID creates an invite on in; ok only for an acknowledged one.
func createInviteID(in *instance, cred string) (id string, ok bool) {
	req, _ := http.NewRequest("POST", "http://"+in.addr+"/invites_api", nil)
	req.Header.Set("Authorization", "Bearer "+cred)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	var body struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 201 || body.ID == "" {
		return "", false
	}
	return body.ID, true
}
