package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// looseSetup writes a config whose component secret file (0640) and
// existing database (0644) group or others can read. The component server
// is a closed port, so the link fails at once.
func looseSetup(t *testing.T) (config, secretFile, database string) {
	t.Helper()
	dir := t.TempDir()
	secretFile = filepath.Join(dir, "secret")
	database = filepath.Join(dir, "invites.db")
	for _, f := range []struct {
		path, content string
		mode          os.FileMode
	}{{secretFile, "s3cret\n", 0o640}, {database, "", 0o644}} {
		if err := os.WriteFile(f.path, []byte(f.content), f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(f.path, f.mode); err != nil { // whatever the umask
			t.Fatal(err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	config = writeFile(t, "c.toml", fmt.Sprintf(`domain = "example.com"
public_url = "http://127.0.0.1:5380"
database = %q
[component]
jid = "invites.example.com"
server = %q
secret_file = %q
`, database, closed, secretFile))
	return config, secretFile, database
}

// cancelOn is a log sink that cancels when a line containing word arrives.
type cancelOn struct {
	syncBuffer
	word   string
	cancel context.CancelFunc
}

func (c *cancelOn) Write(p []byte) (int, error) {
	n, err := c.syncBuffer.Write(p)
	if strings.Contains(c.String(), c.word) {
		c.cancel()
	}
	return n, err
}

func TestServeWarnsAboutReadableFiles(t *testing.T) {
	config, secretFile, database := looseSetup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &cancelOn{word: "msg=serving", cancel: cancel}
	var out bytes.Buffer
	code := run(ctx, []string{"xmpp-invites", "--config", config, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "serve"}, &out, logs, mapEnv(nil))
	if code != 0 {
		t.Fatalf("serve: exit %d, log:\n%s", code, logs.String())
	}
	lines := strings.Split(logs.String(), "\n")
	for _, want := range []struct{ option, path, mode string }{
		{"component.secret_file", secretFile, "0640"},
		{"database", database, "0644"},
	} {
		found := false
		for _, l := range lines {
			if strings.Contains(l, "level=WARN") && strings.Contains(l, "option="+want.option) &&
				strings.Contains(l, "path="+want.path) && strings.Contains(l, "mode="+want.mode) {
				found = true
			}
		}
		if !found {
			t.Errorf("no warning naming %s %s with mode %s in the log:\n%s", want.option, want.path, want.mode, logs.String())
		}
	}
	if strings.Contains(logs.String(), "s3cret") {
		t.Error("the log shows the component secret")
	}
}

func TestCheckWarnsAboutReadableFiles(t *testing.T) {
	config, secretFile, database := looseSetup(t)
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"xmpp-invites", "--config", config, "check"}, &out, &errb, mapEnv(nil))
	if code != 1 { // the component server is not there
		t.Fatalf("check: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	for _, want := range []string{
		"warning: component.secret_file " + secretFile + " has mode 0640",
		"warning: database " + database + " has mode 0644",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("check output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestPrivateFilesNotWarnedAbout(t *testing.T) {
	config, secretFile, database := looseSetup(t)
	for _, p := range []string{secretFile, database} {
		if err := os.Chmod(p, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb bytes.Buffer
	run(context.Background(), []string{"xmpp-invites", "--config", config, "check"}, &out, &errb, mapEnv(nil))
	if strings.Contains(out.String(), "warning") || strings.Contains(errb.String(), "mode=") {
		t.Errorf("private files warned about:\nstdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	}
}
