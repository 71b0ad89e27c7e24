package main

import (
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond // 1..100 ms
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value p50", []time.Duration{7}, 50, 7},
		{"one value p99", []time.Duration{7}, 99, 7},
		{"two values p50 is the lower", []time.Duration{1, 2}, 50, 1},
		{"two values p99 is the upper", []time.Duration{1, 2}, 99, 2},
		{"1..100 p50", hundred, 50, 50 * time.Millisecond},
		{"1..100 p99", hundred, 99, 99 * time.Millisecond},
		{"1..100 p100", hundred, 100, 100 * time.Millisecond},
		{"1..100 tiny p is the minimum", hundred, 0.001, time.Millisecond},
		{"p above 100 is clamped", hundred, 150, 100 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.sorted, tc.p); got != tc.want {
				t.Errorf("percentile(%d values, %v) = %v, want %v", len(tc.sorted), tc.p, got, tc.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	// Unsorted on purpose: summarize sorts.
	d := []time.Duration{4 * time.Millisecond, 1 * time.Millisecond, 3 * time.Millisecond, 2 * time.Millisecond}
	got := summarize(d)
	want := latency{N: 4, P50ms: 2, P99ms: 4, MaxMs: 4, MeanMs: 2.5}
	if got != want {
		t.Errorf("summarize = %+v, want %+v", got, want)
	}
	if d[0] != time.Millisecond || d[3] != 4*time.Millisecond {
		t.Errorf("summarize left %v, want the input sorted in place", d)
	}
	if got := summarize(nil); got != (latency{}) {
		t.Errorf("summarize(nil) = %+v, want the zero value", got)
	}
}

func TestRatio(t *testing.T) {
	if got := ratio(3, 2); got != 1.5 {
		t.Errorf("ratio(3, 2) = %v, want 1.5", got)
	}
	if got := ratio(3, 0); got != 0 {
		t.Errorf("ratio(3, 0) = %v, want 0 (no measurement)", got)
	}
}

func TestParseCommits(t *testing.T) {
	text := `# HELP xmpp_invites_store_transaction_seconds Database write transactions.
# TYPE xmpp_invites_store_transaction_seconds histogram
xmpp_invites_store_transaction_seconds_bucket{le="0.0001"} 0
xmpp_invites_store_transaction_seconds_sum 1.5
xmpp_invites_store_transaction_seconds_count 3000
# TYPE xmpp_invites_store_transaction_writes histogram
xmpp_invites_store_transaction_writes_bucket{le="1"} 10
xmpp_invites_store_transaction_writes_sum 18000
xmpp_invites_store_transaction_writes_count 3000
`
	s, err := parseCommits(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	st := s.since(commitSample{transactions: 1000, seconds: 0.5, writes: 6000})
	if st.Transactions != 2000 || st.WritesPerTx != 6 || st.MeanMs != 0.5 {
		t.Fatalf("since = %+v, want 2000 transactions of 6 writes, 0.5 ms", st)
	}
	if _, err := parseCommits(strings.NewReader("xmpp_invites_store_transaction_seconds_sum 1\n")); err == nil {
		t.Fatal("missing series: no error")
	}
	if _, err := parseCommits(strings.NewReader(strings.Replace(text, "_sum 1.5", "_sum x", 1))); err == nil {
		t.Fatal("bad value: no error")
	}
}
