package main

import "testing"

// Without --pprof nothing reads the heap profile, so the sidecar does not
// sample it; with --pprof, or when GODEBUG sets the rate, the runtime's
// rate stands.
func TestHeapProfileRate(t *testing.T) {
	if runtimeMemProfileRate <= 0 {
		t.Fatalf("the runtime started with MemProfileRate %d; this test needs its default", runtimeMemProfileRate)
	}
	for _, c := range []struct {
		pprof   bool
		godebug string
		want    int
	}{
		{false, "", 0},
		{false, "madvdontneed=1,gctrace=1", 0},
		{false, "memprofilerateX=1", 0},
		{true, "", runtimeMemProfileRate},
		{false, "memprofilerate=1", runtimeMemProfileRate},
		{false, "gctrace=1, memprofilerate=0", runtimeMemProfileRate},
	} {
		if got := heapProfileRate(c.pprof, c.godebug); got != c.want {
			t.Errorf("heapProfileRate(%v, %q) = %d, want %d", c.pprof, c.godebug, got, c.want)
		}
	}
}
