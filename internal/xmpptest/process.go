package xmpptest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Process is a child process started by StartProcess: a server under test,
// in a process group of its own, whose output goes to a log file. The
// harness runs XMPP servers as Processes; cmd/invites-bench runs its other
// servers (xmpp-invites, its trivial handler) the same way.
type Process struct {
	cmd   *exec.Cmd
	log   string        // stdout and stderr, appended
	begin time.Time     // exec
	done  chan struct{} // closed when the process has been reaped
	err   error         // Wait's result, valid after done
}

// StartProcess starts cmd with its output appended to logPath, in its own
// process group (so Kill reaches its helpers, and a Ctrl-C in a terminal
// reaches only the parent, which stops it) and, on Linux, with SIGKILL if
// the parent dies first (a test timeout panics without running cleanups).
func StartProcess(cmd *exec.Cmd, logPath string) (*Process, error) {
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer out.Close() // the child has its own copy
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	p := &Process{cmd: cmd, log: logPath, begin: time.Now(), done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// PID is the process ID.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the process has exited (and been reaped).
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is how the process ended (Wait's result) once Exited; nil before.
func (p *Process) Err() error {
	if !p.Exited() {
		return nil
	}
	return p.err
}

// WaitReady polls ready every interval until it reports true, and returns
// the time from exec to then. It fails when the process exits first or
// timeout (from exec) passes; on a timeout the process is killed.
func (p *Process) WaitReady(timeout, interval time.Duration, ready func() bool) (time.Duration, error) {
	deadline := p.begin.Add(timeout)
	for {
		if p.Exited() {
			return 0, fmt.Errorf("exited during startup after %v: %v", time.Since(p.begin).Round(time.Millisecond), p.err)
		}
		if ready() {
			return time.Since(p.begin), nil
		}
		if time.Now().After(deadline) {
			_ = p.Kill()
			return 0, fmt.Errorf("not ready after %v", timeout)
		}
		time.Sleep(interval)
	}
}

// Kill sends SIGKILL to the process and its group and waits until it is
// reaped.
func (p *Process) Kill() error {
	if p.Exited() {
		return nil
	}
	pid := p.PID()
	// The group: ejabberd's beam has an erl_child_setup helper.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("pid %d still alive 10s after SIGKILL", pid)
	}
}

// Stop sends SIGTERM and waits; after timeout it kills the process and its
// group. It is safe to call more than once.
func (p *Process) Stop(timeout time.Duration) {
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.Kill()
	}
}

// Signal sends sig to the process (not its group).
func (p *Process) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return fmt.Errorf("pid %d has exited", p.PID())
	}
	return syscall.Kill(p.PID(), sig)
}

// LogTail returns the last lines of the process's output.
func (p *Process) LogTail() string { return tail(p.log) }

// tail returns the last 40 lines of a file, or "" if it is missing or empty.
func tail(name string) string {
	data, err := os.ReadFile(name)
	if err != nil || len(bytes.TrimSpace(data)) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

// FreePorts returns n distinct free TCP ports on 127.0.0.1. The listeners
// are held until all ports are chosen so the kernel cannot hand one out
// twice.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
