// Command xmpp-invites gives an XMPP server invite-based onboarding. It runs
// as an XEP-0114 component beside the server, serves the invite API and pages
// over HTTP, and manages API keys and invites from the command line.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"xmpp-invites/keystore"
)

// version is set at build time with -ldflags "-X main.version=…"
// (packaging/deb.sh stamps it); otherwise init asks the Go toolchain.
var version string

func init() {
	version = resolveVersion(version, debug.ReadBuildInfo)
}

// resolveVersion returns the version --version prints: the stamped one, else
// the main module's version from the build information ("v1.2.3" from go
// install or a tagged checkout, printed without the "v"), else "devel".
func resolveVersion(stamped string, buildInfo func() (*debug.BuildInfo, bool)) string {
	if stamped != "" {
		return stamped
	}
	if bi, ok := buildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return strings.TrimPrefix(bi.Main.Version, "v")
	}
	return "devel"
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdout, os.Stderr, os.LookupEnv)
	stop()
	os.Exit(code)
}

// exitError carries an exit status and a message for stderr.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// Exit statuses.
const (
	exitFailure = 1 // not found, operational failure
	exitUsage   = 2 // usage and configuration errors
)

func usageErr(format string, args ...any) error {
	return &exitError{code: exitUsage, msg: fmt.Sprintf(format, args...)}
}

func failErr(format string, args ...any) error {
	return &exitError{code: exitFailure, msg: fmt.Sprintf(format, args...)}
}

// run is the whole program; main and tests call it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) (string, bool)) int {
	return runApp(ctx, &appState{stdout: stdout, stderr: stderr, env: env, terminal: isTerminal(stdout)}, args)
}

// runApp runs the command line args with a's outputs and environment.
func runApp(ctx context.Context, a *appState, args []string) int {
	err := newApp(a).RunContext(ctx, args)
	if err == nil {
		return 0
	}
	code := exitUsage
	var ee *exitError
	var ce *configError
	switch {
	case errors.As(err, &ee):
		code = ee.code
	case errors.As(err, &ce):
		code = exitUsage
	}
	fmt.Fprintf(a.stderr, "Error: %s\n", err)
	return code
}

// env wraps a lookup function for use from commands.
type envFunc func(string) (string, bool)

func newApp(a *appState) *cli.App {
	return &cli.App{
		Name:            "xmpp-invites",
		Usage:           "invite-based onboarding for any XMPP server",
		Version:         version,
		Writer:          a.stdout,
		ErrWriter:       a.stderr,
		HideHelpCommand: true,
		ExitErrHandler:  func(*cli.Context, error) {}, // run decides the status
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return usageErr("%v", err)
		},
		Flags: []cli.Flag{
			// XMPP_INVITES_CONFIG is read in appState.config, through the
			// injected environment, not urfave/cli's os.Getenv.
			&cli.StringFlag{Name: "config", Usage: "config `FILE` (TOML; env XMPP_INVITES_CONFIG)"},
			&cli.StringFlag{Name: "database", Usage: "SQLite database `FILE` or postgres:// URL (overrides database)"},
			&cli.StringFlag{Name: "listen", Usage: "HTTP listen `ADDR` (overrides http.listen)"},
			&cli.StringFlag{Name: "admin-listen", Usage: "admin listener `ADDR` for /metrics and the /readyz detail; \"\" turns it off (overrides http.admin_listen)"},
			&cli.StringFlag{Name: "log-level", Usage: "debug, info, warn or error (overrides log_level)"},
		},
		Commands: []*cli.Command{
			a.serveCommand(),
			a.keyCommand(),
			a.inviteCommand(),
			a.circleCommand(),
			a.checkCommand(),
			a.migrateCommand(),
		},
		CommandNotFound: func(c *cli.Context, name string) {
			fmt.Fprintf(a.stderr, "Error: unknown command %q (see --help)\n", name)
		},
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usageErr("unknown command %q (see --help)", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
	}
}

// appState is what every command reads besides its flags: the outputs and
// the environment (injected, so tests run commands in process).
type appState struct {
	stdout, stderr io.Writer
	env            envFunc
	terminal       bool // stdout is a terminal: list commands print a header
}

// config loads and validates the configuration named by the global flags;
// with [[domains]] tables it is the first domain's (configs has them all).
func (a *appState) config(c *cli.Context) (Config, error) {
	cfgs, err := a.configs(c)
	if err != nil {
		return Config{}, err
	}
	return cfgs[0], nil
}

// configs loads and validates the configuration named by the global flags:
// one Config per domain.
func (a *appState) configs(c *cli.Context) ([]Config, error) {
	path := c.String("config")
	if path == "" {
		if v, ok := a.env("XMPP_INVITES_CONFIG"); ok {
			path = v
		}
	}
	if path == "" {
		return nil, &configError{msg: "no config file: pass --config FILE or set XMPP_INVITES_CONFIG"}
	}
	flags := overrides{
		Database: c.String("database"),
		Listen:   c.String("listen"),
		LogLevel: c.String("log-level"),
	}
	if c.IsSet("admin-listen") {
		v := c.String("admin-listen")
		flags.AdminListen = &v
	}
	return loadConfigs(path, a.env, flags)
}

// logger builds the process logger from the config.
func (a *appState) logger(cfg Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // validated in loadConfig
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: durationText}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(a.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(a.stderr, opts))
}

// durationText writes durations as text ("1.2s", "6ms") in every log
// format: the JSON handler would otherwise write nanoseconds.
func durationText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.String(a.Key, a.Value.Duration().String())
	}
	return a
}

// positional checks a command's positional arguments: exactly min..max of
// them, none looking like a flag (urfave/cli stops parsing flags at the first
// positional argument, so a late flag would otherwise be taken as a value).
func positional(c *cli.Context, min, max int, usage string) ([]string, error) {
	args := c.Args().Slice()
	for _, arg := range args {
		if strings.HasPrefix(arg, "-") && arg != "-" {
			return nil, usageErr("%q looks like a flag: flags go before arguments (usage: %s %s)", arg, c.Command.HelpName, usage)
		}
	}
	if len(args) < min || len(args) > max {
		return nil, usageErr("wrong number of arguments (usage: %s %s)", c.Command.HelpName, usage)
	}
	return args, nil
}

// hostStore starts a management command: it checks the positional
// arguments (HOST first, then min-1..max-1 more, returned without HOST),
// loads the config, checks HOST and opens the store, which the caller
// closes.
func (a *appState) hostStore(c *cli.Context, min, max int, usage string) (Config, *keystore.Store, []string, error) {
	args, err := positional(c, min, max, usage)
	if err != nil {
		return Config{}, nil, nil, err
	}
	cfgs, err := a.configs(c)
	if err != nil {
		return Config{}, nil, nil, err
	}
	cfg, err := hostConfig(cfgs, args[0])
	if err != nil {
		return Config{}, nil, nil, err
	}
	st, err := openStore(c.Context, cfg, keystore.Options{})
	if err != nil {
		return Config{}, nil, nil, err
	}
	return cfg, st, args[1:], nil
}

// hostConfig keeps the prosodyctl shape: HOST must be a configured domain,
// whose Config it returns.
func hostConfig(cfgs []Config, host string) (Config, error) {
	for _, cfg := range cfgs {
		if host == cfg.Domain {
			return cfg, nil
		}
	}
	return Config{}, failErr("please supply a valid host")
}
