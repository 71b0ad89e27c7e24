package main

import (
	"os"
	"time"

	"github.com/prometheus/procfs"
)

// cpuSample is a snapshot of CPU time in seconds: the whole machine's busy
// time, this process's (the load generator), and the servers' under test.
type cpuSample struct {
	at         time.Time
	busy, self float64
	servers    map[int]float64 // by PID
}

// cpuUse is CPU time over a measurement, in cores (1.0 = one CPU busy for
// the whole time).
type cpuUse struct {
	Server float64 `json:"server_cores"`
	Client float64 `json:"client_cores"` // this process: the load generator
	Other  float64 `json:"other_cores"`  // everything else on the machine
}

// sampleCPU reads /proc for the machine, this process and pids. Errors
// read as zero: CPU accounting is context, not a result.
func sampleCPU(pids ...int) cpuSample {
	s := cpuSample{at: time.Now(), self: procCPU(os.Getpid()), servers: map[int]float64{}}
	for _, pid := range pids {
		s.servers[pid] = procCPU(pid)
	}
	if st, err := procfs.NewDefaultFS(); err == nil {
		if stat, err := st.Stat(); err == nil {
			c := stat.CPUTotal
			s.busy = c.User + c.Nice + c.System + c.IRQ + c.SoftIRQ + c.Steal
		}
	}
	return s
}

// procCPU is a process's user and system time.
func procCPU(pid int) float64 {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return 0
	}
	st, err := p.Stat()
	if err != nil {
		return 0
	}
	return st.CPUTime()
}

// since returns the CPU used between a and b, in cores. The servers are
// b's: a process that started in between (a PostgreSQL backend of a pool
// growing during the warm-up) counts whole, one that ended does not.
func (b cpuSample) since(a cpuSample) cpuUse {
	secs := b.at.Sub(a.at).Seconds()
	if secs <= 0 {
		return cpuUse{}
	}
	srv := 0.0
	for pid, t := range b.servers {
		srv += t - a.servers[pid]
	}
	busy, self := b.busy-a.busy, b.self-a.self
	return cpuUse{Server: srv / secs, Client: self / secs, Other: max(busy-self-srv, 0) / secs}
}

// memory is a process's resident set.
type memory struct {
	RSS int64 `json:"vm_rss_bytes"` // VmRSS: resident now
	HWM int64 `json:"vm_hwm_bytes"` // VmHWM: peak resident
}

// readMemory reads VmRSS and VmHWM of pid.
func readMemory(pid int) (memory, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return memory{}, err
	}
	st, err := p.NewStatus()
	if err != nil {
		return memory{}, err
	}
	return memory{RSS: int64(st.VmRSS), HWM: int64(st.VmHWM)}, nil
}
