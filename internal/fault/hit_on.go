//go:build orbitfault && unix

package fault

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
)

// Enabled reports whether this build can kill at fault points.
const Enabled = true

// armed is the point ORBIT_FAULT names, read once at start; hits counts
// how often it was reached.
var (
	armed Arm
	hits  atomic.Uint64
)

func init() {
	s := os.Getenv(Env)
	if s == "" {
		return
	}
	a, err := ParseArm(s)
	if err != nil {
		fmt.Fprintf(os.Stderr, "orbit: fault: %v\n", err)
		os.Exit(2)
	}
	armed = a
}

// Hit kills the process with SIGKILL when p is the armed point and this is
// its armed hit. The line it writes first tells the crash test where the
// process died.
func Hit(p Point) {
	if armed.Point != p || hits.Add(1) != armed.Nth {
		return
	}
	fmt.Fprintf(os.Stderr, "orbit: fault: SIGKILL at %s (hit %d)\n", p, armed.Nth)
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal is on its way; nothing more may run
}
