package orbittest

import (
	"os"
	"sync"
	"testing"
)

// The executables Build makes and the module copies of a fault build are
// shared by every test of a process, so no test's cleanup may remove them;
// Main removes them once the process's tests are done. Without it each run
// left a 50 MB binary in the temporary directory.
var (
	tempMu   sync.Mutex
	tempDirs []string
)

// MkdirTemp makes a temporary directory that Main removes when the tests
// of the process end.
func MkdirTemp(pattern string) (string, error) {
	dir, err := os.MkdirTemp("", pattern)
	if err == nil {
		tempMu.Lock()
		tempDirs = append(tempDirs, dir)
		tempMu.Unlock()
	}
	return dir, err
}

// Main runs a package's tests, removes the directories MkdirTemp made and
// exits with the tests' code: the TestMain of a package that uses Build.
func Main(m *testing.M) {
	code := m.Run()
	tempMu.Lock()
	for _, dir := range tempDirs {
		os.RemoveAll(dir)
	}
	tempMu.Unlock()
	os.Exit(code)
}
