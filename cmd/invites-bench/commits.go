package main

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// commitSample is a reading of xmpp-invites' group-commit histograms
// (xmpp_invites_store_transaction_seconds and _writes) on /metrics.
type commitSample struct {
	transactions, seconds, writes float64
}

// commitStats are the database transactions of one measurement.
type commitStats struct {
	Transactions int     `json:"transactions"`
	WritesPerTx  float64 `json:"writes_per_transaction"`
	MeanMs       float64 `json:"mean_ms"` // BEGIN to durable COMMIT
}

// since returns the transactions between an earlier sample and s.
func (s commitSample) since(earlier commitSample) *commitStats {
	n := s.transactions - earlier.transactions
	st := &commitStats{Transactions: int(n)}
	if n > 0 {
		st.WritesPerTx = (s.writes - earlier.writes) / n
		st.MeanMs = 1000 * (s.seconds - earlier.seconds) / n
	}
	return st
}

// readCommits reads the group-commit histograms from url.
func readCommits(ctx context.Context, url string) (commitSample, error) {
	var s commitSample
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return s, err
	}
	resp, err := newClient().Do(req)
	if err != nil {
		return s, fmt.Errorf("read metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("read metrics: status %d", resp.StatusCode)
	}
	return parseCommits(resp.Body)
}

// parseCommits picks the two histograms out of the Prometheus text format.
func parseCommits(r io.Reader) (commitSample, error) {
	var s commitSample
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return s, fmt.Errorf("read metrics: %w", err)
	}
	secs, writes := fams["xmpp_invites_store_transaction_seconds"], fams["xmpp_invites_store_transaction_writes"]
	if secs == nil || writes == nil || len(secs.Metric) != 1 || len(writes.Metric) != 1 {
		return s, fmt.Errorf("metrics: the group-commit histograms are missing")
	}
	h := secs.Metric[0].GetHistogram()
	s.transactions, s.seconds = float64(h.GetSampleCount()), h.GetSampleSum()
	s.writes = writes.Metric[0].GetHistogram().GetSampleSum()
	return s, nil
}
