package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/procfs"
)

// filesystem describes the file system a directory is on.
type filesystem struct {
	Dir     string `json:"dir"`
	Type    string `json:"type"`    // e.g. "ext4"
	Source  string `json:"source"`  // the mounted device
	Mount   string `json:"mount"`   // the mount point
	Options string `json:"options"` // mount options
	// Volatile is set for file systems where fsync proves nothing
	// (tmpfs, ramfs): durability figures measured there are meaningless.
	Volatile bool `json:"volatile"`
}

// statFS finds the file system of dir: the mount with the longest mount
// point that contains it.
func statFS(dir string) (filesystem, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return filesystem{}, err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	fs := filesystem{Dir: abs}
	mounts, err := procfs.GetMounts()
	if err != nil {
		return fs, fmt.Errorf("mountinfo: %w", err)
	}
	best := -1
	for _, m := range mounts {
		if rel, err := filepath.Rel(m.MountPoint, abs); err != nil || strings.HasPrefix(rel, "..") || len(m.MountPoint) <= best {
			continue
		}
		best = len(m.MountPoint)
		fs.Mount, fs.Type, fs.Source = m.MountPoint, m.FSType, m.Source
		fs.Options = strings.Join(slices.Sorted(maps.Keys(m.Options)), ",")
	}
	fs.Volatile = fs.Type == "tmpfs" || fs.Type == "ramfs"
	return fs, nil
}

// fsyncResult is the latency of a durable 4 KiB write.
type fsyncResult struct {
	Writes  int     `json:"writes"`
	Latency latency `json:"latency"`
}

// Sizes of the fsync probe: a WAL-sized file, overwritten 4 KiB at a time.
const (
	probeBlock = 4 << 10
	probeFile  = 4 << 20
)

// measureFsync writes 4 KiB and calls fdatasync, over and over, for dur (at
// most maxWrites times) in dir, the database's directory. The file is
// allocated and synced first, so each write overwrites blocks in place, as
// SQLite does with a WAL file that is reused after a checkpoint.
func measureFsync(ctx context.Context, dir string, dur time.Duration, maxWrites int) (fsyncResult, error) {
	path := filepath.Join(dir, "fsync-probe")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o600)
	if err != nil {
		return fsyncResult{}, fmt.Errorf("fsync probe: %w", err)
	}
	defer os.Remove(path)
	defer f.Close()
	block := make([]byte, probeBlock)
	for i := range block {
		block[i] = byte(i)
	}
	for off := int64(0); off < probeFile; off += probeBlock {
		if _, err := f.WriteAt(block, off); err != nil {
			return fsyncResult{}, fmt.Errorf("fsync probe: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		return fsyncResult{}, fmt.Errorf("fsync probe: %w", err)
	}
	fd := int(f.Fd())
	lat := make([]time.Duration, 0, maxWrites)
	until := time.Now().Add(dur)
	for i := 0; i < maxWrites && time.Now().Before(until) && ctx.Err() == nil; i++ {
		block[0] = byte(i) // a real change each time
		off := int64(i) * probeBlock % probeFile
		t0 := time.Now()
		if _, err := f.WriteAt(block, off); err != nil {
			return fsyncResult{}, fmt.Errorf("fsync probe: %w", err)
		}
		if err := syscall.Fdatasync(fd); err != nil {
			return fsyncResult{}, fmt.Errorf("fsync probe: fdatasync: %w", err)
		}
		lat = append(lat, time.Since(t0))
	}
	if err := ctx.Err(); err != nil {
		return fsyncResult{}, err
	}
	return fsyncResult{Writes: len(lat), Latency: summarize(lat)}, nil
}
