package memory_test

import (
	"testing"

	"github.com/orbit-sidecar/orbit/store/memory"
	"github.com/orbit-sidecar/orbit/store/storetest"
)

// BenchmarkCheckpoint is the engine's per-transition batch without a disk.
func BenchmarkCheckpoint(b *testing.B) { storetest.BenchCheckpoint(b, memory.New()) }
