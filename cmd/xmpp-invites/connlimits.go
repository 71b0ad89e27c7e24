package main

import (
	"syscall"

	"xmpp-invites/httpapi"
)

// How the HTTP connection caps are derived from the file-descriptor limit.
const (
	// minFDHeadroom is the fewest descriptors left to the rest of the
	// process: SQLite (database, WAL and shared-memory file per pooled
	// connection), the XMPP link, logs, backups, the listeners.
	minFDHeadroom = 256
	// defaultMaxConns bounds the derived total whatever the descriptor
	// limit: an idle connection costs about 25 KB of memory (buffers and
	// goroutine), so 4096 of them stay near 100 MB.
	defaultMaxConns = 4096
	// perClientShare: one client address may hold this fraction of the
	// total by default.
	perClientShare = 16
	// minDefaultPerClient: the derived per-client cap is at least this (a
	// browser opens up to 6 connections to a host).
	minDefaultPerClient = 8
	// unboundedFDs: a descriptor limit this high (or unknown) bounds
	// nothing here.
	unboundedFDs = 1 << 30
)

// connLimits returns the HTTP connection caps, [http] max_connections and
// max_connections_per_client or where 0 derived from the soft
// RLIMIT_NOFILE (which the Go runtime has already raised to the hard limit
// at start), and that limit.
func connLimits(cfg Config) (httpapi.ConnLimits, uint64, error) {
	nofile := fdLimit()
	lim, err := deriveConnLimits(nofile, cfg.MaxConns, cfg.MaxConnsPerAddr)
	lim.TrustedProxies = cfg.TrustedProxies
	if err == nil {
		err = lim.Validate()
	}
	return lim, nofile, err
}

// fdLimit is the soft RLIMIT_NOFILE; 0 if unknown.
func fdLimit() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	return uint64(lim.Cur)
}

// deriveConnLimits fills in the caps left 0 and refuses configured ones the
// descriptor limit nofile (0: unknown) cannot hold. The total may use three
// quarters of nofile, leaving at least minFDHeadroom.
func deriveConnLimits(nofile uint64, maxConns, perClient int) (httpapi.ConnLimits, error) {
	room := unboundedFDs
	if nofile != 0 && nofile < unboundedFDs {
		n := int(nofile)
		room = max(n-max(minFDHeadroom, n/4), 0)
	}
	var lim httpapi.ConnLimits
	switch {
	case maxConns == 0 && room == 0:
		return lim, optErr("http.max_connections", "the file-descriptor limit %d leaves no room for HTTP connections (%d are kept for the database, the XMPP link and logs): raise it (systemd: LimitNOFILE)", nofile, minFDHeadroom)
	case maxConns == 0:
		lim.Max = min(room, defaultMaxConns)
	case maxConns > room:
		return lim, optErr("http.max_connections", "%d exceeds the %d connections the file-descriptor limit %d leaves room for: raise the limit (systemd: LimitNOFILE) or lower this", maxConns, room, nofile)
	default:
		lim.Max = maxConns
	}
	switch {
	case perClient == 0:
		lim.PerClient = max(lim.Max/perClientShare, min(minDefaultPerClient, lim.Max))
	case perClient > lim.Max:
		return lim, optErr("http.max_connections_per_client", "%d exceeds http.max_connections %d (derived from the file-descriptor limit %d)", perClient, lim.Max, nofile)
	default:
		lim.PerClient = perClient
	}
	return lim, nil
}
