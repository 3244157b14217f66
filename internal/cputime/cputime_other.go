//go:build !unix && !windows

package cputime

import "time"

// Process is 0 where the process's CPU time cannot be read.
func Process() time.Duration { return 0 }

// Switches is 0 where the process's context switches cannot be read.
func Switches() uint64 { return 0 }
