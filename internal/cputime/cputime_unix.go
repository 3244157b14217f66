//go:build unix

package cputime

import (
	"syscall"
	"time"
)

// Process is the CPU time, user and system, the process has spent so far
// (all its threads, those ended too).
func Process() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Switches is how many times the kernel switched the process's threads
// off a CPU, voluntarily (waiting) or not.
func Switches() uint64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return uint64(ru.Nvcsw + ru.Nivcsw)
}
