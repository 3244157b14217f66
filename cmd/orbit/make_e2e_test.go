package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/internal/orbittest"
)

// TestMakeRunStopsBothOnSIGTERM runs `make run` with the real binaries and
// sends SIGTERM to make: the sidecar and shopd both stop (issue: the
// sidecar kept running, as the recipe's shell held its trap until its
// foreground child ended).
func TestMakeRunStopsBothOnSIGTERM(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatal("make is not installed")
	}
	bin := t.TempDir()
	buildShopd(t, filepath.Join(bin, "shopd"))
	sidecar, err := os.ReadFile(orbit(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "orbit"), sidecar, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // whatever a failure left behind
		for _, pid := range runningFrom(t, bin) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})

	// -o: the test built both already; build and plugins stay as they are.
	make := orbittest.Start(t, "make", nil, "-s", "-C", "../..", "-o", "build", "-o", "plugins", "run",
		"BIN="+bin, "ADDR=127.0.0.1:0", "SHOP=127.0.0.1:0",
		"DATA="+filepath.Join(t.TempDir(), "orbit.db"), "PLUGINS="+t.TempDir())
	if _, _, err := make.Listening(2 * orbittest.Timeout); err != nil {
		t.Fatal(err)
	}
	orbittest.Until(t, orbittest.Timeout, "the sidecar and shopd running", func() ([]int, error) {
		return runningFrom(t, bin), nil
	}, func(pids []int) bool { return len(pids) == 2 })

	if err := make.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-make.Exited():
	case <-time.After(orbittest.Timeout):
		t.Fatalf("make did not end on SIGTERM; still running: %v", runningFrom(t, bin))
	}
	orbittest.Until(t, orbittest.Timeout, "both children stopped after make ended", func() ([]int, error) {
		return runningFrom(t, bin), nil
	}, func(pids []int) bool { return len(pids) == 0 })
}

// runningFrom lists the processes whose executable is in dir.
func runningFrom(t *testing.T, dir string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err == nil && strings.HasPrefix(exe, dir+string(filepath.Separator)) {
			pids = append(pids, pid)
		}
	}
	return pids
}
