package main_test

import (
	"testing"

	"github.com/orbit-sidecar/orbit/internal/orbittest"
)

// TestMain removes the executables the tests built once they are done.
func TestMain(m *testing.M) { orbittest.Main(m) }
