package keystore

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ErrLocked: a serve holds the database's instance lock.
var ErrLocked = errors.New("a running serve holds this database")

// LockedError names the process holding the instance lock.
type LockedError struct {
	Path string
	PID  int // 0 when the lock file does not say
}

func (e *LockedError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("%s is in use by a running serve (pid %d)", e.Path, e.PID)
	}
	return e.Path + " is in use by a running serve"
}

// Unwrap makes a *LockedError an ErrLocked.
func (e *LockedError) Unwrap() error { return ErrLocked }

// Lock is the instance lock of a database file: serve holds it while it
// runs, migrate takes it while it upgrades the schema, and check asks
// whether it is held. It is an flock(2) on DATABASE.lock, so it goes with
// the process, however the process ends.
type Lock struct{ f *os.File }

// LockPath is the file the instance lock of the database at path lives in.
func LockPath(path string) string { return path + ".lock" }

// TakeLock takes the instance lock of the database at path without
// waiting. A held lock is a *LockedError.
func TakeLock(path string) (*Lock, error) {
	lp := LockPath(path)
	f, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("instance lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b := make([]byte, 32)
		n, _ := f.ReadAt(b, 0)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b[:n])))
			return nil, &LockedError{Path: path, PID: pid}
		}
		return nil, fmt.Errorf("instance lock %s: %w", lp, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// LockHeld reports whether a running process holds the instance lock of the
// database at path, as a *LockedError, or nil.
func LockHeld(path string) error {
	if _, err := os.Stat(LockPath(path)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	l, err := TakeLock(path)
	if err != nil {
		return err
	}
	return l.Release()
}

// Release lets the lock go. The file stays: removing it would race with a
// process that opened it and is about to lock it.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	l.f.Truncate(0)
	err := l.f.Close()
	l.f = nil
	return err
}
