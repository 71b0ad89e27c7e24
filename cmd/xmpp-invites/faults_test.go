package main

// Exactly once under faults, on a real Prosody: for each fault that leaves
// the outcome of an account creation unknown (a stalled server, a link cut
// right after add-user, a full disk when the use is confirmed, xmpp-invites
// killed mid-registration), every use of an invite ends up with exactly one
// account, checked by logging in, and the invite's use count says so.

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"xmpp-invites/internal/xmpptest"
)

// faultTiming shortens the registration timing so that each fault resolves
// in seconds: add-user gets 2 s, each existence question 1 s, leases run
// 3 s and the resolver goes round every 500 ms.
const faultTiming = `
[invites]
account_timeout   = "2s"
check_timeout     = "1s"
reservation_lease = "4s"
resolve_interval  = "500ms"
`

// stanzaProxy sits between xmpp-invites and the server's component port and
// lets a test act on the component's XEP-0133 add-user requests: forward
// them, hold them back, or cut the link right after one.
type stanzaProxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	conns   []net.Conn
	onAdd   func(p *stanzaProxy, seg []byte, up net.Conn) // nil: forward
	addSeen int
	linger  bool // keep the server side open when the component's side closes
}

func newStanzaProxy(t *testing.T, target string) *stanzaProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stanzaProxy{ln: ln, target: target}
	go p.accept()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

func (p *stanzaProxy) addr() string { return p.ln.Addr().String() }

func (p *stanzaProxy) accept() {
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			down.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, down, up)
		p.mu.Unlock()
		go func() { io.Copy(down, up); down.Close() }()
		go p.pump(down, up)
	}
}

// pump copies the component's bytes to the server, splitting each read at
// stanza starts so that an add-user request can be handled on its own.
// Each stanza arrives in one read on loopback (mellium flushes per stanza).
func (p *stanzaProxy) pump(down, up net.Conn) {
	defer func() {
		p.mu.Lock()
		linger := p.linger
		p.mu.Unlock()
		if !linger {
			up.Close()
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := down.Read(buf)
		if n > 0 {
			for _, seg := range splitStanzas(buf[:n]) {
				if bytes.Contains(seg, []byte("admin#add-user")) {
					p.mu.Lock()
					p.addSeen++
					act := p.onAdd
					p.mu.Unlock()
					if act != nil {
						act(p, seg, up)
						continue
					}
				}
				if _, err := up.Write(seg); err != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// splitStanzas cuts b before each "<iq", "<message" and "<presence".
func splitStanzas(b []byte) [][]byte {
	var out [][]byte
	start := 0
	for i := 1; i < len(b); i++ {
		if b[i] == '<' && (bytes.HasPrefix(b[i:], []byte("<iq")) || bytes.HasPrefix(b[i:], []byte("<message")) || bytes.HasPrefix(b[i:], []byte("<presence"))) {
			out = append(out, b[start:i])
			start = i
		}
	}
	return append(out, b[start:])
}

// cut closes every connection through the proxy, as a dropped link.
func (p *stanzaProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok && i%2 == 0 {
			tc.SetLinger(0) // the component's side: reset
		}
		c.Close()
	}
	p.conns = nil
}

func (p *stanzaProxy) setOnAdd(f func(p *stanzaProxy, seg []byte, up net.Conn)) {
	p.mu.Lock()
	p.onAdd = f
	p.mu.Unlock()
}

// faultEnv is xmpp-invites attached to a private Prosody through a proxy.
type faultEnv struct {
	*attached
	proxy *stanzaProxy
}

func attachThroughProxy(t *testing.T, dbDir string) *faultEnv {
	t.Helper()
	srv := xmpptest.Start(t, xmpptest.Prosody, xmpptest.Options{})
	proxy := newStanzaProxy(t, srv.ComponentAddr)
	in := newInstanceFor(t, srv.Domain, fmt.Sprintf(`
[component]
jid = "%s"
server = "%s"
secret = "%s"
ping_interval = "30s"
%s`, srv.ComponentJID, proxy.addr(), srv.Secret, faultTiming))
	if dbDir != "" {
		b, err := os.ReadFile(in.config)
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.Replace(b, []byte(filepath.Join(in.dir, "invites.db")), []byte(filepath.Join(dbDir, "invites.db")), 1)
		if err := os.WriteFile(in.config, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cred, errs, code := in.cli("key", "create", "--manage", srv.Domain, "faults")
	if code != 0 {
		t.Fatalf("key create: %s", errs)
	}
	in.start()
	a := &attached{instance: in, srv: srv, cred: strings.TrimSpace(cred)}
	a.waitComponent(t, "up", 30*time.Second)
	return &faultEnv{attached: a, proxy: proxy}
}

// uses reads an invite's use count and its users over the JSON API.
func (a *attached) uses(t *testing.T, token string) (int, []string) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+a.addr+"/api/v1/invites/"+url.PathEscape(token), nil)
	req.Header.Set("Authorization", "Bearer "+a.cred)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Uses   int
		UsedBy []struct{ JID string } `json:"used_by"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
		t.Fatalf("show invite: %d %v", resp.StatusCode, err)
	}
	var jids []string
	for _, u := range body.UsedBy {
		jids = append(jids, u.JID)
	}
	return body.Uses, jids
}

// awaitSettled waits until no reservation holds the invite any more (the
// resolver works in the background) and its use count is want, and fails
// with the log otherwise.
func (a *attached) awaitSettled(t *testing.T, token string, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		n, _ := a.uses(t, token)
		code, _ := a.get(t, "/register?t="+url.QueryEscape(token))
		if n == want && code != http.StatusConflict {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("invite has %d uses (form: %d) after %s, want %d and no reservation; log:\n%s", n, code, within, want, a.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// retryRegister registers as a person would after "nothing was created,
// try again": once the link is up, and again while the answer is 503
// (nothing consumed; the link may still be settling after the cut).
func (a *attached) retryRegister(t *testing.T, token, user, password string) {
	t.Helper()
	for try := 0; ; try++ {
		a.waitComponent(t, "up", 30*time.Second)
		code, page := a.register(t, token, user, password)
		if code == http.StatusOK {
			return
		}
		if code != http.StatusServiceUnavailable || try == 3 {
			t.Fatalf("register again after nothing was created: %d:\n%s\nlog:\n%s", code, pageTextOf(page), a.stderr)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// tryRegister posts a registration form and ignores the outcome (the
// process may be killed before it answers).
func (a *attached) tryRegister(token, user, password string) {
	resp, err := http.Get("http://" + a.addr + "/register?t=" + url.QueryEscape(token))
	if err != nil {
		return
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfRE.FindStringSubmatch(string(b))
	if m == nil {
		return
	}
	form := url.Values{"csrf": {m[1]}, "user": {user}, "password": {password}, "password_confirm": {password}}
	req, _ := http.NewRequest("POST", "http://"+a.addr+"/register?t="+url.QueryEscape(token), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err = http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
}

// exactlyOnce checks, by logging in, that user has an account with
// password, and that the invite has exactly one use, by that account.
func (a *attached) exactlyOnce(t *testing.T, token, user, password string) {
	t.Helper()
	if !a.canLogin(t, user, password) {
		t.Errorf("%s cannot log in with the password chosen at registration", user)
	}
	n, jids := a.uses(t, token)
	if n != 1 || len(jids) != 1 || jids[0] != user+"@"+a.srv.Domain {
		t.Errorf("invite uses %d by %v, want exactly 1 by %s@%s", n, jids, user, a.srv.Domain)
	}
	t.Logf("fault result: account %s@%s logs in; invite uses 1 (used by %v)", user, a.srv.Domain, jids)
}

func TestFaultServerStalledDuringAddUser(t *testing.T) {
	e := attachThroughProxy(t, "")
	srv := e.srv
	resumed := false
	defer func() {
		if !resumed {
			srv.Resume(t)
		}
	}()
	// The server stops right after it was sent add-user: it has the request
	// but answers neither it nor the existence question.
	e.proxy.setOnAdd(func(p *stanzaProxy, seg []byte, up net.Conn) {
		srv.Pause(t) // the request then waits in the server's socket
		up.Write(seg)
	})
	token := e.invite(t, url.Values{})
	code, page := e.register(t, token, "stalled", "a fine password")
	if code != http.StatusAccepted || !strings.Contains(page, "Your account may already exist") {
		t.Fatalf("register while the server is stalled: %d, want 202 and the truthful page:\n%s", code, pageTextOf(page))
	}
	if !strings.Contains(page, "open this page again in 1 minute") {
		t.Errorf("the page does not name the real wait (lease 4s + round + check = 1 minute):\n%s", pageTextOf(page))
	}
	// Anyone opening the invite now is told it is held, with the wait.
	if code, page := e.get(t, "/register?t="+url.QueryEscape(token)); code != http.StatusConflict || !strings.Contains(page, "in 1 minute") {
		t.Errorf("form of a held invite: %d, want 409 naming the wait:\n%s", code, pageTextOf(page))
	}
	e.proxy.setOnAdd(nil)
	srv.Resume(t)
	resumed = true
	e.awaitSettled(t, token, 1, 20*time.Second)
	e.exactlyOnce(t, token, "stalled", "a fine password")
	if code, _ := e.register(t, token, "another", "a fine password"); code != http.StatusGone {
		t.Errorf("register again after the use was confirmed: %d, want 410", code)
	}
}

func TestFaultLinkCutAfterAddUser(t *testing.T) {
	e := attachThroughProxy(t, "")
	for round, forward := range []bool{true, false, true} {
		// The link drops right after add-user went out (forward) or while
		// it was on its way (the server never got it).
		e.proxy.setOnAdd(func(p *stanzaProxy, seg []byte, up net.Conn) {
			p.setOnAdd(nil)
			if forward {
				// The server gets the request and a clean close after it
				// (a reset could discard what it has not read yet); the
				// component's side is reset at once, before any answer.
				up.Write(seg)
				up.(*net.TCPConn).CloseWrite()
			}
			p.cut()
		})
		token := e.invite(t, url.Values{})
		user := fmt.Sprintf("cut%d", round)
		code, page := e.register(t, token, user, "a fine password")
		t.Logf("round %d (add-user reached the server: %v): the registration answered %d", round, forward, code)
		switch {
		case forward && code == http.StatusOK && strings.Contains(page, user+"@"):
			// The component reconnected and the server said the account exists.
		case !forward && code == http.StatusServiceUnavailable && strings.Contains(page, "still valid"):
			// The server said no account: nothing was used up.
			if n, _ := e.uses(t, token); n != 0 {
				t.Fatalf("round %d: %d uses after nothing was created, want 0", round, n)
			}
			e.retryRegister(t, token, user, "a fine password")
		case code == http.StatusAccepted:
			// Even the existence question failed: the resolver settles it.
			e.awaitSettled(t, token, map[bool]int{true: 1, false: 0}[forward], 30*time.Second)
			if !forward {
				e.retryRegister(t, token, user, "a fine password")
			}
		default:
			t.Fatalf("round %d (forwarded %v): register answered %d:\n%s", round, forward, code, pageTextOf(page))
		}
		e.exactlyOnce(t, token, user, "a fine password")
		e.waitComponent(t, "up", 30*time.Second)
	}
}

func TestFaultDiskFullAtConfirm(t *testing.T) {
	dir := smallTmpfs(t, "4m")
	e := attachThroughProxy(t, dir)
	filler := filepath.Join(dir, "filler")
	token := e.invite(t, url.Values{})
	// After a failed write the store closes its idle connections; were
	// they all closed, the last would checkpoint the database and delete
	// its write-ahead log, giving the space back before the confirm. A
	// read transaction held here keeps the log, and the disk full.
	release := holdWAL(t, filepath.Join(dir, "invites.db"))
	defer release()
	e.proxy.setOnAdd(func(p *stanzaProxy, seg []byte, up net.Conn) {
		fillDisk(t, filler)
		// Other writes meet the full disk first, as a lease renewal or a
		// readiness probe may: they are refused cleanly. SQLite may still
		// write into space its log already holds (a log restarted after a
		// checkpoint is overwritten from its start): such writes succeed
		// until that space is used up too.
		refused := false
		for i := 0; i < 500 && !refused; i++ {
			req, _ := http.NewRequest("POST", "http://"+e.addr+"/invites_api", nil)
			req.Header.Set("Authorization", "Bearer "+e.cred)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("create an invite on the full disk: %v", err)
				break
			}
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusServiceUnavailable:
				refused = true
			case http.StatusCreated:
			default:
				t.Errorf("create an invite on the full disk: %d, want 503 (or 201 while the log has room)", resp.StatusCode)
			}
		}
		if !refused {
			t.Error("the full disk never refused a write")
		}
		up.Write(seg)
	})
	code, page := e.register(t, token, "fulldisk", "a fine password")
	// The account was created: that is the truth the page tells, although
	// the use could not be recorded yet.
	if code != http.StatusOK {
		t.Fatalf("register with a full disk at confirm: %d:\n%s", code, pageTextOf(page))
	}
	if !strings.Contains(e.stderr.String(), "its use of the invite is not recorded yet") {
		t.Errorf("the unrecorded use was not logged:\n%s", e.stderr)
	}
	e.proxy.setOnAdd(nil)
	// While the disk is full the use stays reserved: nobody else gets it.
	if code, _ := e.register(t, token, "someoneelse", "a fine password"); code != http.StatusConflict {
		t.Errorf("register someone else while the use is unrecorded: %d, want 409", code)
	}
	release()
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	e.awaitSettled(t, token, 1, 20*time.Second)
	e.exactlyOnce(t, token, "fulldisk", "a fine password")
	if e.canLogin(t, "someoneelse", "a fine password") {
		t.Error("a second account was created")
	}
}

func TestFaultKilledDuringRegistrations(t *testing.T) {
	e := attachThroughProxy(t, "")
	// Four registrations get as far as add-user, which the proxy holds back;
	// then xmpp-invites is killed. The server gets two of the four requests.
	const n = 4
	var mu sync.Mutex
	var held [][]byte
	var heldUp net.Conn
	e.proxy.setOnAdd(func(p *stanzaProxy, seg []byte, up net.Conn) {
		mu.Lock()
		held, heldUp = append(held, append([]byte(nil), seg...)), up
		mu.Unlock()
	})
	e.proxy.mu.Lock()
	e.proxy.linger = true
	e.proxy.mu.Unlock()
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = e.invite(t, url.Values{})
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The answer never comes: the process is killed first.
			e.tryRegister(tokens[i], fmt.Sprintf("killed%d", i), "a fine password")
		}()
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		k := len(held)
		mu.Unlock()
		if k == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d add-user requests reached the proxy; log:\n%s", k, n, e.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := e.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-e.exited
	mu.Lock()
	for _, seg := range held[:2] {
		heldUp.Write(seg)
	}
	mu.Unlock()
	wg.Wait()
	time.Sleep(300 * time.Millisecond) // the server creates the two accounts
	e.proxy.setOnAdd(nil)
	e.proxy.cut()

	// A new process on the same database: it serves at once and resolves
	// the four reservations once their leases run out.
	e.start()
	e.waitComponent(t, "up", 30*time.Second)
	for i, token := range tokens {
		user := fmt.Sprintf("killed%d", i)
		want := 0
		if e.canLogin(t, user, "a fine password") {
			want = 1
		}
		e.awaitSettled(t, token, want, 30*time.Second)
		if want == 0 {
			if code, page := e.register(t, token, user, "a fine password"); code != http.StatusOK {
				t.Fatalf("%s: register after the use was released: %d:\n%s", user, code, pageTextOf(page))
			}
		}
		e.exactlyOnce(t, token, user, "a fine password")
	}
	if !strings.Contains(e.stderr.String(), "resolving a reservation whose owner stopped") {
		t.Errorf("the new process did not claim the stopped one's reservations:\n%s", e.stderr)
	}
}

// smallTmpfs mounts a tmpfs of size for the test (root only; under CI the
// test must run, so a non-root CI run fails).
func smallTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test mounts a tmpfs and must run as root under CI")
		}
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// holdWAL opens a read transaction on the SQLite database at path, which
// keeps its write-ahead log from being checkpointed away, and returns a
// function that ends it (once; later calls do nothing).
func holdWAL(t *testing.T, path string) func() {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRow("SELECT count(*) FROM invites").Scan(&n); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			tx.Rollback()
			db.Close()
		})
	}
}

// fillDisk writes path until the file system is full.
func fillDisk(t *testing.T, path string) {
	f, err := os.Create(path)
	if err != nil {
		t.Errorf("fill disk: %v", err)
		return
	}
	defer f.Close()
	block := make([]byte, 64<<10)
	for {
		if _, err := f.Write(block); err != nil {
			break
		}
	}
	// The last partial block too, byte by byte at the end.
	one := []byte{0}
	for {
		if _, err := f.Write(one); err != nil {
			return
		}
	}
}

// pageTextOf shortens a page for a failure message.
func pageTextOf(page string) string {
	if len(page) > 3000 {
		return page[:3000] + "…"
	}
	return page
}
