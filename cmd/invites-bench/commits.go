package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
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
	c := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return s, fmt.Errorf("read metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("read metrics: status %d", resp.StatusCode)
	}
	return parseCommits(resp.Body)
}

// parseCommits picks the three series it needs out of the Prometheus text
// format; all three must be there.
func parseCommits(r io.Reader) (commitSample, error) {
	var s commitSample
	want := map[string]*float64{
		"xmpp_invites_store_transaction_seconds_count": &s.transactions,
		"xmpp_invites_store_transaction_seconds_sum":   &s.seconds,
		"xmpp_invites_store_transaction_writes_sum":    &s.writes,
	}
	found := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if dst, known := want[name]; ok && known {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				return s, fmt.Errorf("metrics: %s: %w", name, err)
			}
			*dst = v
			found++
		}
	}
	if err := sc.Err(); err != nil {
		return s, fmt.Errorf("read metrics: %w", err)
	}
	if found != len(want) {
		return s, fmt.Errorf("metrics: the group-commit histograms are missing (%d of %d series)", found, len(want))
	}
	return s, nil
}
