package invites

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xmpp-invites/keystore"
)

// newReservingService is a service with a component JID and one configured
// reserved name.
func newReservingService(t *testing.T) *Service {
	t.Helper()
	st, err := keystore.Open(context.Background(), filepath.Join(t.TempDir(), "db"), keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return New(st, Config{
		Domain: "example.com", PublicURL: "https://example.com/join/",
		DefaultTTL: 168 * time.Hour, MaxTTL: 720 * time.Hour, ResetTTL: 24 * time.Hour,
		PasswordMinLength: 8,
		ComponentJID:      "join.example.com",
		ReservedUsernames: []string{"Billing"},
	}, nil)
}

var reservedCases = []struct {
	name     string
	username string
	reserved bool
}{
	{"built in", "admin", true},
	{"upper case", "ADMIN", true},
	{"mixed case", "PostMaster", true},
	{"fullwidth", "Ａｄｍｉｎ", true},
	{"component label", "join", true},
	{"component label upper case", "JOIN", true},
	{"config entry", "billing", true},
	{"config entry fullwidth", "ｂｉｌｌｉｎｇ", true},
	{"normal name", "alice", false},
	{"reserved name inside", "admin2", false},
	{"malformed", "a b", false},
}

func TestReserved(t *testing.T) {
	s := newReservingService(t)
	for _, tc := range reservedCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.Reserved(tc.username); got != tc.reserved {
				t.Fatalf("Reserved(%q) = %v, want %v", tc.username, got, tc.reserved)
			}
		})
	}
}

func TestCreateRefusesReservedUsername(t *testing.T) {
	s := newReservingService(t)
	ctx := context.Background()
	for _, tc := range reservedCases {
		if tc.name == "malformed" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Create(ctx, Request{Username: tc.username, Creator: "cli"})
			var ve *ValidationError
			switch {
			case tc.reserved && (!errors.As(err, &ve) || ve.Field != "username" || !strings.Contains(ve.Msg, "reserved")):
				t.Fatalf("fixed-username invite for %q: err = %v, want a ValidationError on username saying it is reserved", tc.username, err)
			case !tc.reserved && err != nil:
				t.Fatalf("fixed-username invite for %q: %v", tc.username, err)
			}
		})
	}
	// A contact invite names its inviter, an existing account: an admin
	// called admin may still invite contacts.
	if _, err := s.Create(ctx, Request{Type: keystore.TypeContact, Username: "admin", Creator: "xmpp:admin@example.com"}); err != nil {
		t.Errorf("contact invite of the account admin: %v", err)
	}
}

func TestCheckRefusesReservedUsername(t *testing.T) {
	s := newReservingService(t)
	reg := func(user string) Registration {
		return Registration{Username: user, Password: "a long passphrase", Confirm: "a long passphrase"}
	}
	for _, inv := range []keystore.Invite{
		{Type: keystore.TypeAccount},
		{Type: keystore.TypeContact, Username: "carol", AllowRegister: true},
	} {
		for _, tc := range reservedCases {
			if tc.name == "malformed" {
				continue
			}
			t.Run(string(inv.Type)+"/"+tc.name, func(t *testing.T) {
				_, err := s.Check(inv, reg(tc.username))
				var ve *ValidationError
				switch {
				case tc.reserved && (!errors.As(err, &ve) || ve.Field != "user" || !strings.Contains(ve.Msg, "reserved")):
					t.Fatalf("registering %q: err = %v, want a ValidationError on user saying it is reserved", tc.username, err)
				case !tc.reserved && err != nil:
					t.Fatalf("registering %q: %v", tc.username, err)
				}
			})
		}
	}
	// A fixed-username invite made before its name was reserved.
	_, err := s.Check(keystore.Invite{Type: keystore.TypeAccount, Username: "billing"}, reg(""))
	var ve *ValidationError
	if !errors.As(err, &ve) || !strings.Contains(ve.Msg, "reserved") {
		t.Errorf("fixed-username invite for a reserved name: err = %v, want a ValidationError saying it is reserved", err)
	}
	// A reset invite is for an existing account: its rules are elsewhere.
	if _, err := s.Check(keystore.Invite{Type: keystore.TypeReset, Username: "admin"}, reg("")); err != nil {
		t.Errorf("reset of admin: %v", err)
	}
}

// TestReservedNamesDocumented keeps the list in docs/configuration.md
// complete.
func TestReservedNamesDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range builtinReserved {
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("docs/configuration.md does not list the reserved username %q", name)
		}
	}
}
