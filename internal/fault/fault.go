// Package fault lets a crash test kill the process at named points of a
// commit path, to show what survives a crash at exactly that point.
//
// A store marks its points with Hit. In a normal build Hit does nothing and
// costs nothing (it is an empty function the compiler removes). In a build
// with the tag orbitfault, the environment variable ORBIT_FAULT arms one
// point: "bolt.meta-written@3" makes the third Hit of that point write one
// line to stderr ("orbit: fault: SIGKILL at bolt.meta-written (hit 3)") and
// SIGKILL the process, which then dies as it would from a kill by the
// operating system: no deferred function, no flush, no goodbye.
//
// SIGKILL ends the process, not the machine: what the process wrote to a
// file before it died is in the kernel's page cache and survives, synced or
// not. A kill point therefore shows what a crash of the sidecar leaves, not
// what a power loss does (see docs/guarantees.md).
//
// internal/crashtest builds orbit with the tag and arms points at random;
// a store lists its points so that the crash test can choose among them.
package fault

import (
	"fmt"
	"strconv"
	"strings"
)

// Point names a place in a commit path where a crash test may kill the
// process. Names are "<store>.<where>", for example "bolt.pages-written".
type Point string

// Env is the environment variable that arms a point in a fault build.
const Env = "ORBIT_FAULT"

// Arm is a point armed to kill the process at its Nth hit.
type Arm struct {
	Point Point
	Nth   uint64 // 1: the first hit
}

// String is the form ParseArm reads: point@nth.
func (a Arm) String() string { return string(a.Point) + "@" + strconv.FormatUint(a.Nth, 10) }

// ParseArm reads "point@nth"; a bare "point" means its first hit.
func ParseArm(s string) (Arm, error) {
	name, nth, found := strings.Cut(s, "@")
	a := Arm{Point: Point(name), Nth: 1}
	if name == "" {
		return Arm{}, fmt.Errorf("%s=%q: no point named", Env, s)
	}
	if found {
		n, err := strconv.ParseUint(nth, 10, 64)
		if err != nil || n == 0 {
			return Arm{}, fmt.Errorf("%s=%q: %q is not a hit count from 1", Env, s, nth)
		}
		a.Nth = n
	}
	return a, nil
}
