// Package cputime reads the CPU time the process has spent, for measures
// that must hold on a machine shared with other work, where wall time
// says more about the other work than about the code measured.
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
