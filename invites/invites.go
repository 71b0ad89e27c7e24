// Package invites holds the rules of invites shared by the HTTP API and the
// XMPP component: which requests are valid, what an invite's URI and landing
// URL are, and how a redemption creates an account exactly once.
package invites

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"xmpp-invites/keystore"
)

// Config holds the invite rules, from the [invites] section and the top of
// the config file.
type Config struct {
	Domain            string
	PublicURL         string // without trailing slash; a path prefix is kept
	SiteName          string
	DefaultTTL        time.Duration
	MaxTTL            time.Duration
	ResetTTL          time.Duration
	Retention         time.Duration
	AllowUserInvites  bool
	UserInvitesPerDay int
	// AllowNeverExpiring lets admins and manage keys create invites that
	// do not expire (allow_never_expiring); see Request.Never.
	AllowNeverExpiring bool
	PasswordMinLength  int
	// Admins are the bare JIDs in the admins list: their accounts are
	// protected from reset invites made over HTTP or XMPP.
	Admins []string
	// Timing bounds redemptions and paces the resolver of unknown outcomes.
	Timing RedeemTiming
	// ReservedUsernames are reserved besides the built-in names
	// (reserved_usernames); see Reserved.
	ReservedUsernames []string
	// ComponentJID is the component's address; its first label is a
	// reserved username. Empty: none.
	ComponentJID string
	// MaxInviteTree (max_invite_tree) bounds the accounts of an invite
	// tree whose members may still create invites that register; 0: no
	// limit. MinAccountAge (min_account_age) is how old an account made
	// through an invite must be before it may; 0: no minimum. Admins are
	// exempt from both (docs/chains.md).
	MaxInviteTree int
	MinAccountAge time.Duration
	// RegistrationWatchers (registration_watchers) are the bare JIDs told
	// of every account made through an invite.
	RegistrationWatchers []string
	// MUCDomains are the group chat services an invite's rooms may be on
	// (muc_domains); empty: invites carry no rooms.
	MUCDomains []string
	// MaxCircleSize caps a circle's members (max_circle_size); 0: 100.
	MaxCircleSize int
}

// DefaultMaxCircleSize is max_circle_size's default.
const DefaultMaxCircleSize = 100

// Limits on request values.
const (
	MaxUses    = 1000
	MaxNoteLen = 500
)

// Service creates and redeems invites on a store.
type Service struct {
	store    *keystore.Store
	cfg      Config
	now      func() time.Time
	once     *once
	reserved map[string]struct{} // prepared usernames; see Reserved
}

// New returns a Service. now may be nil (time.Now).
func New(store *keystore.Store, cfg Config, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if cfg.SiteName == "" {
		cfg.SiteName = cfg.Domain
	}
	cfg.Timing = cfg.Timing.withDefaults()
	if cfg.MaxCircleSize <= 0 {
		cfg.MaxCircleSize = DefaultMaxCircleSize
	}
	return &Service{store: store, cfg: cfg, now: now, once: newOnce(cfg.Timing), reserved: reservedSet(cfg)}
}

// Config returns the rules the service runs with.
func (s *Service) Config() Config { return s.cfg }

// Store returns the underlying store.
func (s *Service) Store() *keystore.Store { return s.store }

// ValidationError is a request the rules refuse. Its message is safe to show
// to the requester.
type ValidationError struct {
	Field string
	Msg   string
	// Code names the rule for the pages, which say it in the visitor's
	// language; Value and Limit are what the sentence needs. Empty for
	// rules only the API and the CLI meet: those show Msg.
	Code  string
	Value string
	Limit int
}

// Codes of the rules a registration form can break.
const (
	CodeUserEmpty        = "user_empty"
	CodeUserLong         = "user_long"
	CodeUserChars        = "user_chars"
	CodeReserved         = "reserved"
	CodeReservedFixed    = "reserved_fixed"
	CodePasswordText     = "password_text"
	CodePasswordControl  = "password_control"
	CodePasswordShort    = "password_short"
	CodePasswordLong     = "password_long"
	CodePasswordUser     = "password_user"
	CodePasswordMismatch = "password_mismatch"
	// CodeNoAccount: a reset invite for an account the server does not
	// have; Value is its address.
	CodeNoAccount = "no_account"
)

// coded gives a validation error the code of its rule.
func coded(err error, code, value string, limit int) error {
	if ve := (*ValidationError)(nil); errors.As(err, &ve) {
		ve.Code, ve.Value, ve.Limit = code, value, limit
	}
	return err
}

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Request asks for a new invite.
type Request struct {
	Type     keystore.Type // empty: account
	Username string        // account: optional fixed username; reset: the account; contact: the inviter's localpart
	TTL      time.Duration // 0: the default for the type
	// Never asks for an invite that does not expire (its Expires is
	// keystore.Never). Refused unless allow_never_expiring is on, and
	// for reset invites; TTL must then be 0. Who may ask is the caller's
	// rule: admins (CreateFor) and manage keys.
	Never   bool
	Uses    int // 0: 1
	Note    string
	Creator string // key:ID, xmpp:JID or cli
	// AllowRegister lets a contact invite also register new accounts (;ibr=y).
	AllowRegister bool
	// Limit caps the creator's invites in a window (key quotas, users' daily limit).
	Limit keystore.Limit
	// AllowAdmin lets a reset invite name an admin's or a reserved account
	// (the CLI's --allow-admin); otherwise that is ErrProtected.
	AllowAdmin bool
	// Rooms are group chats (bare JIDs of MUC rooms on MUCDomains, at most
	// keystore.MaxRooms) the new account is invited to; Circle is an
	// existing circle it joins. Only admins and manage keys set them (see
	// CreateFor); reset invites take neither.
	Rooms  []string
	Circle string
	// Accounts, when set, is asked whether a reset invite's account exists,
	// so that an invite for a missing account is refused now rather than
	// at redemption. When it cannot say (link down), the invite is made.
	Accounts Accounts
}

// Created is a new invite with what may be shown only now.
type Created struct {
	Invite     keystore.Invite
	Token      string
	URI        string
	LandingURL string
}

// ErrQuota is returned when the creator's limit is reached.
var ErrQuota = errors.New("invite limit reached")

// ErrProtected: a reset invite for an admin's account or a reserved name,
// which only the CLI may make (--allow-admin).
var ErrProtected = errors.New("a reset invite for an admin or a reserved account can only be made with the CLI's --allow-admin")

// Create validates r and stores the invite. Errors: *ValidationError for a
// bad request, ErrQuota when r.Limit is reached.
func (s *Service) Create(ctx context.Context, r Request) (Created, error) {
	if r.Type == "" {
		r.Type = keystore.TypeAccount
	}
	if !r.Type.Valid() {
		return Created{}, invalid("type", "must be account, reset or contact")
	}
	if r.Uses == 0 {
		r.Uses = 1
	}
	if r.Uses < 1 || r.Uses > MaxUses {
		return Created{}, invalid("uses", "must be between 1 and %d", MaxUses)
	}
	if r.Never {
		switch {
		case !s.cfg.AllowNeverExpiring:
			return Created{}, invalid("ttl", "never-expiring invites are off: [invites] allow_never_expiring = false")
		case r.Type == keystore.TypeReset:
			return Created{}, invalid("ttl", "a reset invite always expires")
		case r.TTL != 0:
			return Created{}, invalid("ttl", "give a duration or never, not both")
		}
	}
	ttl := r.TTL
	if ttl == 0 && !r.Never {
		ttl = s.cfg.DefaultTTL
		if r.Type == keystore.TypeReset {
			ttl = s.cfg.ResetTTL
		}
	}
	if !r.Never && ttl < time.Second {
		return Created{}, invalid("ttl", "must be at least 1s")
	}
	if ttl > s.cfg.MaxTTL {
		return Created{}, invalid("ttl", "must not exceed %s", FormatDuration(s.cfg.MaxTTL))
	}
	if len(r.Note) > MaxNoteLen {
		return Created{}, invalid("note", "must be at most %d bytes", MaxNoteLen)
	}
	if err := CheckText("note", r.Note); err != nil {
		return Created{}, err
	}
	if r.Username != "" {
		if err := CheckText("username", r.Username); err != nil {
			return Created{}, err
		}
		u, err := PrepareUsername(r.Username)
		if err != nil {
			return Created{}, invalid("username", "%s", err)
		}
		r.Username = u
	}
	switch r.Type {
	case keystore.TypeReset:
		if r.Username == "" {
			return Created{}, invalid("username", "a reset invite needs the account's username")
		}
		if r.Uses != 1 {
			return Created{}, invalid("uses", "a reset invite has exactly one use")
		}
		if !r.AllowAdmin && s.protected(r.Username) {
			return Created{}, ErrProtected
		}
	case keystore.TypeContact:
		if r.Username == "" {
			return Created{}, invalid("username", "a contact invite needs the inviter's username")
		}
	case keystore.TypeAccount:
		if r.Username != "" && s.Reserved(r.Username) {
			return Created{}, invalid("username", "%q is reserved", r.Username)
		}
		if r.Username != "" && r.Uses != 1 {
			return Created{}, invalid("uses", "an invite for a fixed username has exactly one use")
		}
	}
	if r.Type != keystore.TypeContact {
		r.AllowRegister = true
	}
	if r.Creator == "" {
		return Created{}, invalid("creator", "is required")
	}
	if err := s.checkPresets(ctx, &r); err != nil {
		return Created{}, err
	}
	if r.Type == keystore.TypeReset && r.Accounts != nil {
		cctx, cancel := context.WithTimeout(ctx, s.cfg.Timing.CheckTimeout)
		exists, err := r.Accounts.AccountExists(cctx, r.Username)
		cancel()
		if err == nil && !exists {
			return Created{}, coded(invalid("username", "there is no account %s@%s on the server", r.Username, s.cfg.Domain),
				CodeNoAccount, r.Username+"@"+s.cfg.Domain, 0)
		}
	}
	expires := s.now().Add(ttl)
	if r.Never {
		expires = keystore.Never
	}
	inv, token, err := s.store.CreateInvite(ctx, keystore.InviteParams{
		Type: r.Type, Username: r.Username, Creator: r.Creator, Note: r.Note,
		AllowRegister: r.AllowRegister, Expires: expires, MaxUses: r.Uses, Limit: r.Limit,
		Rooms: r.Rooms, Circle: r.Circle,
	})
	if errors.Is(err, keystore.ErrLimit) {
		// Keep the store's error in the chain: its *keystore.LimitError
		// tells when the creator may create again.
		return Created{}, fmt.Errorf("%w: %w", ErrQuota, err)
	}
	if err != nil {
		return Created{}, err
	}
	return Created{Invite: inv, Token: token, URI: s.URI(inv, token), LandingURL: s.LandingURL(token)}, nil
}

// protected reports whether username is an admin's account (or a reserved
// name), which reset invites may name only with AllowAdmin.
func (s *Service) protected(username string) bool {
	jid := username + "@" + s.cfg.Domain
	for _, a := range s.cfg.Admins {
		if strings.EqualFold(a, jid) {
			return true
		}
	}
	return s.Reserved(username)
}

// URI is the invite's xmpp: URI (XEP-0401), its localpart percent-encoded
// (see XMPPURI).
func (s *Service) URI(inv keystore.Invite, token string) string {
	jid := s.cfg.Domain
	if inv.Username != "" {
		jid = inv.Username + "@" + jid
	}
	query := "register;preauth=" + token
	if inv.Type == keystore.TypeContact {
		query = "roster;preauth=" + token
		if inv.AllowRegister {
			query += ";ibr=y"
		}
	}
	return XMPPURI(jid, query)
}

// LandingURL is the invite's page: {public_url}/invite?TOKEN.
func (s *Service) LandingURL(token string) string {
	return s.cfg.PublicURL + "/invite?" + token
}

// RegisterURL is the web registration page of an invite.
func (s *Service) RegisterURL(token string) string {
	return s.cfg.PublicURL + "/register?t=" + url.QueryEscape(token)
}

// PrepareUsername applies PRECIS UsernameCaseMapped (RFC 8265) and the JID
// localpart rules, so "Alice" becomes "alice".
func PrepareUsername(u string) (string, error) {
	if u == "" {
		return "", errUserEmpty
	}
	if len(u) > 1024 {
		return "", errUserLong
	}
	j, err := jid.New(u, "localhost", "")
	if err != nil {
		return "", errUserChars
	}
	lp := j.Localpart()
	if len(lp) > 64 {
		return "", errUserLong
	}
	return lp, nil
}

// Why PrepareUsername refuses a name.
var (
	errUserEmpty = errors.New("must not be empty")
	errUserLong  = errors.New("must be at most 64 bytes")
	errUserChars = errors.New("contains characters that are not allowed in a username")
)

// usernameCode is the rule code of a PrepareUsername error.
func usernameCode(err error) string {
	switch {
	case errors.Is(err, errUserEmpty):
		return CodeUserEmpty
	case errors.Is(err, errUserLong):
		return CodeUserLong
	}
	return CodeUserChars
}

// FormatDuration prints durations the way the config writes them ("168h",
// "90m", "30s").
func FormatDuration(d time.Duration) string {
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	s = strings.TrimSuffix(s, "0m")
	if s == "" {
		return "0s"
	}
	return s
}

// ParseTTL reads a ttl parameter: whole seconds ("3600") or a Go duration
// ("1h30m").
func ParseTTL(v string) (time.Duration, error) {
	if v == "" {
		return 0, invalid("ttl", "must not be empty")
	}
	if len(v) > 32 {
		return 0, invalid("ttl", "too long")
	}
	if isDigits(v) {
		var n int64
		for _, c := range v {
			n = n*10 + int64(c-'0')
			if n > int64(100*365*24*time.Hour/time.Second) {
				return 0, invalid("ttl", "too large")
			}
		}
		if n <= 0 {
			return 0, invalid("ttl", "must be positive")
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, invalid("ttl", "must be seconds or a duration such as 24h")
	}
	if d <= 0 {
		return 0, invalid("ttl", "must be positive")
	}
	return d, nil
}

// TTLNever is the ttl value that asks for an invite that does not expire.
const TTLNever = "never"

// ParseValidity reads a ttl parameter that may also be "never" (in any
// case): never reports that one; otherwise it is ParseTTL.
func ParseValidity(v string) (ttl time.Duration, never bool, err error) {
	if strings.EqualFold(v, TTLNever) {
		return 0, true, nil
	}
	ttl, err = ParseTTL(v)
	return ttl, false, err
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
