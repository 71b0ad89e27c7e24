package packaging

import (
	"bufio"
	"crypto/sha1"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// built is the package deb.sh made for this test run. Building takes most of
// a minute, so it is built once and shared by the tests.
type built struct {
	deb     string // the .deb
	root    string // its files, extracted with dpkg-deb -x
	control string // its control files, extracted with dpkg-deb -e
	err     error
}

var (
	buildOnce sync.Once
	pkg       built
	workDir   string // removed when the tests end
)

func TestMain(m *testing.M) {
	code := m.Run()
	if workDir != "" {
		os.RemoveAll(workDir)
	}
	os.Exit(code)
}

// needTools skips the test when a tool is missing, and fails it under
// CI=true: CI must not pass by skipping.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is missing (./test.sh --install-deps installs it)", tool)
			}
			t.Skipf("%s is missing (./test.sh --install-deps installs it)", tool)
		}
	}
}

// debPackage builds the package with deb.sh on first use.
func debPackage(t *testing.T) built {
	t.Helper()
	needTools(t, "dpkg-deb", "gcc", "objdump", "git")
	buildOnce.Do(func() { pkg = buildPackage() })
	if pkg.err != nil {
		t.Fatal(pkg.err)
	}
	return pkg
}

func buildPackage() built {
	dir, err := os.MkdirTemp("", "xmpp-invites-deb-")
	if err != nil {
		return built{err: err}
	}
	workDir = dir
	// Other users run the extracted binary (TestPackagedBinaryAsServiceUser).
	if err := os.Chmod(dir, 0o755); err != nil {
		return built{err: err}
	}
	out := filepath.Join(dir, "out")
	b := built{root: filepath.Join(dir, "root"), control: filepath.Join(dir, "control")}
	if msg, err := exec.Command("./deb.sh", out).CombinedOutput(); err != nil {
		return built{err: fmt.Errorf("deb.sh %s: %v\n%s", out, err, msg)}
	}
	debs, _ := filepath.Glob(filepath.Join(out, "*.deb"))
	if len(debs) != 1 {
		return built{err: fmt.Errorf("deb.sh made %d .deb files in %s, want 1: %v", len(debs), out, debs)}
	}
	b.deb = debs[0]
	for _, args := range [][]string{{"-x", b.deb, b.root}, {"-e", b.deb, b.control}} {
		if msg, err := exec.Command("dpkg-deb", args...).CombinedOutput(); err != nil {
			return built{err: fmt.Errorf("dpkg-deb %v: %v\n%s", args, err, msg)}
		}
	}
	return b
}

func output(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("%s %v: %v\n%s", name, args, err, msg)
	}
	return string(out)
}

func TestPackageContents(t *testing.T) {
	b := debPackage(t)
	want := map[string]string{
		"./etc/xmpp-invites/":                       "drwxr-xr-x",
		"./etc/xmpp-invites/xmpp-invites.toml":      "-rw-r--r--",
		"./lib/systemd/system/xmpp-invites.service": "-rw-r--r--",
		"./usr/bin/xmpp-invites":                    "-rwxr-xr-x",
		"./usr/share/doc/xmpp-invites/CHANGELOG.md": "-rw-r--r--",
		"./usr/share/doc/xmpp-invites/README.md":    "-rw-r--r--",
	}
	// Every page of docs/, so the README's links work in /usr/share/doc.
	pages, err := filepath.Glob("../docs/*.md")
	if err != nil || len(pages) == 0 {
		t.Fatalf("docs/*.md: %v, %d pages", err, len(pages))
	}
	for _, p := range pages {
		want["./usr/share/doc/xmpp-invites/docs/"+filepath.Base(p)] = "-rw-r--r--"
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(output(t, "dpkg-deb", "-c", b.deb)), "\n") {
		// drwxr-xr-x root/root 0 2026-01-01 00:00 ./etc/
		f := strings.Fields(line)
		if len(f) != 6 {
			t.Fatalf("dpkg-deb -c line %q: want mode, owner, size, date, time and path", line)
		}
		if f[1] != "root/root" {
			t.Errorf("%s is owned by %s, want root/root", f[5], f[1])
		}
		got[f[5]] = f[0]
	}
	for path, mode := range want {
		if got[path] != mode {
			t.Errorf("%s: mode %q, want %q", path, got[path], mode)
		}
	}
	for path, mode := range got {
		if _, ok := want[path]; !ok && !strings.HasPrefix(mode, "d") {
			t.Errorf("unexpected file in the package: %s %s", mode, path)
		}
		if strings.HasPrefix(path, "./var/") {
			t.Errorf("%s is in the package; the state directory is made by postinst", path)
		}
	}

	conffiles, err := os.ReadFile(filepath.Join(b.control, "conffiles"))
	if err != nil || string(conffiles) != "/etc/xmpp-invites/xmpp-invites.toml\n" {
		t.Errorf("conffiles = %q (%v), want the config only", conffiles, err)
	}

	// The packaged config is the example config with the database in the
	// state directory: one line differs.
	example, err := os.ReadFile("../configs/xmpp-invites.toml")
	if err != nil {
		t.Fatal(err)
	}
	packaged, err := os.ReadFile(filepath.Join(b.root, "etc/xmpp-invites/xmpp-invites.toml"))
	if err != nil {
		t.Fatal(err)
	}
	el, pl := strings.Split(string(example), "\n"), strings.Split(string(packaged), "\n")
	if len(el) != len(pl) {
		t.Fatalf("packaged config has %d lines, the example %d", len(pl), len(el))
	}
	changed := 0
	for i := range el {
		if el[i] == pl[i] {
			continue
		}
		changed++
		if !strings.HasPrefix(pl[i], `database   = "/var/lib/xmpp-invites/invites.db" #`) {
			t.Errorf("packaged config line %d = %q, example %q: only the database line may differ", i+1, pl[i], el[i])
		}
	}
	if changed != 1 {
		t.Errorf("packaged config differs from the example in %d lines, want 1 (database)", changed)
	}
	// The listeners are explicit in the packaged config (SPEC: public 5380, admin 5381).
	for _, re := range []string{`(?m)^listen\s*=\s*"127\.0\.0\.1:5380"`, `(?m)^admin_listen\s*=\s*"127\.0\.0\.1:5381"`} {
		if !regexp.MustCompile(re).Match(packaged) {
			t.Errorf("packaged config has no line matching %s", re)
		}
	}
}

// controlFields parses a Debian control file (continuation lines joined
// with "\n").
func controlFields(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	var last string
	for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		if strings.HasPrefix(line, " ") && last != "" {
			fields[last] += "\n" + strings.TrimSpace(line)
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("control line %q", line)
		}
		last = k
		fields[k] = strings.TrimSpace(v)
	}
	return fields
}

func TestPackageControl(t *testing.T) {
	b := debPackage(t)
	c := controlFields(t, filepath.Join(b.control, "control"))
	if c["Package"] != "xmpp-invites" {
		t.Errorf("Package = %q", c["Package"])
	}
	if arch := strings.TrimSpace(output(t, "dpkg", "--print-architecture")); c["Architecture"] != arch {
		t.Errorf("Architecture = %q, want this machine's %q", c["Architecture"], arch)
	}
	// The version deb.sh stamps into the binary is the package's version.
	binVersion := strings.TrimSpace(output(t, filepath.Join(b.root, "usr/bin/xmpp-invites"), "--version"))
	if want := "xmpp-invites version " + c["Version"]; binVersion != want {
		t.Errorf("packaged binary --version = %q, want %q", binVersion, want)
	}
	if !regexp.MustCompile(`^[0-9][0-9A-Za-z.+~]*$`).MatchString(c["Version"]) {
		t.Errorf("Version %q is not a Debian version without revision", c["Version"])
	}
	if !regexp.MustCompile(`^[^<>]+ <[^@<> ]+@[^<> ]+>$`).MatchString(c["Maintainer"]) {
		t.Errorf("Maintainer = %q, want Name <address>", c["Maintainer"])
	}
	if synopsis, long, _ := strings.Cut(c["Description"], "\n"); synopsis == "" || long == "" {
		t.Errorf("Description = %q, want a synopsis and a long description", c["Description"])
	}

	// Depends: adduser (postinst) and the glibc the cgo binary needs: the
	// newest GLIBC_ symbol version it references, satisfied by this machine.
	deps := map[string]string{}
	for _, d := range strings.Split(c["Depends"], ",") {
		name, ver, _ := strings.Cut(strings.TrimSpace(d), " ")
		deps[name] = ver
	}
	if _, ok := deps["adduser"]; !ok {
		t.Errorf("Depends = %q: adduser missing", c["Depends"])
	}
	var newest string
	for _, m := range regexp.MustCompile(`GLIBC_([0-9]+(?:\.[0-9]+)+)`).FindAllStringSubmatch(
		output(t, "objdump", "-T", filepath.Join(b.root, "usr/bin/xmpp-invites")), -1) {
		if newest == "" || exec.Command("dpkg", "--compare-versions", m[1], "gt", newest).Run() == nil {
			newest = m[1]
		}
	}
	if want := "(>= " + newest + ")"; newest == "" || deps["libc6"] != want {
		t.Errorf("Depends = %q, want libc6 %s", c["Depends"], want)
	}
	installed := output(t, "dpkg-query", "-W", "-f=${Version}", "libc6")
	if err := exec.Command("dpkg", "--compare-versions", installed, "ge", newest).Run(); err != nil {
		t.Errorf("this machine's libc6 %s does not satisfy libc6 (>= %s)", installed, newest)
	}
}

// TestMaintainerScripts runs the maintainer scripts with every command they
// call replaced by one that only records its arguments: nothing on this
// machine changes.
func TestMaintainerScripts(t *testing.T) {
	b := debPackage(t)
	started := regexp.MustCompile(`systemctl\s+(--[a-z-]+\s+)*(start|enable|restart|try-restart|reload-or-restart)\b|deb-systemd-invoke|invoke-rc\.d`)
	for _, name := range []string{"postinst", "prerm", "postrm"} {
		path := filepath.Join(b.control, name)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if fi.Mode().Perm() != 0o755 {
			t.Errorf("%s has mode %04o, want 0755", name, fi.Mode().Perm())
		}
		if msg, err := exec.Command("sh", "-n", path).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", name, err, msg)
		}
		script, _ := os.ReadFile(path)
		if m := started.Find(script); m != nil {
			t.Errorf("%s starts or enables the service (%q): nothing may start automatically", name, m)
		}
	}

	fake := t.TempDir()
	for _, cmd := range []string{"adduser", "deluser", "getent", "install", "rm", "rmdir", "systemctl"} {
		status := 0
		if cmd == "getent" {
			status = 2 // no such user yet
		}
		script := fmt.Sprintf("#!/bin/sh\necho \"%s $*\" >>\"$CALLS\"\nexit %d\n", cmd, status)
		if err := os.WriteFile(filepath.Join(fake, cmd), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	run := func(script string, args ...string) []string {
		t.Helper()
		calls := filepath.Join(t.TempDir(), "calls")
		cmd := exec.Command("/bin/sh", append([]string{filepath.Join(b.control, script)}, args...)...)
		cmd.Env = []string{"PATH=" + fake, "CALLS=" + calls}
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", script, args, err, msg)
		}
		data, _ := os.ReadFile(calls)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) == 1 && lines[0] == "" {
			lines = nil
		}
		for _, l := range lines {
			if started.MatchString(l) || strings.HasPrefix(l, "deluser") {
				t.Errorf("%s %v ran %q", script, args, l)
			}
		}
		return lines
	}
	has := func(calls []string, want string) bool {
		for _, c := range calls {
			if c == want {
				return true
			}
		}
		return false
	}

	calls := run("postinst", "configure")
	if !has(calls, "adduser --system --group --home /var/lib/xmpp-invites --no-create-home --quiet xmpp-invites") {
		t.Errorf("postinst configure did not create the system user: %q", calls)
	}
	if _, err := os.Stat("/var/lib/xmpp-invites"); os.IsNotExist(err) &&
		!has(calls, "install -d -m 0700 -o xmpp-invites -g xmpp-invites /var/lib/xmpp-invites") {
		t.Errorf("postinst configure did not make /var/lib/xmpp-invites 0700: %q", calls)
	}

	for _, args := range [][]string{{"remove"}, {"upgrade", "1.0.0"}} {
		for _, c := range append(run("prerm", args...), run("postrm", args...)...) {
			if strings.HasPrefix(c, "rm ") || strings.HasPrefix(c, "rmdir ") {
				t.Errorf("%v deletes files (%q): data and config stay until purge", args, c)
			}
		}
	}
	if calls := run("postrm", "purge"); !has(calls, "rm -rf /var/lib/xmpp-invites") {
		t.Errorf("postrm purge did not delete /var/lib/xmpp-invites: %q", calls)
	}
}

// verifyUnit runs systemd-analyze verify on unit saved as
// xmpp-invites.service; it returns the exit status and what systemd said
// about this unit (other units it loads may have warnings of their own).
func verifyUnit(t *testing.T, unit string) (int, []string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "xmpp-invites.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var about []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "xmpp-invites") {
			about = append(about, line)
		}
	}
	return code, about
}

func TestUnitVerifies(t *testing.T) {
	b := debPackage(t)
	needTools(t, "systemd-analyze")
	data, err := os.ReadFile(filepath.Join(b.root, "lib/systemd/system/xmpp-invites.service"))
	if err != nil {
		t.Fatal(err)
	}
	unit := string(data)
	lines := map[string]bool{}
	for _, l := range strings.Split(unit, "\n") {
		lines[strings.TrimSpace(l)] = true
		if strings.HasPrefix(l, "DynamicUser=") {
			t.Errorf("unit has %q: it runs as the package's static user", l)
		}
	}
	for _, want := range []string{
		"ExecStart=/usr/bin/xmpp-invites --config /etc/xmpp-invites/xmpp-invites.toml serve",
		"User=xmpp-invites",
		"LoadCredential=component-secret:/etc/xmpp-invites/secret",
		`SetCredential=component-secret:\n`,
		"StateDirectory=xmpp-invites",
		"StateDirectoryMode=0700",
		"UMask=0077",
		"SystemCallFilter=@system-service",
		"CapabilityBoundingSet=",
		"ProtectSystem=strict",
		"RestartPreventExitStatus=2",
	} {
		if !lines[want] {
			t.Errorf("unit lacks %q", want)
		}
	}

	const execStart = "ExecStart=/usr/bin/xmpp-invites "
	if strings.Count(unit, execStart) != 1 {
		t.Fatalf("unit has %d lines starting %q, want 1", strings.Count(unit, execStart), execStart)
	}
	bin := filepath.Join(b.root, "usr/bin/xmpp-invites")
	if code, about := verifyUnit(t, strings.Replace(unit, execStart, "ExecStart="+bin+" ", 1)); code != 0 || len(about) > 0 {
		t.Errorf("systemd-analyze verify: exit %d, %q; want 0 and nothing said", code, about)
	}
	// The same check fails when the binary is not there.
	missing := filepath.Join(b.root, "usr/bin/missing")
	if code, about := verifyUnit(t, strings.Replace(unit, execStart, "ExecStart="+missing+" ", 1)); code == 0 {
		t.Errorf("systemd-analyze verify with a missing binary: exit 0 (%q), want a failure", about)
	}
}

// serviceUser is the unprivileged user the packaged binary runs as, and a
// directory that user can enter.
func serviceUser(t *testing.T) (*syscall.Credential, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("running the binary as another user needs root (CI runs as root)")
		}
		t.Skip("running the binary as another user needs root")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	dir, err := os.MkdirTemp("", "xmpp-invites-user-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, dir
}

// layOut makes what systemd makes for the unit: the state directory (0700)
// and the credentials directory (0500, the credential 0400), both owned by
// the service's user.
func layOut(t *testing.T, cred *syscall.Credential, dir, secret string) (state, creds string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	uid, gid := int(cred.Uid), int(cred.Gid)
	must(os.MkdirAll(dir, 0o755))
	state, creds = filepath.Join(dir, "state"), filepath.Join(dir, "credentials")
	must(os.Mkdir(state, 0o700))
	must(os.Chown(state, uid, gid))
	must(os.Mkdir(creds, 0o700))
	secretFile := filepath.Join(creds, "component-secret")
	must(os.WriteFile(secretFile, []byte(secret), 0o400))
	must(os.Chown(secretFile, uid, gid))
	must(os.Chown(creds, uid, gid))
	must(os.Chmod(creds, 0o500))
	return state, creds
}

// asServiceUser prepares the packaged binary with the packaged config as
// the unit runs it: as cred, umask 0077, in the state directory, with
// $CREDENTIALS_DIRECTORY.
func asServiceUser(b built, cred *syscall.Credential, state, creds string, env []string, args ...string) *exec.Cmd {
	args = append([]string{"-c", `umask 077 && exec "$0" "$@"`, filepath.Join(b.root, "usr/bin/xmpp-invites"),
		"--config", filepath.Join(b.root, "etc/xmpp-invites/xmpp-invites.toml"),
		"--database", filepath.Join(state, "invites.db")}, args...)
	cmd := exec.Command("/bin/sh", args...)
	cmd.Dir = state
	// The admin listener (where the binary has one) is turned off, so that
	// the test needs no fixed port.
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "CREDENTIALS_DIRECTORY=" + creds, "XMPP_INVITES_HTTP_ADMIN_LISTEN="}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	return cmd
}

// TestPackagedBinaryAsServiceUser runs the packaged binary and config as an
// unprivileged user with the files laid out as the unit lays them out: it
// reads the component secret from the credential, writes its database in
// the state directory, and serves.
func TestPackagedBinaryAsServiceUser(t *testing.T) {
	b := debPackage(t)
	cred, dir := serviceUser(t)

	t.Run("credential", func(t *testing.T) {
		const secret = "s3cret-from-credential"
		state, creds := layOut(t, cred, filepath.Join(dir, "credential"), secret+"\n")
		server, digests := fakeXMPPServer(t)
		cmd := asServiceUser(b, cred, state, creds, []string{"XMPP_INVITES_COMPONENT_SERVER=" + server},
			"--listen", "127.0.0.1:0", "serve")
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var (
			mu      sync.Mutex
			logText strings.Builder
		)
		logged := func() string { mu.Lock(); defer mu.Unlock(); return logText.String() }
		addrs := make(chan string, 1)
		disabled := make(chan struct{}, 1)
		scanned := make(chan struct{})
		go func() {
			defer close(scanned)
			s := bufio.NewScanner(stderr)
			for s.Scan() {
				mu.Lock()
				logText.WriteString(s.Text() + "\n")
				mu.Unlock()
				if m := servingRE.FindStringSubmatch(s.Text()); m != nil {
					select {
					case addrs <- m[1]:
					default:
					}
				}
				if strings.Contains(s.Text(), "component.secret is empty") {
					select {
					case disabled <- struct{}{}:
					default:
					}
				}
			}
		}()
		stopped := false
		t.Cleanup(func() {
			if !stopped {
				cmd.Process.Kill()
				<-scanned
				cmd.Wait()
			}
		})

		var addr string
		select {
		case addr = <-addrs:
		case <-scanned:
			t.Fatalf("serve ended before serving:\n%s", logged())
		case <-time.After(time.Minute):
			t.Fatalf("serve did not start within a minute:\n%s", logged())
		}
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /healthz: %v %v\n%s", resp, err, logged())
		}
		resp.Body.Close()
		var digest string
		select {
		case digest = <-digests:
		case <-disabled:
			t.Fatalf("the component secret was not read from the credential:\n%s", logged())
		case <-time.After(time.Minute):
			t.Fatalf("no component handshake within a minute:\n%s", logged())
		}
		sum := sha1.Sum([]byte(fakeStreamID + secret))
		if digest != hex.EncodeToString(sum[:]) {
			t.Errorf("handshake %q is not made with the credential's secret", digest)
		}

		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		<-scanned
		err = cmd.Wait()
		stopped = true
		log := logged()
		if err != nil {
			t.Errorf("serve after SIGTERM: %v, want exit 0\n%s", err, log)
		}
		for _, bad := range []string{"permission denied", "component.secret is empty", secret} {
			if strings.Contains(strings.ToLower(log), strings.ToLower(bad)) {
				t.Errorf("the log contains %q:\n%s", bad, log)
			}
		}
		fi, err := os.Stat(filepath.Join(state, "invites.db"))
		if err != nil {
			t.Fatalf("database in the state directory: %v", err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != cred.Uid || fi.Mode().Perm() != 0o600 {
			t.Errorf("database owned by uid %d with mode %04o, want uid %d and 0600", st.Uid, fi.Mode().Perm(), cred.Uid)
		}
	})

	// Without /etc/xmpp-invites/secret the unit passes a credential holding
	// a line break: the packaged config runs as is, component disabled.
	t.Run("no secret file", func(t *testing.T) {
		state, creds := layOut(t, cred, filepath.Join(dir, "fallback"), "\n")
		out, err := asServiceUser(b, cred, state, creds, nil, "check").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "component: disabled") {
			t.Errorf("check with the fallback credential: %v, want exit 0 and the component disabled:\n%s", err, out)
		}
	})
}

const fakeStreamID = "packaging-test"

// servingRE finds the listen address in serve's start-up line.
var servingRE = regexp.MustCompile(`msg=serving addr=(\S+)`)

// fakeXMPPServer accepts component streams on a free loopback port, reports
// the handshake digest of the first, and closes every stream after the
// handshake (the component keeps retrying).
func fakeXMPPServer(t *testing.T) (string, <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	digests := make(chan string, 1)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
				d := xml.NewDecoder(conn)
				if start, err := nextStart(d); err != nil || start.Name.Local != "stream" {
					return
				}
				fmt.Fprintf(conn, "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "+
					"xmlns:stream='http://etherx.jabber.org/streams' from='invites.example.com' id='%s'>", fakeStreamID)
				start, err := nextStart(d)
				if err != nil || start.Name.Local != "handshake" {
					return
				}
				var hs struct {
					Value string `xml:",chardata"`
				}
				if d.DecodeElement(&hs, &start) == nil {
					select {
					case digests <- hs.Value:
					default:
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), digests
}

func nextStart(d *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se, nil
		}
	}
}

// TestVersionScript checks the versions version.sh derives from git, and
// that Debian orders them as releases are made.
func TestVersionScript(t *testing.T) {
	needTools(t, "git", "dpkg")
	repo := t.TempDir()
	if err := os.Mkdir(filepath.Join(repo, "packaging"), 0o755); err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("version.sh")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "packaging", "version.sh"), script, 0o755); err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com",
			"-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}, args...)...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	version := func() string {
		t.Helper()
		cmd := exec.Command(filepath.Join(repo, "packaging", "version.sh"))
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("version.sh: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	commit := func(content string) string {
		t.Helper()
		if err := os.WriteFile(filepath.Join(repo, "file"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		git("add", "-A")
		git("commit", "-q", "-m", content)
		return git("rev-parse", "--short=7", "HEAD")
	}

	git("init", "-q")
	var seen []string
	check := func(want string) {
		t.Helper()
		if got := version(); got != want {
			t.Errorf("version.sh = %q, want %q", got, want)
		}
		seen = append(seen, want)
	}
	h := commit("one")
	check("0.0.0+g" + h)
	git("tag", "v1.0.0")
	check("1.0.0")
	h = commit("two")
	check("1.0.0+1.g" + h)
	if err := os.WriteFile(filepath.Join(repo, "file"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	check("1.0.0+1.g" + h + ".dirty")
	git("checkout", "-q", "--", "file")
	git("tag", "v1.1.0-rc1")
	check("1.1.0~rc1")
	commit("three")
	git("tag", "v1.1.0")
	check("1.1.0")

	// Debian's order of the versions, oldest first (the dirty build sorts
	// after its commit).
	sorted := append([]string(nil), seen...)
	sort.SliceStable(sorted, func(i, j int) bool {
		return exec.Command("dpkg", "--compare-versions", sorted[i], "lt", sorted[j]).Run() == nil
	})
	if strings.Join(sorted, " ") != strings.Join(seen, " ") {
		t.Errorf("Debian orders the versions %q, want the order they were made: %q", sorted, seen)
	}
}
