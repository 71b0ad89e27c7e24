package invites

import (
	"time"

	"xmpp-invites/keystore"
)

// JSON is an invite as the JSON API (/api/v1/invites) and
// `invite list --json` show it: the same names in both. It never has the
// token.
type JSON struct {
	ID       string  `json:"id"`
	Type     string  `json:"type"`
	Username string  `json:"username"` // empty: the invitee chooses
	Creator  string  `json:"creator"`
	Note     string  `json:"note"`
	Created  string  `json:"created"` // RFC 3339, UTC
	Expires  *string `json:"expires"` // null: never expires
	MaxUses  int     `json:"max_uses"`
	Uses     int     `json:"uses"`
	State    string  `json:"state"`
	Revoked  *string `json:"revoked"` // null: not revoked
	// Presets, present when set: group chats and a circle.
	Rooms  []string `json:"rooms,omitempty"`
	Circle string   `json:"circle,omitempty"`
}

// ToJSON describes inv as of now.
func ToJSON(inv keystore.Invite, now time.Time) JSON {
	j := JSON{ID: inv.ID, Type: string(inv.Type), Username: inv.Username, Creator: inv.Creator,
		Note: inv.Note, Created: jsonTime(inv.Created), Expires: JSONExpires(inv),
		MaxUses: inv.MaxUses, Uses: inv.Uses, State: string(inv.State(now)), Rooms: inv.Rooms, Circle: inv.Circle}
	if !inv.Revoked.IsZero() {
		t := jsonTime(inv.Revoked)
		j.Revoked = &t
	}
	return j
}

// JSONExpires is an invite's expiry as JSON shows it: RFC 3339 UTC, or nil
// (null) for an invite that never expires.
func JSONExpires(inv keystore.Invite) *string {
	if inv.NeverExpires() {
		return nil
	}
	t := jsonTime(inv.Expires)
	return &t
}

func jsonTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
