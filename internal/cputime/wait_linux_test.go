package cputime

import (
	"bytes"
	"os"
	"strconv"
	"testing"
	"time"
)

// Waiting sums the run delay of every thread: it is at least the main
// thread's, and it never goes back.
func TestWaitingSumsTheThreads(t *testing.T) {
	b, err := os.ReadFile("/proc/self/schedstat") // the main thread's
	if err != nil {
		t.Skipf("no schedstat: %v", err)
	}
	main, err := strconv.ParseInt(string(bytes.Fields(b)[1]), 10, 64)
	if err != nil {
		t.Fatalf("schedstat %q: %v", b, err)
	}
	w := Waiting()
	if w < time.Duration(main) {
		t.Fatalf("Waiting %v, less than the main thread's run delay alone (%v)", w, time.Duration(main))
	}
	if w2 := Waiting(); w2 < w {
		t.Fatalf("Waiting went back from %v to %v", w, w2)
	}
}
