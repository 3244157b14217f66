package cputime

import (
	"syscall"
	"time"
)

// Process is the CPU time, user and kernel, the process has spent so far.
func Process() time.Duration {
	h, err := syscall.GetCurrentProcess()
	if err != nil {
		return 0
	}
	var created, exited, kernel, user syscall.Filetime
	if err := syscall.GetProcessTimes(h, &created, &exited, &kernel, &user); err != nil {
		return 0
	}
	return ticks(kernel) + ticks(user)
}

// ticks is a span counted in a Filetime's 100-nanosecond units (not a
// point in time, which Filetime.Nanoseconds would take it for).
func ticks(f syscall.Filetime) time.Duration {
	return time.Duration(int64(f.HighDateTime)<<32|int64(f.LowDateTime)) * 100
}

// Switches is 0: Windows does not count a process's context switches
// where this package can read them.
func Switches() uint64 { return 0 }
