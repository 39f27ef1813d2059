package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// ProcStats are a process's CPU time and memory, read from /proc.
type ProcStats struct {
	CPUSeconds   float64 `json:"cpu_seconds"`
	RSSBytes     int64   `json:"rss_bytes"`
	PeakRSSBytes int64   `json:"peak_rss_bytes"`
	// WriteCalls counts the process's write system calls (syscw in
	// /proc/<pid>/io; 0 when that cannot be read).
	WriteCalls int64 `json:"write_calls"`
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// readProcStats reads /proc/<pid>/stat (utime, stime) and
// /proc/<pid>/status (VmRSS, VmHWM).
func readProcStats(pid int) (ProcStats, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ProcStats{}, err
	}
	// The command name, field 2, is in parentheses and may hold spaces:
	// count fields from the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return ProcStats{}, fmt.Errorf("/proc/%d/stat: unexpected form", pid)
	}
	f := bytes.Fields(stat[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return ProcStats{}, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	utime, _ := strconv.ParseInt(string(f[11]), 10, 64) // field 14
	stime, _ := strconv.ParseInt(string(f[12]), 10, 64) // field 15
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ProcStats{}, err
	}
	st := ProcStats{
		CPUSeconds:   float64(utime+stime) / clockTicks,
		RSSBytes:     statusKB(status, "VmRSS:") << 10,
		PeakRSSBytes: statusKB(status, "VmHWM:") << 10,
	}
	if io, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid)); err == nil {
		st.WriteCalls = ioCount(io, "syscw:")
	}
	return st, nil
}

// ioCount reads one counter of /proc/<pid>/io.
func ioCount(io []byte, key string) int64 {
	i := bytes.Index(io, []byte(key))
	if i < 0 {
		return 0
	}
	f := bytes.Fields(io[i+len(key):])
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseInt(string(f[0]), 10, 64)
	return v
}

func statusKB(status []byte, key string) int64 {
	i := bytes.Index(status, []byte(key))
	if i < 0 {
		return 0
	}
	f := bytes.Fields(status[i+len(key):])
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseInt(string(f[0]), 10, 64)
	return v
}

// machineBusy is the CPU time (seconds, all cores) the whole machine has
// spent busy since boot, from the first line of /proc/stat.
func machineBusy() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 9 || string(f[0]) != "cpu" {
		return 0
	}
	var busy int64
	// user nice system idle iowait irq softirq steal: all but idle and iowait.
	for i, v := range f[1:9] {
		if i == 3 || i == 4 {
			continue
		}
		n, _ := strconv.ParseInt(string(v), 10, 64)
		busy += n
	}
	return float64(busy) / clockTicks
}

// selfStats are the load generator's own figures.
func selfStats() (ProcStats, error) { return readProcStats(os.Getpid()) }

// raiseFileLimit lifts the soft open-files limit to the hard one: idle runs
// hold thousands of sockets.
func raiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, err
		}
	}
	return lim.Cur, nil
}
