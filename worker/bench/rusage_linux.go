package main

import (
	"fmt"
	"os"
	"syscall"
	"time"
)

// usage reads a finished child's CPU time and maximum resident set from its rusage.
func usage(ps *os.ProcessState) (sample, error) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil {
		return sample{}, fmt.Errorf("no rusage for process %d", ps.Pid())
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return sample{CPU: cpu, MaxRSS: ru.Maxrss * 1024}, nil // Linux counts ru_maxrss in KiB
}
