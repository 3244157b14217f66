package main

import (
	"runtime"
	"strings"
)

// runtimeMemProfileRate is the heap profile's sampling rate the runtime
// started with: its default, or GODEBUG=memprofilerate=N.
var runtimeMemProfileRate = runtime.MemProfileRate

// heapProfileRate is the sampling rate of the heap profile for a process
// that serves the Go profiler (pprof) or not, given its GODEBUG. Nothing
// but --pprof reads the heap profile, and the runtime keeps the call
// stacks of its samples for good (1.4 MiB in a few seconds of orbit bench,
// more as a long-lived sidecar meets new stacks), so without --pprof
// Orbit does not sample; a memprofilerate in GODEBUG is the user's choice
// and stands.
func heapProfileRate(pprof bool, godebug string) int {
	if pprof || hasGodebug(godebug, "memprofilerate") {
		return runtimeMemProfileRate
	}
	return 0
}

// hasGodebug reports whether the GODEBUG setting godebug sets name.
func hasGodebug(godebug, name string) bool {
	for _, kv := range strings.Split(godebug, ",") {
		if k, _, _ := strings.Cut(strings.TrimSpace(kv), "="); k == name {
			return true
		}
	}
	return false
}
