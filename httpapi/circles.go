package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

// The circles of the JSON API (/api/v1/circles): manage keys only. See
// docs/api.md and docs/presets.md.

// circleJSON is a circle as the API shows it.
type circleJSON struct {
	Name    string             `json:"name"`
	Created string             `json:"created"`
	Size    int                `json:"size"`
	Members []circleMemberJSON `json:"members,omitempty"`
}

type circleMemberJSON struct {
	JID   string `json:"jid"`
	Added string `json:"added"`
}

func toCircleJSON(c keystore.Circle) circleJSON {
	return circleJSON{Name: c.Name, Created: c.Created.UTC().Format(time.RFC3339), Size: c.Members}
}

// registerCircles adds /api/v1/circles.
func (a *api) registerCircles(mux routes) {
	mux.Handle("/api/v1/circles", a.endpoint(a.v1, "GET, POST, OPTIONS",
		apiMethods{http.MethodGet: a.manage(a.listCircles), http.MethodPost: a.manage(a.createCircle)}))
	mux.Handle("/api/v1/circles/{name}", a.endpoint(a.v1, "GET, DELETE, OPTIONS",
		apiMethods{http.MethodGet: a.manage(a.showCircle), http.MethodDelete: a.manage(a.deleteCircle)}))
	mux.Handle("/api/v1/circles/{name}/members", a.endpoint(a.v1, "POST, OPTIONS",
		apiMethods{http.MethodPost: a.manage(a.addCircleMember)}))
	mux.Handle("/api/v1/circles/{name}/members/{jid}", a.endpoint(a.v1, "DELETE, OPTIONS",
		apiMethods{http.MethodDelete: a.manage(a.removeCircleMember)}))
}

// manage wraps a handler that needs a manage key.
func (a *api) manage(fn func(w http.ResponseWriter, r *http.Request, key keystore.Key) error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		key, err := a.authenticateBearer(r)
		if err != nil {
			return err
		}
		if err := requireManage(key); err != nil {
			return err
		}
		return fn(w, r, key)
	}
}

// circleName reads and checks the {name} of the path.
func circleName(r *http.Request) (string, error) {
	name := r.PathValue("name")
	if err := invites.CheckCircleName(name); err != nil {
		return "", err
	}
	return name, nil
}

func (a *api) listCircles(w http.ResponseWriter, r *http.Request, _ keystore.Key) error {
	cs, err := a.s.store.Circles(r.Context())
	if err != nil {
		return err
	}
	out := struct {
		Circles []circleJSON `json:"circles"`
	}{Circles: []circleJSON{}}
	for _, c := range cs {
		out.Circles = append(out.Circles, toCircleJSON(c))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// decodeBody reads the JSON object of a circle request into v.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	body := readAPIBody(w, r, false)
	if body.err != nil {
		return body.err
	}
	if body.kind != bodyJSON {
		return newAPIError(http.StatusUnsupportedMediaType, "the body must be a JSON object (Content-Type: application/json)")
	}
	return decodeAPIJSON(body.raw, v)
}

func (a *api) createCircle(w http.ResponseWriter, r *http.Request, key keystore.Key) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	if err := invites.CheckCircleName(in.Name); err != nil {
		return err
	}
	c, err := a.s.store.CreateCircle(r.Context(), in.Name)
	if err != nil {
		return err
	}
	a.s.log.Info("circle created", "source", "http", "circle", c.Name, "key", key.ID)
	writeJSON(w, http.StatusCreated, toCircleJSON(c))
	return nil
}

func (a *api) showCircle(w http.ResponseWriter, r *http.Request, _ keystore.Key) error {
	name, err := circleName(r)
	if err != nil {
		return err
	}
	c, err := a.s.store.GetCircle(r.Context(), name)
	if err != nil {
		return err
	}
	ms, err := a.s.store.CircleMembers(r.Context(), name)
	if err != nil {
		return err
	}
	out := toCircleJSON(c)
	out.Members = []circleMemberJSON{}
	for _, m := range ms {
		out.Members = append(out.Members, circleMemberJSON{JID: m.JID, Added: m.Added.UTC().Format(time.RFC3339)})
	}
	// members is always present here, even when empty.
	b, err := json.Marshal(struct {
		circleJSON
		Members []circleMemberJSON `json:"members"`
	}{out, out.Members})
	if err != nil {
		return err
	}
	writeJSONBytes(w, http.StatusOK, append(b, '\n'))
	return nil
}

func (a *api) deleteCircle(w http.ResponseWriter, r *http.Request, key keystore.Key) error {
	name, err := circleName(r)
	if err != nil {
		return err
	}
	if err := a.s.store.DeleteCircle(r.Context(), name); err != nil {
		return err
	}
	a.s.log.Info("circle deleted", "source", "http", "circle", name, "key", key.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *api) addCircleMember(w http.ResponseWriter, r *http.Request, key keystore.Key) error {
	name, err := circleName(r)
	if err != nil {
		return err
	}
	var in struct {
		JID string `json:"jid"`
	}
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	var acc invites.Accounts
	if a.s.link.State() == "up" {
		acc = a.s.link
	}
	member, befriended, err := a.s.svc.AddCircleMember(r.Context(), acc, name, in.JID)
	if err != nil {
		return err
	}
	a.s.log.Info("circle member added", "source", "http", "circle", name, "jid", member, "contacts", befriended, "key", key.ID)
	writeJSON(w, http.StatusCreated, struct {
		JID        string `json:"jid"`
		Befriended bool   `json:"contacts_added"`
	}{member, befriended})
	return nil
}

func (a *api) removeCircleMember(w http.ResponseWriter, r *http.Request, key keystore.Key) error {
	name, err := circleName(r)
	if err != nil {
		return err
	}
	member, err := a.s.svc.CircleMember(r.PathValue("jid"))
	if err != nil {
		return err
	}
	if err := a.s.store.RemoveCircleMember(r.Context(), name, member); err != nil {
		return err
	}
	a.s.log.Info("circle member removed", "source", "http", "circle", name, "jid", member, "key", key.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
