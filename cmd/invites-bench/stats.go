package main

import (
	"math"
	"slices"
	"time"
)

// latency summarizes a set of latencies. Times are milliseconds, so the JSON
// output reads without unit conversions.
type latency struct {
	N      int     `json:"n"`
	P50ms  float64 `json:"p50_ms"`
	P99ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
	MeanMs float64 `json:"mean_ms"`
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted: the smallest value such that at least p % of the values are less
// than or equal to it. It returns 0 for an empty slice.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// summarize sorts d in place and returns its percentiles, maximum and mean.
func summarize(d []time.Duration) latency {
	if len(d) == 0 {
		return latency{}
	}
	slices.Sort(d)
	var sum time.Duration
	for _, v := range d {
		sum += v
	}
	return latency{
		N:      len(d),
		P50ms:  ms(percentile(d, 50)),
		P99ms:  ms(percentile(d, 99)),
		MaxMs:  ms(d[len(d)-1]),
		MeanMs: ms(sum / time.Duration(len(d))),
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ratio returns a/b, or 0 when b is 0 (a missing measurement, not infinity).
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
