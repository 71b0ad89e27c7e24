package component

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"mellium.im/xmpp"
	"mellium.im/xmpp/component"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
	"mellium.im/xmpp/stream"

	"xmpp-invites/invites"
)

// link is one authenticated stream to the server. Everything that belongs
// to a connection lives here, so a reconnect starts from a clean slate.
type link struct {
	s      *xmpp.Session
	conn   net.Conn
	ctx    context.Context // ends when the stream ends
	cancel context.CancelFunc
	since  time.Time
	wg     sync.WaitGroup // goroutines working for this link

	mu   sync.Mutex
	doms map[string]*linkDomain // what each served domain's server told, by domain
}

// linkDomain is what the server of one served domain told this link.
type linkDomain struct {
	privOnce sync.Once
	privSeen chan struct{} // closed at the domain's first XEP-0356 advertisement
	privNS   string
	privs    map[string]string
	cmds     map[string]bool // the domain's commands for the component; nil until known
}

// newLinkDomains makes the per-domain records of a new link.
func (h *hub) newLinkDomains() map[string]*linkDomain {
	doms := make(map[string]*linkDomain, len(h.views))
	for _, v := range h.views {
		doms[v.domain.String()] = &linkDomain{privSeen: make(chan struct{})}
	}
	return doms
}

// dom returns the record of domain, or nil when the link does not serve it.
func (l *link) dom(domain string) *linkDomain { return l.doms[domain] }

// setCommands records domain's command list.
func (l *link) setCommands(domain string, nodes []string) {
	m := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		m[n] = true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if d := l.dom(domain); d != nil {
		d.cmds = m
	}
}

// commands returns domain's command list, nil when not yet known.
func (l *link) commands(domain string) map[string]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d := l.dom(domain); d != nil {
		return d.cmds
	}
	return nil
}

// setPrivileges records domain's XEP-0356 advertisement.
func (l *link) setPrivileges(domain, ns string, perms map[string]string) {
	l.mu.Lock()
	d := l.dom(domain)
	if d != nil {
		d.privNS, d.privs = ns, perms
	}
	l.mu.Unlock()
	if d != nil {
		d.privOnce.Do(func() { close(d.privSeen) })
	}
}

// privSeen is closed at domain's first XEP-0356 advertisement (never for
// a domain the link does not serve).
func (l *link) privSeen(domain string) <-chan struct{} {
	if d := l.dom(domain); d != nil {
		return d.privSeen
	}
	return nil
}

// privileges returns a copy of what domain's server granted.
func (l *link) privileges(domain string) (map[string]string, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.dom(domain)
	if d == nil {
		return map[string]string{}, ""
	}
	out := make(map[string]string, len(d.privs))
	for k, v := range d.privs {
		out[k] = v
	}
	return out, d.privNS
}

// Run keeps the link to the server up until ctx ends: dial, handshake,
// serve, and after a loss wait (100 ms doubling to 2 s, ±20 % jitter; back
// to 100 ms only after 30 s of a healthy link) and start over. When ctx
// ends it closes the stream with </stream:stream> and returns nil. The only
// error it returns wraps ErrNotAuthorized: the server rejected the secret,
// which no retry can fix.
func (c *Component) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("component: Run called twice")
	}
	defer c.running.Store(false)
	b := backoff{jitter: c.jitter}
	failures := 0 // consecutive failed connects and short-lived links
	for {
		if ctx.Err() != nil {
			return nil
		}
		l, err := c.connect(ctx)
		if err != nil {
			if errors.Is(err, ErrNotAuthorized) {
				return err
			}
			if ctx.Err() != nil {
				return nil
			}
			failures++
			d := b.delay()
			// Log the first failure and then one in 30 (about a minute at
			// the cap), so an unreachable server does not flood the log.
			level := c.hub.log.Debug
			if failures == 1 || failures%30 == 0 {
				level = c.hub.log.Warn
			}
			level("cannot connect to the XMPP server; retrying", "server", c.cfg.Server,
				"err", err, "failures", failures, "retry_in", d.Round(time.Millisecond))
			if !c.sleep(ctx, d) {
				return nil
			}
			continue
		}
		err = c.serve(ctx, l)
		if ctx.Err() != nil {
			return nil
		}
		if c.now().Sub(l.since) >= c.healthyAfter {
			b.reset()
			failures = 0
		} else {
			failures++
		}
		d := b.delay()
		level := c.hub.log.Debug
		if failures <= 1 || failures%30 == 0 {
			level = c.hub.log.Warn
		}
		msg := "lost the link to the XMPP server; reconnecting"
		if errors.Is(err, stream.Conflict) {
			msg = "the XMPP server replaced this link with another connection for " + c.jid.String() +
				" (is a second xmpp-invites running with the same component JID?); reconnecting"
		}
		level(msg, "server", c.cfg.Server, "err", err, "retry_in", d.Round(time.Millisecond))
		if !c.sleep(ctx, d) {
			return nil
		}
	}
}

// connect dials the server and performs the XEP-0114 handshake.
func (c *Component) connect(ctx context.Context) (*link, error) {
	hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	conn, err := c.dial(hctx, "tcp", c.cfg.Server)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", c.cfg.Server, err)
	}
	// mellium only sees a connection without deadlines (see
	// deadlineFreeConn), which it reads through a streamFilter; the
	// handshake's time limit is set here, on the raw connection, and
	// lifted once the link stands.
	if d, ok := hctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	s, err := component.NewSession(hctx, c.jid, []byte(c.cfg.Secret), deadlineFreeConn{newFilteredConn(conn)})
	if err == nil {
		err = conn.SetDeadline(time.Time{})
	}
	if err != nil {
		_ = conn.Close()
		if errors.Is(err, stream.NotAuthorized) {
			return nil, fmt.Errorf("handshake with %s as %s: %w", c.cfg.Server, c.jid, ErrNotAuthorized)
		}
		return nil, fmt.Errorf("handshake with %s: %w", c.cfg.Server, err)
	}
	lctx, lcancel := context.WithCancel(context.Background())
	return &link{
		s: s, conn: conn, ctx: lctx, cancel: lcancel, since: c.now(),
		doms: c.newLinkDomains(),
	}, nil
}

// serve runs one link until it ends and cleans up after it: when serve
// returns, no goroutine of the link is left.
func (c *Component) serve(ctx context.Context, l *link) error {
	c.setUp(l)
	l.wg.Add(3)
	go func() {
		defer l.wg.Done()
		select {
		case <-ctx.Done():
			c.closeLink(l)
		case <-l.ctx.Done():
		}
	}()
	go func() {
		defer l.wg.Done()
		c.pinger(l)
	}()
	go func() {
		defer l.wg.Done()
		// Each served domain: its rights, found at once.
		var all sync.WaitGroup
		for _, v := range c.views {
			all.Add(1)
			go func() {
				defer all.Done()
				v.announce(l)
			}()
		}
		all.Wait()
	}()
	err := l.s.Serve(&handler{c: c, l: l})
	c.setDown()
	l.cancel()
	_ = l.conn.Close()
	l.wg.Wait()
	return linkEnd(err)
}

// errServerClosed is how a link ends when the server closes it: a clean
// shutdown (a closing tag or a stream error, then the connection closes, so
// the last read meets the end of the input or the last write a closed
// socket) or a crash. Not an XML syntax error, which is what the decoder
// calls the end of input inside the stream.
var errServerClosed = errors.New("the server closed the connection")

// linkEnd describes why Serve returned.
func linkEnd(err error) error {
	var xe *xml.SyntaxError
	switch {
	case err == nil:
		return errServerClosed
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNRESET),
		errors.As(err, &xe) && xe.Msg == "unexpected EOF":
		return errServerClosed
	}
	return err
}

// closeLink ends the stream politely: </stream:stream>, then a bounded wait
// for the server's own closing tag, which makes Serve return.
func (c *Component) closeLink(l *link) {
	_ = l.conn.SetWriteDeadline(time.Now().Add(c.closeWait))
	_ = l.s.Close()
	_ = l.conn.SetReadDeadline(time.Now().Add(c.closeWait))
}

// pinger sends an XEP-0199 ping to the server every PingInterval and drops
// the link when one goes unanswered, so a dead TCP connection is found and
// replaced.
func (c *Component) pinger(l *link) {
	t := time.NewTicker(c.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(l.ctx, c.pingTimeout)
		_, err := c.request(ctx, l, stanza.GetIQ, c.domain, el(name(nsPing, "ping"), nil))
		cancel()
		var se stanza.Error
		var bad *badStanzaError
		if err == nil || l.ctx.Err() != nil || errors.As(err, &se) || errors.As(err, &bad) {
			// An error reply, or one the component refused to read, proves
			// the link works as well as a result.
			continue
		}
		c.hub.log.Warn("the XMPP server did not answer a ping; reconnecting", "err", err)
		_ = l.conn.Close()
		return
	}
}

// Report is what the server lets the component do, as found on connect.
type Report struct {
	// CanCreateAccounts: the server lists XEP-0133 add-user to the component.
	CanCreateAccounts bool
	// CanChangePasswords: the server lists change-user-password.
	CanChangePasswords bool
	// Privileges are the XEP-0356 permissions granted, access → type (e.g.
	// "roster" → "both", "message" → "outgoing"); IQ permissions of
	// privilege:2 appear as "iq:NAMESPACE" → type.
	Privileges map[string]string
	// PrivilegeNS is the namespace of the advertisement
	// (urn:xmpp:privilege:1 or :2); empty when none came.
	PrivilegeNS string
	// ServerCommands are the ad-hoc command nodes the server lists to the
	// component.
	ServerCommands []string
}

// XEP-0133 command nodes.
const (
	nodeAddUser        = nsAdmin + "#add-user"
	nodeChangePassword = nsAdmin + "#change-user-password"
	nodeDeleteUser     = nsAdmin + "#delete-user"
	nodeLastLogin      = nsAdmin + "#get-user-lastlogin"
	nodeUserStats      = nsAdmin + "#user-stats"
)

// report asks the server for its command list and collects the privilege
// advertisement.
func (c *Component) report(ctx context.Context, l *link) (Report, error) {
	var rep Report
	cmds, err := c.listCommands(ctx, l)
	if err == nil {
		l.setCommands(c.domain.String(), cmds)
		rep.ServerCommands = cmds
		for _, n := range cmds {
			switch n {
			case nodeAddUser:
				rep.CanCreateAccounts = true
			case nodeChangePassword:
				rep.CanChangePasswords = true
			}
		}
	}
	select {
	case <-l.privSeen(c.domain.String()):
	case <-time.After(privilegeWait):
	case <-ctx.Done():
	}
	rep.Privileges, rep.PrivilegeNS = l.privileges(c.domain.String())
	if err != nil {
		return rep, fmt.Errorf("list the server's commands: %w", err)
	}
	return rep, nil
}

// listCommands asks the server which ad-hoc commands it offers the
// component (XEP-0050 disco#items on the commands node).
func (c *Component) listCommands(ctx context.Context, l *link) ([]string, error) {
	reply, err := c.request(ctx, l, stanza.GetIQ, c.domain,
		el(name(nsDiscoItems, "query"), []xml.Attr{attr("node", nsCommands)}))
	if err != nil {
		return nil, err
	}
	nodes := []string{}
	for _, it := range reply.payload().children("", "item") {
		if n := it.attr("node"); n != "" {
			nodes = append(nodes, n)
		}
	}
	sort.Strings(nodes)
	return nodes, nil
}

// announce logs one line per connect that tells the operator what the
// server lets the component do.
func (c *Component) announce(l *link) {
	ctx, cancel := context.WithTimeout(l.ctx, c.pingTimeout)
	defer cancel()
	rep, err := c.report(ctx, l)
	if l.ctx.Err() != nil {
		return
	}
	if err == nil {
		c.rights.Store(&rep)
	}
	args := []any{"server", c.cfg.Server, "jid", c.jid.String()}
	if len(c.views) == 1 { // else the view's log names its domain
		args = append(args, "domain", c.domain.String())
	}
	args = append(args, "create_accounts", rep.CanCreateAccounts, "change_passwords", rep.CanChangePasswords,
		"privileges", formatPrivileges(rep.Privileges))
	if rep.PrivilegeNS != "" {
		args = append(args, "privilege_ns", rep.PrivilegeNS)
	}
	switch {
	case err != nil:
		c.log.Warn("component link up, but the server's commands could not be listed", append(args, "err", err)...)
	case !rep.CanCreateAccounts:
		c.log.Warn(fmt.Sprintf("component link up, but the server does not let %s create accounts: make it an admin of %s", c.jid, c.domain), args...)
	default:
		c.log.Info("component link up", args...)
	}
}

// Rights returns what the server let the component do, as found on the
// last connect where the server's command list could be read; ok is false
// until then. It stays while the link is down: the server's configuration
// is what it was until a new connect finds otherwise.
func (c *Component) Rights() (rep Report, ok bool) {
	if p := c.rights.Load(); p != nil {
		return *p, true
	}
	return Report{}, false
}

// formatPrivileges prints privileges as "message=outgoing roster=both", or
// "none".
func formatPrivileges(p map[string]string) string {
	if len(p) == 0 {
		return "none"
	}
	parts := make([]string, 0, len(p))
	for k, v := range p {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// Check connects once (no retries), reports what the server lets the
// component do, and closes the stream. A rejected secret gives an error
// wrapping ErrNotAuthorized.
func Check(ctx context.Context, cfg Config, log *slog.Logger) (Report, error) {
	reps, err := CheckLink(ctx, cfg.link(), []string{cfg.Domain}, log)
	if len(reps) == 0 {
		return Report{}, err
	}
	return reps[0], err
}

// CheckLink connects once (no retries) as link, reports for each of
// domains (in their order) what its server lets the component do, and
// closes the stream. A rejected secret gives an error wrapping
// ErrNotAuthorized; reps is then nil. When a domain's command list cannot
// be read, reps still has every report and err names that domain.
func CheckLink(ctx context.Context, link Link, domains []string, log *slog.Logger) (reps []Report, err error) {
	ds := make([]Domain, len(domains))
	for i, d := range domains {
		ds[i] = Domain{Name: d}
	}
	c, err := newLink(link, ds, log, nil)
	if err != nil {
		return nil, err
	}
	l, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	served := make(chan error, 1)
	go func() { served <- l.s.Serve(&handler{c: c, l: l}) }()
	reps = make([]Report, len(c.views))
	errs := make([]error, len(c.views))
	var all sync.WaitGroup
	for i, v := range c.views {
		all.Add(1)
		go func() {
			defer all.Done()
			reps[i], errs[i] = v.report(ctx, l)
			if errs[i] != nil && len(c.views) > 1 {
				errs[i] = fmt.Errorf("%s: %w", v.domain, errs[i])
			}
		}()
	}
	all.Wait()
	c.closeLink(l)
	<-served
	l.cancel()
	_ = l.conn.Close()
	l.wg.Wait()
	return reps, errors.Join(errs...)
}

// errLinkLost is returned by requests whose link ended before the reply
// came. It wraps invites.ErrLinkDown and also context.Canceled, because
// the server may have carried the request out: callers that must know
// (invites.Redeem) treat it like a timeout and ask again later.
var errLinkLost = fmt.Errorf("%w: the link ended before the server answered (%w)", invites.ErrLinkDown, context.Canceled)

// request sends an IQ get or set from the component and returns the whole
// reply. An error reply is returned as a stanza.Error.
func (c *Component) request(ctx context.Context, l *link, typ stanza.IQType, to jid.JID, payload xml.TokenReader) (*element, error) {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(l.ctx, cancel)
	defer stop()
	// xml:lang='en': ejabberd translates command answers into the
	// requester's language, and AccountExists reads one ("Never").
	resp, err := l.s.SendIQ(rctx, stanza.IQ{Type: typ, To: to, From: c.jid, Lang: "en"}.Wrap(payload))
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case l.ctx.Err() != nil:
			return nil, errLinkLost
		}
		return nil, fmt.Errorf("%w: %v", invites.ErrLinkDown, err)
	}
	// The reply is read whole and closed at once: Serve waits for the
	// close before it reads the next stanza.
	defer resp.Close()
	// mellium hands the reply as its start element, content, end element.
	var e *element
	tok, err := resp.Token()
	start, ok := tok.(xml.StartElement)
	if err == nil && !ok {
		err = fmt.Errorf("reply starts with %T, not an element", tok)
	}
	if err == nil {
		e, err = readElement(start, resp)
	}
	var bad *badStanzaError
	if errors.As(err, &bad) {
		// Read to its end, so the link goes on. The request went out;
		// whether it was carried out is unknown.
		c.refusals.log(c.log, "iq reply", rawAttr(start.Attr, "from"), bad.reason)
		return nil, fmt.Errorf("%w (%w)", bad, errLinkLost)
	}
	if err != nil {
		return nil, fmt.Errorf("read reply (%v): %w", err, errLinkLost)
	}
	if e.attr("type") == "error" {
		return e, stanzaError(e)
	}
	return e, nil
}

// deadlineFreeConn hides the connection's deadlines from mellium. mellium
// v0.22 arms a goroutine per write that moves the write deadline into the
// past when the write's context ends. When that goroutine runs late (the
// write returned, then its caller cancelled the context), it breaks another
// goroutine's write on the same connection, and the buffered writer keeps
// the "i/o timeout" for every later stanza: the link goes silent until the
// pinger gives up. Seen at four concurrent ad-hoc sessions. Waits for
// replies stay bounded by their contexts (that is a select, not a
// deadline); a connection that stops draining is found by the pinger, and
// closeLink sets deadlines on the raw connection.
type deadlineFreeConn struct{ net.Conn }

func (deadlineFreeConn) SetDeadline(time.Time) error      { return nil }
func (deadlineFreeConn) SetReadDeadline(time.Time) error  { return nil }
func (deadlineFreeConn) SetWriteDeadline(time.Time) error { return nil }
