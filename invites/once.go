package invites

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"xmpp-invites/keystore"
)

// Defaults of the redemption timing (RedeemTiming). A registration answers
// within CheckTimeout + AccountTimeout + CheckTimeout plus the store's
// writes: 20 s, well inside the HTTP write timeout.
const (
	DefaultAccountTimeout = 10 * time.Second
	DefaultCheckTimeout   = 5 * time.Second
	DefaultLease          = time.Minute
	DefaultResolveEvery   = 10 * time.Second
)

// RedeemTiming bounds the steps of a redemption and sets the pace at which
// reservations with an unknown outcome are resolved. Zero fields take the
// defaults above.
type RedeemTiming struct {
	// AccountTimeout bounds add-user or change-user-password.
	AccountTimeout time.Duration
	// CheckTimeout bounds one question to the server whether an account
	// exists (before reserving, and once more after an unknown outcome).
	CheckTimeout time.Duration
	// Lease is how long a reservation stays its owner's alone; the owner
	// renews it every ResolveEvery while it works on it.
	Lease time.Duration
	// ResolveEvery is the pace of the resolver: lease renewals, claims of
	// reservations whose lease ran out, and questions to the server.
	ResolveEvery time.Duration
}

func (t RedeemTiming) withDefaults() RedeemTiming {
	if t.AccountTimeout <= 0 {
		t.AccountTimeout = DefaultAccountTimeout
	}
	if t.CheckTimeout <= 0 {
		t.CheckTimeout = DefaultCheckTimeout
	}
	if t.Lease <= 0 {
		t.Lease = DefaultLease
	}
	if t.ResolveEvery <= 0 {
		t.ResolveEvery = DefaultResolveEvery
	}
	return t
}

// Budget is the longest a redemption takes before it answers, storage
// writes aside.
func (t RedeemTiming) Budget() time.Duration {
	t = t.withDefaults()
	return 2*t.CheckTimeout + t.AccountTimeout
}

// ErrNoAccount: a reset invite names an account the server does not have.
var ErrNoAccount = errors.New("the account does not exist")

// ErrOutcomeUnknown: the server may or may not have carried out the
// request. The use stays reserved until the server says which; errors.As
// with *UnknownError tells how long that may take.
var ErrOutcomeUnknown = errors.New("the outcome is not known yet")

// UnknownError is a redemption whose outcome is not known yet.
type UnknownError struct {
	// Reset: a password change, which is consumed whatever its outcome
	// (the server cannot be asked whether a password changed).
	Reset bool
	// Wait is how long until the outcome should be known.
	Wait time.Duration
}

func (e *UnknownError) Error() string {
	if e.Reset {
		return "the password change may or may not have been carried out; the invite is used up"
	}
	return fmt.Sprintf("the account may or may not have been created; the server will be asked again (within %s)", e.Wait.Round(time.Second))
}

// Is makes an *UnknownError an ErrOutcomeUnknown.
func (e *UnknownError) Is(target error) bool { return target == ErrOutcomeUnknown }

// HeldError is an invite whose remaining uses are all reserved by
// redemptions in progress or awaiting their outcome.
type HeldError struct {
	// Wait is how long until those redemptions should be resolved.
	Wait time.Duration
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("%v (for up to %s)", keystore.ErrInUse, e.Wait.Round(time.Second))
}

// Unwrap makes a *HeldError a keystore.ErrInUse.
func (e *HeldError) Unwrap() error { return keystore.ErrInUse }

// LinkWaiter is what an Accounts may also do: wait until it can reach the
// server again (the component after a reconnect).
type LinkWaiter interface {
	WaitUp(ctx context.Context) error
}

// once keeps the reservations this instance owns: those a redemption is
// working on (inflight) and those handed to the resolver.
type once struct {
	owner string
	t     RedeemTiming

	mu       sync.Mutex
	inflight map[int64]bool
	handed   map[int64]*handoff
	kick     chan struct{}
}

// outcome is what is known of a handed-over reservation.
type outcome int

const (
	unknown outcome = iota // ask the server
	created                // the server did it: confirm
	refused                // the server refused: release
)

type handoff struct {
	res     keystore.Reservation
	outcome outcome
}

func newOnce(t RedeemTiming) *once {
	return &once{owner: instanceName(), t: t.withDefaults(),
		inflight: map[int64]bool{}, handed: map[int64]*handoff{}, kick: make(chan struct{}, 1)}
}

// instanceName names this process among the instances sharing a database:
// host, PID and a random part (a restarted process is another instance).
func instanceName() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

func (o *once) begin(id int64) {
	o.mu.Lock()
	o.inflight[id] = true
	o.mu.Unlock()
}

func (o *once) end(id int64) {
	o.mu.Lock()
	delete(o.inflight, id)
	o.mu.Unlock()
}

// handOff gives a reservation to the resolver, which writes the known
// outcome or finds out the unknown one.
func (o *once) handOff(res keystore.Reservation, oc outcome) {
	o.mu.Lock()
	delete(o.inflight, res.ID)
	if h, ok := o.handed[res.ID]; !ok || oc != unknown {
		o.handed[res.ID] = &handoff{res: res, outcome: oc}
	} else {
		h.res = res
	}
	o.mu.Unlock()
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// unknownWait is how long an unknown outcome takes to resolve at most, as
// told to the person: the lease may have to run out, then the resolver's
// next round asks the server.
func (o *once) unknownWait() time.Duration {
	return o.t.Lease + o.t.ResolveEvery + o.t.CheckTimeout
}

// Instance names this instance as the owner of its reservations.
func (s *Service) Instance() string { return s.once.owner }

// Redeem uses one use of the invite with this token, exactly once even
// under faults: it checks that the name is free (for a reset: that the
// account exists), reserves a use for the account, creates the account (or
// changes the password) through acc, and confirms the use. A clear refusal
// releases the use. When the outcome is unknown (a timeout, a lost link) the
// server is asked whether the account exists, and the use confirmed or
// released accordingly; if even that cannot be known now, the reservation
// goes to the resolver (RunResolver) and the error is an *UnknownError. A
// reset whose outcome is unknown is consumed.
//
// Errors: keystore.ErrNotFound/ErrExpired/ErrUsedUp/ErrRevoked,
// *HeldError (keystore.ErrInUse), *UnknownError (ErrOutcomeUnknown),
// *ValidationError, ErrNoRegistration, ErrUsernameTaken, ErrNoAccount,
// ErrLinkDown, or another error from acc.
func (s *Service) Redeem(ctx context.Context, token string, reg Registration, acc Accounts) (Redemption, error) {
	inv, err := s.store.InviteByToken(ctx, token)
	if err != nil {
		return Redemption{}, err
	}
	if err := inv.Err(s.now()); err != nil {
		return Redemption{}, err
	}
	username, err := s.Check(inv, reg)
	if err != nil {
		return Redemption{}, err
	}
	jid := username + "@" + s.cfg.Domain
	reset := inv.Type == keystore.TypeReset
	t := s.once.t

	// An earlier attempt for this very account may still await its outcome.
	held, err := s.store.HeldUses(ctx, token, jid)
	if err != nil {
		return Redemption{}, err
	}
	if held.Pending != nil {
		return Redemption{}, &UnknownError{Wait: s.heldWait(held)}
	}
	if held.Count > 0 && inv.Uses+held.Count >= inv.MaxUses {
		return Redemption{}, &HeldError{Wait: s.heldWait(held)}
	}

	// Is the name free (is the account there, for a reset)? Asked before
	// anything is reserved, so that after an unknown outcome "the account
	// exists" can only mean that this redemption created it.
	cctx, cancel := context.WithTimeout(ctx, t.CheckTimeout)
	exists, err := acc.AccountExists(cctx, username)
	cancel()
	switch {
	case err != nil && isUnknown(err):
		return Redemption{}, fmt.Errorf("check account: %w", ErrLinkDown)
	case err != nil:
		return Redemption{}, fmt.Errorf("check account: %w", err)
	case reset && !exists:
		return Redemption{}, fmt.Errorf("reset %s: %w", jid, ErrNoAccount)
	case !reset && exists:
		return Redemption{}, fmt.Errorf("create %s: %w", jid, ErrUsernameTaken)
	}

	res, err := s.store.ReserveUse(ctx, token, keystore.Hold{JID: jid, Owner: s.once.owner, Lease: t.Lease})
	switch {
	case errors.Is(err, keystore.ErrAccountHeld):
		return Redemption{}, fmt.Errorf("create %s: %w", jid, ErrUsernameTaken)
	case errors.Is(err, keystore.ErrInUse):
		if h, herr := s.store.HeldUses(ctx, token, ""); herr == nil {
			return Redemption{}, &HeldError{Wait: s.heldWait(h)}
		}
		return Redemption{}, &HeldError{Wait: s.once.unknownWait()}
	case err != nil:
		return Redemption{}, err
	}
	s.once.begin(res.ID)
	defer s.once.end(res.ID)
	red := Redemption{Invite: res.Invite, Username: username, JID: jid}

	actx, cancel := context.WithTimeout(ctx, t.AccountTimeout)
	if reset {
		err = acc.ChangePassword(actx, username, reg.Password)
	} else {
		err = acc.CreateAccount(actx, username, reg.Password)
	}
	cancel()
	// The bookkeeping below must finish even if the request went away.
	bctx := context.WithoutCancel(ctx)
	if err != nil && !isUnknown(err) {
		// A clear refusal: nothing was created.
		if rerr := s.store.ReleaseUse(bctx, res); rerr != nil {
			s.once.handOff(res, refused)
		}
		return Redemption{}, err
	}
	if err != nil {
		if reset {
			// Whether the password changed cannot be asked: consume.
			if cerr := s.store.ConfirmUse(bctx, res); cerr != nil {
				s.once.handOff(res, created)
			}
			return Redemption{}, &UnknownError{Reset: true}
		}
		// Ask once more now, after the link is back if it dropped.
		qctx, cancel := context.WithTimeout(bctx, t.CheckTimeout)
		if w, ok := acc.(LinkWaiter); ok {
			_ = w.WaitUp(qctx)
		}
		exists, cerr := acc.AccountExists(qctx, username)
		cancel()
		switch {
		case cerr != nil:
			s.once.handOff(res, unknown)
			return Redemption{}, &UnknownError{Wait: s.once.unknownWait()}
		case !exists:
			if rerr := s.store.ReleaseUse(bctx, res); rerr != nil {
				s.once.handOff(res, refused)
			}
			return Redemption{}, fmt.Errorf("create account: %w (nothing was created)", ErrLinkDown)
		}
	}
	if err := s.store.ConfirmUse(bctx, res); err != nil {
		// The account exists; the use is recorded when the store takes
		// writes again. The reservation keeps it taken meanwhile.
		s.once.handOff(res, created)
		red.Unrecorded = err
	} else {
		red.Invite.Uses++
	}
	s.followUp(bctx, &red, acc)
	return red, nil
}

// isUnknown tells an error after which the server may have carried the
// request out (a timeout, a link lost while waiting) from a refusal.
func isUnknown(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// heldWait is how long the reservations of h may take to resolve.
func (s *Service) heldWait(h keystore.Held) time.Duration {
	w := h.Until.Sub(s.now()) + s.once.t.ResolveEvery + s.once.t.CheckTimeout
	return max(w, s.once.t.ResolveEvery)
}

// Held reports whether every remaining use of the invite with this token is
// reserved by redemptions in progress or awaiting their outcome, and how
// long until they should be resolved.
func (s *Service) Held(ctx context.Context, token string) (bool, time.Duration, error) {
	inv, err := s.store.InviteByToken(ctx, token)
	if err != nil {
		return false, 0, err
	}
	h, err := s.store.HeldUses(ctx, token, "")
	if err != nil || h.Count == 0 || inv.Uses+h.Count < inv.MaxUses {
		return false, 0, err
	}
	return true, s.heldWait(h), nil
}

// RunResolver resolves reservations until ctx ends: every ResolveEvery it
// renews the leases of the reservations this instance owns, claims those
// whose lease ran out (their owner stopped), and asks the server about each
// whose outcome is unknown, confirming the use when the account exists and
// releasing it when not. A reset with an unknown outcome is confirmed. It
// never blocks start-up: run it in a goroutine.
func (s *Service) RunResolver(ctx context.Context, acc Accounts, log *slog.Logger) {
	o := s.once
	t := time.NewTicker(o.t.ResolveEvery)
	defer t.Stop()
	for {
		s.resolveRound(ctx, acc, log)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-o.kick:
			// A fresh handoff: the outcome may be known already; the
			// server gets a moment before it is asked again.
			select {
			case <-ctx.Done():
				return
			case <-time.After(min(o.t.ResolveEvery, time.Second)):
			}
		}
	}
}

// resolveRound is one round of RunResolver.
func (s *Service) resolveRound(ctx context.Context, acc Accounts, log *slog.Logger) {
	o := s.once
	now := s.now()
	o.mu.Lock()
	ids := make([]int64, 0, len(o.inflight)+len(o.handed))
	for id := range o.inflight {
		ids = append(ids, id)
	}
	for id := range o.handed {
		ids = append(ids, id)
	}
	o.mu.Unlock()
	if err := s.store.RenewLeases(ctx, o.owner, ids, now.Add(o.t.Lease)); err != nil && ctx.Err() == nil {
		log.Warn("renewing reservation leases failed", "err", err)
	}
	claimed, err := s.store.ClaimExpired(ctx, o.owner, o.t.Lease, 100)
	if err != nil && ctx.Err() == nil {
		log.Warn("claiming reservations failed", "err", err)
	}
	for _, r := range claimed {
		log.Info("resolving a reservation whose owner stopped", "invite", r.Invite.ID, "jid", r.JID, "previous_owner_lease_ran_out", true)
		o.handOff(r, unknown)
	}
	o.mu.Lock()
	work := make([]handoff, 0, len(o.handed))
	for _, h := range o.handed {
		work = append(work, *h)
	}
	o.mu.Unlock()
	for _, h := range work {
		if ctx.Err() != nil {
			return
		}
		done, err := s.resolve(ctx, h, acc, log)
		if err != nil {
			log.Warn("a reservation stays open: its outcome could not be settled yet", "invite", h.res.Invite.ID, "jid", h.res.JID, "err", err)
		}
		if done {
			o.mu.Lock()
			if cur, ok := o.handed[h.res.ID]; ok && cur.outcome == h.outcome {
				delete(o.handed, h.res.ID)
			}
			o.mu.Unlock()
		}
	}
}

// resolve settles one reservation; done reports that it no longer needs
// the resolver.
func (s *Service) resolve(ctx context.Context, h handoff, acc Accounts, log *slog.Logger) (done bool, err error) {
	oc := h.outcome
	if oc == unknown {
		if h.res.Invite.Type == keystore.TypeReset {
			oc = created
		} else {
			local, _, _ := strings.Cut(h.res.JID, "@")
			cctx, cancel := context.WithTimeout(ctx, s.once.t.CheckTimeout)
			exists, err := acc.AccountExists(cctx, local)
			cancel()
			if err != nil {
				return false, fmt.Errorf("ask whether %s exists: %w", h.res.JID, err)
			}
			oc = refused
			if exists {
				oc = created
			}
		}
	}
	switch oc {
	case created:
		err = s.store.ConfirmUse(ctx, h.res)
		if err == nil {
			log.Info("reservation resolved: the account exists, the use is confirmed", "invite", h.res.Invite.ID, "jid", h.res.JID)
			if h.outcome == unknown && h.res.Invite.Type != keystore.TypeReset {
				red := Redemption{Invite: h.res.Invite, JID: h.res.JID}
				red.Username, _, _ = strings.Cut(h.res.JID, "@")
				s.followUp(ctx, &red, acc)
			}
		}
	default:
		err = s.store.ReleaseUse(ctx, h.res)
		if err == nil {
			log.Info("reservation resolved: no account was created, the use is released", "invite", h.res.Invite.ID, "jid", h.res.JID)
		}
	}
	if errors.Is(err, keystore.ErrNotFound) {
		return true, nil // resolved already (by another instance)
	}
	if err != nil {
		return false, err
	}
	return true, nil
}
