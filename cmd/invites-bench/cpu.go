package main

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc CPU times: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// cpuSample is a snapshot of CPU time: the whole machine's busy time, this
// process's (the load generator), and the servers' under test.
type cpuSample struct {
	at      time.Time
	busy    uint64 // all CPUs, every process: user+nice+system+irq+softirq+steal
	self    uint64
	servers uint64
}

// cpuUse is CPU time over a measurement, in cores (1.0 = one CPU busy for
// the whole time).
type cpuUse struct {
	Server float64 `json:"server_cores"`
	Client float64 `json:"client_cores"` // this process: the load generator
	Other  float64 `json:"other_cores"`  // everything else on the machine
}

// sampleCPU reads /proc/stat and the CPU times of this process and pids.
// Errors read as zero: CPU accounting is context, not a result.
func sampleCPU(pids ...int) cpuSample {
	s := cpuSample{at: time.Now(), self: procTicks("self")}
	for _, pid := range pids {
		s.servers += procTicks(strconv.Itoa(pid))
	}
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 9 || f[0] != "cpu" {
		return s
	}
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		v, _ := strconv.ParseUint(f[i], 10, 64)
		s.busy += v
	}
	return s
}

// procTicks returns utime+stime of /proc/ID/stat.
func procTicks(id string) uint64 {
	data, err := os.ReadFile("/proc/" + id + "/stat")
	if err != nil {
		return 0
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(data[i+1:])) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseUint(f[11], 10, 64) // field 14
	stime, _ := strconv.ParseUint(f[12], 10, 64) // field 15
	return utime + stime
}

// since returns the CPU used between a and b, in cores.
func (b cpuSample) since(a cpuSample) cpuUse {
	secs := b.at.Sub(a.at).Seconds()
	if secs <= 0 {
		return cpuUse{}
	}
	cores := func(ticks uint64) float64 { return float64(ticks) / clockTicks / secs }
	busy, self, srv := b.busy-a.busy, b.self-a.self, b.servers-a.servers
	u := cpuUse{Server: cores(srv), Client: cores(self)}
	if busy > self+srv {
		u.Other = cores(busy - self - srv)
	}
	return u
}
