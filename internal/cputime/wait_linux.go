package cputime

import (
	"bytes"
	"os"
	"strconv"
	"time"
)

// Waiting is how long the process's threads have been ready to run but
// waited for a CPU, as the kernel counts it (the run delay of
// /proc/self/task/*/schedstat): on a machine shared with other work, the
// time the other work took from the process. Threads that have ended no
// longer count.
func Waiting() time.Duration {
	dir, err := os.Open("/proc/self/task")
	if err != nil {
		return 0
	}
	names, _ := dir.Readdirnames(-1)
	dir.Close()
	var sum int64
	for _, n := range names {
		b, err := os.ReadFile("/proc/self/task/" + n + "/schedstat")
		if err != nil {
			continue // the thread ended meanwhile
		}
		// "on-CPU ns, run delay ns, timeslices"
		f := bytes.Fields(b)
		if len(f) < 2 {
			continue
		}
		if v, err := strconv.ParseInt(string(f[1]), 10, 64); err == nil {
			sum += v
		}
	}
	return time.Duration(sum)
}
