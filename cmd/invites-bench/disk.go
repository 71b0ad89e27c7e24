package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// filesystem describes the file system a directory is on.
type filesystem struct {
	Dir     string `json:"dir"`
	Type    string `json:"type"`    // from /proc/self/mountinfo, e.g. "ext4"
	Magic   string `json:"magic"`   // statfs f_type, the kernel's own answer
	Source  string `json:"source"`  // the mounted device
	Mount   string `json:"mount"`   // the mount point
	Options string `json:"options"` // mount options
	// Volatile is set for file systems where fsync proves nothing
	// (tmpfs, ramfs): durability figures measured there are meaningless.
	Volatile bool `json:"volatile"`
}

// Magic numbers of statfs f_type (linux/magic.h) for the usual suspects.
var fsMagic = map[int64]string{
	0xEF53:     "ext2/3/4",
	0x58465342: "xfs",
	0x9123683E: "btrfs",
	0x01021994: "tmpfs",
	0x858458f6: "ramfs",
	0x794c7630: "overlayfs",
	0x2fc12fc1: "zfs",
	0xF2F52010: "f2fs",
	0x6969:     "nfs",
	0x65735546: "fuse",
}

// statFS finds the file system of dir: the statfs magic number, and the
// mountinfo entry with the longest mount point that contains dir.
func statFS(dir string) (filesystem, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return filesystem{}, err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	fs := filesystem{Dir: abs}
	var st syscall.Statfs_t
	if err := syscall.Statfs(abs, &st); err != nil {
		return fs, fmt.Errorf("statfs %s: %w", abs, err)
	}
	magic := int64(st.Type)
	fs.Magic = fmt.Sprintf("0x%x", magic)
	if name, ok := fsMagic[magic]; ok {
		fs.Magic += " (" + name + ")"
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return fs, fmt.Errorf("mountinfo: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	best := -1
	for sc.Scan() {
		// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		a, b := strings.Fields(pre), strings.Fields(post)
		if len(a) < 6 || len(b) < 2 {
			continue
		}
		mnt := unescapeMount(a[4])
		if !within(abs, mnt) || len(mnt) <= best {
			continue
		}
		best = len(mnt)
		fs.Mount, fs.Type, fs.Source, fs.Options = mnt, b[0], b[1], a[5]
	}
	fs.Volatile = fs.Type == "tmpfs" || fs.Type == "ramfs" || magic == 0x01021994 || magic == 0x858458f6
	return fs, sc.Err()
}

// within reports whether path is mnt or below it.
func within(path, mnt string) bool {
	if mnt == "/" {
		return true
	}
	return path == mnt || strings.HasPrefix(path, mnt+"/")
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%o", &c); err == nil {
				b.WriteByte(byte(c))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
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
