//go:build unix && !linux

package xmpptest

import "syscall"

// sysProcAttr puts the server in its own process group, so Kill reaches its
// helpers.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
