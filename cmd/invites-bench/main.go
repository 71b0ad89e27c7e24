// Command invites-bench measures xmpp-invites on this machine in one run and
// sets it beside two references: a trivial net/http handler (the ceiling of
// any Go HTTP service under the same load generator) and Prosody 0.12 with
// mod_invites_api, started privately on loopback. For invite creation it
// adds a third: the trivial handler answering only after a group commit of
// one 4 KiB write and fdatasync, what making each answer durable costs on
// this disk before any database work.
//
// It builds xmpp-invites, starts every server as a separate process on free
// loopback ports (so memory is per process; Prosody through
// internal/xmpptest), drives /invites_api and the invite landing page at 1
// and 16 keep-alive connections, then again at 16 in further rounds, fills
// the database to 100,000 invites and reads the server's RSS, times serve's
// start-up on a database of 1,000,000 invites seeded through keystore,
// prints the plans of keystore's statements there, measures the disk's
// fsync latency, and compares in-band invite creation over XEP-0050 ad-hoc
// commands (the xmpp-invites component attached to Prosody against
// Prosody's own mod_invites_adhoc). It ends with the targets of the issue
// marked PASS or FAIL. In-process store figures come from
// go test -bench CreateInvite ./keystore/.
//
// With -database (a postgres:// URL on 127.0.0.1 or ::1, or "pgtest" for a
// private durable cluster started through internal/pgtest), invite
// creation and the landing page are also measured on PostgreSQL, by a
// second xmpp-invites serve, beside the ceiling answering after one
// single-row commit on that server; each run uses fresh schemas, dropped
// at the end. Those figures are information lines in the targets: the
// targets are SQLite's.
//
// Usage:
//
//	go run ./cmd/invites-bench [-duration 5s] [-warmup 1s] [-json FILE] [-database URL|pgtest]
//
// Every child process is stopped by PID at the end, on error and on Ctrl-C.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the command-line flags.
type options struct {
	duration, warmup time.Duration
	conns            []int
	sessions         []int
	invites          int
	seed             int
	startups         int
	rounds           int
	dir              string
	keep             bool
	jsonPath         string
	xmppInvites      string
	database         string // PostgreSQL measured beside SQLite: a URL, or pgPrivate
	skip             map[string]bool
}

// Parts that -skip accepts.
var skippable = []string{"prosody", "adhoc", "seed", "landing", "synced"}

func main() {
	// The hidden child mode: the trivial handler, re-executed from this
	// binary so that it is a process of its own like the other servers.
	if len(os.Args) == 4 && os.Args[1] == "-ceiling" {
		if err := runCeiling(os.Args[2], os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, "ceiling:", err)
			os.Exit(1)
		}
		return
	}
	opts, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "invites-bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	res, err := run(ctx, opts, os.Stderr)
	stop()
	if res != nil {
		printReport(os.Stdout, res)
		if opts.jsonPath != "" {
			if werr := writeJSON(opts.jsonPath, res); werr != nil {
				fmt.Fprintln(os.Stderr, "invites-bench:", werr)
				err = errors.Join(err, werr)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "invites-bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("invites-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var conns, sessions, skip string
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "measurement time of each HTTP and XMPP test")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "warm-up before each measurement (not counted)")
	fs.StringVar(&conns, "conns", "1,16", "HTTP connection counts, comma-separated (targets are judged at 16)")
	fs.StringVar(&sessions, "sessions", "1,4", "XMPP client session counts for the ad-hoc command test")
	fs.IntVar(&o.invites, "invites", 100_000, "invites in the database when xmpp-invites' RSS is read")
	fs.IntVar(&o.seed, "seed", 1_000_000, "invites in the database for the start-up and query-plan tests")
	fs.IntVar(&o.startups, "startups", 3, "how many times serve is started on the seeded database")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds of invite creation, then of the landing page, at 16 connections, each server back to back; the creation and landing targets judge their means")
	fs.StringVar(&o.dir, "dir", "", "parent of the work directory (databases live there: use the disk you mean to measure; default $TMPDIR)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (configs, logs, databases)")
	fs.StringVar(&o.jsonPath, "json", "", "also write the results as JSON to this `file`")
	fs.StringVar(&o.xmppInvites, "xmpp-invites", "", "use this xmpp-invites `binary` instead of building cmd/xmpp-invites")
	fs.StringVar(&o.database, "database", "", "also measure creation and the landing page on this PostgreSQL `URL` (loopback only; fresh schemas, dropped at the end), or on a private durable cluster with \"pgtest\"")
	fs.StringVar(&skip, "skip", "", "parts to leave out, comma-separated: "+strings.Join(skippable, ","))
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./cmd/invites-bench [flags]\n\nRun from the module root. Flags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if o.conns, err = parseCounts(conns); err != nil {
		return o, fmt.Errorf("-conns: %w", err)
	}
	if o.sessions, err = parseCounts(sessions); err != nil {
		return o, fmt.Errorf("-sessions: %w", err)
	}
	o.skip = map[string]bool{}
	for _, s := range strings.Split(skip, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !contains(skippable, s) {
			return o, fmt.Errorf("-skip: unknown part %q (want %s)", s, strings.Join(skippable, ", "))
		}
		o.skip[s] = true
	}
	if o.database != "" {
		if err := checkDatabase(o.database); err != nil {
			return o, fmt.Errorf("-database: %w", err)
		}
	}
	if o.duration <= 0 || o.warmup < 0 || o.invites < 0 || o.seed < 0 || o.startups < 1 ||
		o.rounds < 1 || o.rounds > 20 {
		return o, errors.New("durations, -invites, -seed and -startups must be positive, -rounds from 1 to 20")
	}
	return o, nil
}

// parseCounts parses "1,16" into [1 16].
func parseCounts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 1024 {
			return nil, fmt.Errorf("%q is not a count from 1 to 1024", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func writeJSON(path string, res *results) error {
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}
