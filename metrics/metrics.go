// Package metrics defines the Prometheus metrics of xmpp-invites. A nil
// *Metrics is valid and records nothing, so packages take one optionally.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the collectors, registered on their own registry, as seen
// by one domain (ForDomain): every metric of invites, keys, the component
// link and HTTP requests carries a domain label; the store's are shared.
type Metrics struct {
	*set
	domain string
}

// ForDomain returns a view of the same collectors whose counts carry the
// label domain="domain". A nil Metrics gives nil.
func (m *Metrics) ForDomain(domain string) *Metrics {
	if m == nil {
		return nil
	}
	// The domain's series exist from the start, at 0, as unlabelled
	// counters would.
	m.authFailures.WithLabelValues(domain)
	m.rateLimited.WithLabelValues(domain)
	m.linkUp.WithLabelValues(domain)
	m.linkReconnects.WithLabelValues(domain)
	return &Metrics{set: m.set, domain: domain}
}

type set struct {
	reg             *prometheus.Registry
	invitesCreated  *prometheus.CounterVec
	invitesUsed     *prometheus.CounterVec
	authFailures    *prometheus.CounterVec
	rateLimited     *prometheus.CounterVec
	linkUp          *prometheus.GaugeVec
	linkReconnects  *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	txDuration      prometheus.Histogram
	txWrites        prometheus.Histogram
	txFailures      prometheus.Counter
}

// New creates the metrics with Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{set: &set{
		reg: prometheus.NewRegistry(),
		invitesCreated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xmpp_invites_invites_created_total",
			Help: "Invites created, by source (http, xmpp, portal, cli) and type.",
		}, []string{"domain", "source", "type"}),
		invitesUsed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xmpp_invites_invites_used_total",
			Help: "Invite uses confirmed, by type.",
		}, []string{"domain", "type"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xmpp_invites_auth_failures_total",
			Help: "HTTP requests refused for a missing or bad API key.",
		}, []string{"domain"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xmpp_invites_rate_limited_total",
			Help: "HTTP requests answered 429 (auth failure limit or key quota).",
		}, []string{"domain"}),
		linkUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "xmpp_invites_component_up",
			Help: "1 while the XEP-0114 link to the XMPP server is up.",
		}, []string{"domain"}),
		linkReconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xmpp_invites_component_connects_total",
			Help: "Successful component handshakes.",
		}, []string{"domain"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "xmpp_invites_http_request_duration_seconds",
			Help:    "HTTP request latency by route and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"domain", "route", "code"}),
		txDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "xmpp_invites_store_transaction_seconds",
			Help:    "Database write transactions (group commits) from BEGIN to a durable COMMIT.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}),
		txWrites: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "xmpp_invites_store_transaction_writes",
			Help:    "Writes (invite creations, uses, revocations, ...) sharing one database transaction.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128},
		}),
		txFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "xmpp_invites_store_transaction_failures_total",
			Help: "Database write transactions that failed as a whole (every write in them failed).",
		}),
	}}
	m.reg.MustRegister(m.invitesCreated, m.invitesUsed, m.authFailures, m.rateLimited,
		m.linkUp, m.linkReconnects, m.requestDuration, m.txDuration, m.txWrites, m.txFailures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// InviteCreated counts a new invite.
func (m *Metrics) InviteCreated(source, typ string) {
	if m != nil {
		m.invitesCreated.WithLabelValues(m.domain, source, typ).Inc()
	}
}

// InviteUsed counts a confirmed use.
func (m *Metrics) InviteUsed(typ string) {
	if m != nil {
		m.invitesUsed.WithLabelValues(m.domain, typ).Inc()
	}
}

// AuthFailure counts a refused credential.
func (m *Metrics) AuthFailure() {
	if m != nil {
		m.authFailures.WithLabelValues(m.domain).Inc()
	}
}

// RateLimited counts a 429.
func (m *Metrics) RateLimited() {
	if m != nil {
		m.rateLimited.WithLabelValues(m.domain).Inc()
	}
}

// LinkUp records the component link state.
func (m *Metrics) LinkUp(up bool) {
	if m == nil {
		return
	}
	if up {
		m.linkUp.WithLabelValues(m.domain).Set(1)
		m.linkReconnects.WithLabelValues(m.domain).Inc()
	} else {
		m.linkUp.WithLabelValues(m.domain).Set(0)
	}
}

// Request records one HTTP request.
func (m *Metrics) Request(route string, code int, d time.Duration) {
	if m != nil {
		m.requestDuration.WithLabelValues(m.domain, route, statusLabel(code)).Observe(d.Seconds())
	}
}

// StoreCommitted records one database write transaction: how many writes
// it carried, how long it took, and whether it failed as a whole. Its
// signature is keystore.Options.Committed's.
func (m *Metrics) StoreCommitted(writes int, took time.Duration, err error) {
	if m == nil {
		return
	}
	m.txDuration.Observe(took.Seconds())
	m.txWrites.Observe(float64(writes))
	if err != nil {
		m.txFailures.Inc()
	}
}

func statusLabel(code int) string {
	if code < 100 || code > 999 {
		return "other"
	}
	return string([]byte{byte('0' + code/100), byte('0' + code/10%10), byte('0' + code%10)})
}
