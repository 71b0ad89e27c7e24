package httpapi

import (
	"encoding/json"
	"net/http"

	"xmpp-invites/invites"
)

// Header values shared by every JSON answer. Assigned directly into the
// header map (their keys are already canonical), they cost no allocation;
// net/http only reads them.
var (
	hdrJSON    = []string{"application/json"}
	hdrNoStore = []string{"no-store"}
	hdrNosniff = []string{"nosniff"}
)

// writeCreated answers a create with status and the created invite's JSON,
// the hottest answer of the service. It is encoding/json's: a hand-written
// encoder measured no faster (docs/performance.md, "Hand-written JSON").
func writeCreated(w http.ResponseWriter, status int, c invites.Created) {
	body, err := json.Marshal(createdBody(c))
	if err != nil {
		// Cannot happen: the fields are strings.
		writeJSONError(w, http.StatusInternalServerError, "internal error")
		return
	}
	writeJSONBytes(w, status, append(body, '\n'))
}
