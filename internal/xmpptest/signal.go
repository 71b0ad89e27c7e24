package xmpptest

import (
	"syscall"
	"testing"
)

// Pause stops the server process with SIGSTOP: it keeps its connections
// and reads nothing, as a server stalled by swapping or a debugger would.
// Resume lets it go on.
func (s *Server) Pause(t testing.TB) {
	t.Helper()
	s.signal(t, syscall.SIGSTOP)
}

// Resume continues a paused server with SIGCONT.
func (s *Server) Resume(t testing.TB) {
	t.Helper()
	s.signal(t, syscall.SIGCONT)
}

func (s *Server) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil || s.proc.Exited() {
		t.Fatalf("xmpptest: %v: %s is not running", sig, s.Kind)
	}
	if err := s.proc.Signal(sig); err != nil {
		t.Fatalf("xmpptest: %v %s: %v", sig, s.Kind, err)
	}
}
