package xmpptest

import "syscall"

// sysProcAttr puts the server in its own process group, so Kill reaches its
// helpers, and has the kernel kill it if the test binary dies first (a test
// timeout panics without running cleanups). Pdeathsig follows the OS thread
// that started the server; the Go runtime only ends threads of goroutines
// that exit while locked with runtime.LockOSThread, which callers must not
// do around Start or Restart.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
