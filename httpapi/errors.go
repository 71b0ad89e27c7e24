package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

// apiError is an error of the JSON APIs: the status it answers and a message
// that is safe to show to the client. Handlers return it (or a store or
// invites error, which apiErrorOf maps); writeAPIError renders it as
// {"error": Message, "code": Status}.
type apiError struct {
	Status     int
	Message    string
	RetryAfter time.Duration // > 0: sent as Retry-After, in whole seconds rounded up
	Allow      string        // 405: sent as Allow
}

func (e *apiError) Error() string { return strconv.Itoa(e.Status) + " " + e.Message }

// newAPIError returns an apiError with a fixed message.
func newAPIError(status int, msg string) *apiError {
	return &apiError{Status: status, Message: msg}
}

// errUnauthorized is every bad-key answer. It is one message for every case
// (missing, malformed, unknown, wrong secret, expired, deleted), so the
// answer tells an attacker nothing.
func errUnauthorized() *apiError { return newAPIError(http.StatusUnauthorized, "unauthorized") }

// errorBody is the JSON body of every API error.
type errorBody struct {
	Error string `json:"error"`
	Code  int    `json:"code"`
}

// writeJSONError writes {"error":msg,"code":status}. The body has no
// trailing newline, so that identical errors are identical bytes.
func writeJSONError(w http.ResponseWriter, status int, msg string) {
	b, err := json.Marshal(errorBody{Error: msg, Code: status})
	if err != nil {
		// Cannot happen for a string and an int.
		b = []byte(`{"error":"internal error","code":500}`)
		status = http.StatusInternalServerError
	}
	writeJSONBytes(w, status, b)
}

// writeJSONBytes answers status with the JSON document b, not to be cached.
func writeJSONBytes(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h["Content-Type"] = hdrJSON
	h["Cache-Control"] = hdrNoStore
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	w.Write(b)
}

// apiErrorOf maps an error to what the client is told (now dates
// Retry-After). unexpected reports an error no rule covers: the caller logs
// it, the client sees only 500.
func apiErrorOf(err error, now time.Time) (e *apiError, unexpected bool) {
	var ae *apiError
	var ve *invites.ValidationError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		return ae, false
	case errors.As(err, &ve):
		return newAPIError(http.StatusBadRequest, ve.Error()), false
	case errors.As(err, &mbe):
		return newAPIError(http.StatusRequestEntityTooLarge, "request body is larger than "+strconv.Itoa(maxBodyBytes>>10)+" KiB"), false
	case errors.Is(err, invites.ErrQuota):
		return &apiError{Status: http.StatusTooManyRequests, Message: "this key has reached its invite quota",
			RetryAfter: quotaRetry(err, now)}, false
	case errors.Is(err, invites.ErrProtected):
		return newAPIError(http.StatusForbidden, invites.ErrProtected.Error()), false
	case errors.Is(err, keystore.ErrUnauthorized):
		return errUnauthorized(), false
	case errors.Is(err, keystore.ErrNotFound):
		return newAPIError(http.StatusNotFound, "not found"), false
	case errors.Is(err, keystore.ErrExists):
		return newAPIError(http.StatusConflict, "already exists"), false
	case errors.Is(err, keystore.ErrLimit):
		return newAPIError(http.StatusConflict, "the circle is full (invites.max_circle_size)"), false
	case errors.Is(err, keystore.ErrRevoked):
		return newAPIError(http.StatusConflict, "invite is already revoked"), false
	case errors.Is(err, keystore.ErrUsedUp):
		return newAPIError(http.StatusConflict, "invite is already used up"), false
	case errors.Is(err, keystore.ErrExpired):
		return newAPIError(http.StatusConflict, "invite has already expired"), false
	case errors.Is(err, keystore.ErrUnavailable):
		return &apiError{Status: http.StatusServiceUnavailable, Message: "storage unavailable",
			RetryAfter: storageRetryAfter}, false
	case errors.Is(err, keystore.ErrClosed):
		return &apiError{Status: http.StatusServiceUnavailable, Message: "the service is shutting down",
			RetryAfter: 5 * time.Second}, false
	case errors.Is(err, invites.ErrLinkDown):
		return &apiError{Status: http.StatusServiceUnavailable, Message: invites.ErrLinkDown.Error(),
			RetryAfter: time.Minute}, false
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// The client went away or the request ran out of time; nobody is
		// likely to read this answer, and it is not a fault of ours.
		return newAPIError(http.StatusServiceUnavailable, "request canceled"), false
	}
	return newAPIError(http.StatusInternalServerError, "internal error"), true
}

// writeAPIError answers err as JSON. It logs only errors no rule covers,
// once, with the route pattern (never the URL: it may hold a token) and the
// key ID, never a credential.
func (s *Server) writeAPIError(w http.ResponseWriter, r *http.Request, err error) {
	e, unexpected := apiErrorOf(err, s.now())
	info := apiInfo(r)
	if unexpected {
		s.log.Error("api request failed", "route", r.Pattern, "method", r.Method,
			"key", info.keyID, "client", clientString(info.client), "err", err)
	} else if errors.Is(err, keystore.ErrUnavailable) {
		s.logFault(r, err)
	}
	h := w.Header()
	switch e.Status {
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", "Bearer")
	case http.StatusTooManyRequests:
		s.metrics.RateLimited()
	}
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(retrySeconds(e.RetryAfter), 10))
	}
	if e.Allow != "" {
		h.Set("Allow", e.Allow)
	}
	writeJSONError(w, e.Status, e.Message)
}

// quotaRetry is how long a key over its quota waits: until the oldest
// invite of the window leaves it, when err holds the store's
// *keystore.LimitError, else quotaRetryAfter.
func quotaRetry(err error, now time.Time) time.Duration {
	var limit *keystore.LimitError
	if !errors.As(err, &limit) {
		return quotaRetryAfter
	}
	return max(limit.Oldest.Add(quotaWindow).Sub(now), time.Second)
}

// retrySeconds rounds d up to whole seconds, at least 1.
func retrySeconds(d time.Duration) int64 {
	n := int64((d + time.Second - 1) / time.Second)
	return max(n, 1)
}

// storageRetryAfter is what clients are told to wait during a storage
// fault: the operator has to act (free space, fix permissions), which takes
// longer than a retry loop should spin.
const storageRetryAfter = 30 * time.Second

// faultLogEvery is how often a storage fault of one kind is logged: while
// the disk is full every request fails the same way, and one line per
// request buried the log (thousands of lines a second).
const faultLogEvery = 10 * time.Second

// logFault logs a storage fault: at most one line per kind per
// faultLogEvery, which says how many lines were left out since the last.
// The route pattern is logged, never the URL (it may hold a token).
func (s *Server) logFault(r *http.Request, err error) {
	kind := databaseState(err)
	if ok, suppressed := s.faults.allow(kind, s.now()); ok {
		s.log.Error("storage unavailable", "kind", kind, "route", r.Pattern, "method", r.Method,
			"suppressed", suppressed, "err", err)
	}
}

// faultLog rate-limits log lines per kind of fault.
type faultLog struct {
	mu    sync.Mutex
	kinds map[string]*faultCount
}

type faultCount struct {
	last       time.Time // when a line was last logged
	suppressed int       // lines left out since
}

// allow reports whether a line for kind may be logged now, and how many
// were left out since the last one; it counts the line as left out when
// not.
func (f *faultLog) allow(kind string, now time.Time) (ok bool, suppressed int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.kinds == nil {
		f.kinds = make(map[string]*faultCount)
	}
	c := f.kinds[kind]
	if c == nil {
		c = &faultCount{}
		f.kinds[kind] = c
	} else if now.Sub(c.last) < faultLogEvery && !now.Before(c.last) {
		c.suppressed++
		return false, 0
	}
	suppressed = c.suppressed
	c.last, c.suppressed = now, 0
	return true, suppressed
}
