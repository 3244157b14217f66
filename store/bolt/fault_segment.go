//go:build orbitfault

package bolt

import (
	"os"
	"strconv"
)

func init() {
	if n, err := strconv.ParseInt(os.Getenv(FaultSegmentEnv), 10, 64); err == nil && n > 0 {
		segmentSize = n
	}
}
