package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopTimeout is how long a child gets after SIGTERM before SIGKILL.
const stopTimeout = 10 * time.Second

// proc is a child process: a server under test.
type proc struct {
	name  string
	log   string // its stdout and stderr
	cmd   *exec.Cmd
	start time.Time
	done  chan struct{} // closed once reaped
	err   error         // Wait's result, valid after done
}

// pid returns the child's process ID.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the child has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the child's PID and waits; after stopTimeout it
// SIGKILLs the PID and the process group the child leads. Safe to call
// more than once.
func (p *proc) stop() {
	if p.exited() {
		return
	}
	pid := p.pid()
	_ = syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(stopTimeout):
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL) // the group this child leads (Setpgid)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	<-p.done
}

// tail returns the last lines of the child's log, for error messages.
func (p *proc) tail() string {
	data, err := os.ReadFile(p.log)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}

// procs tracks every child so that all of them are stopped on any exit
// path: normal end, error, or Ctrl-C.
type procs struct {
	mu   sync.Mutex
	list []*proc
}

// start runs argv in dir with env, output appended to logPath. The child
// gets its own process group (a Ctrl-C in the terminal reaches only this
// process, which then stops the children in order) and SIGKILL if this
// process dies without cleaning up.
func (ps *procs) start(name, dir, logPath string, env []string, argv ...string) (*proc, error) {
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	defer out.Close() // the child has its own descriptor
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &proc{name: name, log: logPath, cmd: cmd, done: make(chan struct{})}
	p.start = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	ps.mu.Lock()
	ps.list = append(ps.list, p)
	ps.mu.Unlock()
	return p, nil
}

// stopAll stops every child still running, newest first.
func (ps *procs) stopAll() {
	ps.mu.Lock()
	list := ps.list
	ps.list = nil
	ps.mu.Unlock()
	for i := len(list) - 1; i >= 0; i-- {
		list[i].stop()
	}
}

// memory is a process's resident set from /proc/PID/status.
type memory struct {
	RSS int64 `json:"vm_rss_bytes"` // VmRSS: resident now
	HWM int64 `json:"vm_hwm_bytes"` // VmHWM: peak resident
}

// readMemory reads VmRSS and VmHWM of pid.
func readMemory(pid int) (memory, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return memory{}, fmt.Errorf("memory of pid %d: %w", pid, err)
	}
	var m memory
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		f := strings.Fields(v) // "12345 kB"
		if len(f) != 2 || f[1] != "kB" {
			return memory{}, fmt.Errorf("memory of pid %d: odd %s line %q", pid, k, v)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return memory{}, fmt.Errorf("memory of pid %d: %w", pid, err)
		}
		if k == "VmRSS" {
			m.RSS = n << 10
		} else {
			m.HWM = n << 10
		}
	}
	if m.RSS == 0 {
		return memory{}, fmt.Errorf("memory of pid %d: no VmRSS (exited?)", pid)
	}
	return m, nil
}

// freePorts returns n distinct free TCP ports on 127.0.0.1. The listeners
// are held until all are chosen, so none is handed out twice.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// waitFor polls ok every interval until it returns true, p exits, or
// timeout passes. It returns the time from p's exec to success.
func waitFor(p *proc, timeout, interval time.Duration, ok func() bool) (time.Duration, error) {
	deadline := p.start.Add(timeout)
	for {
		if ok() {
			return time.Since(p.start), nil
		}
		if p.exited() {
			return 0, fmt.Errorf("%s exited during startup (%v); log:\n%s", p.name, p.err, p.tail())
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s not ready after %v; log:\n%s", p.name, timeout, p.tail())
		}
		time.Sleep(interval)
	}
}

// childEnv is this process's environment with HOME replaced, so servers
// and their tools read no per-user configuration.
func childEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "XMPP_INVITES_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+home)
}
