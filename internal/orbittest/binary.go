package orbittest

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// Binary builds the real orbit binary once per test process and returns
// its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "orbit-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "orbit")
		out, err := exec.Command("go", "build", "-o", binary, "github.com/orbit-sidecar/orbit/cmd/orbit").CombinedOutput()
		if err != nil {
			buildErr = err
			binary = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build orbit: %v\n%s", buildErr, binary)
	}
	return binary
}

// Serve runs `orbit serve --listen 127.0.0.1:0 args...` with env added to
// the test's environment, and returns the address it listens on once its
// startup line names it. The test's cleanup kills it.
func Serve(t testing.TB, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(Binary(t), append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		// Reads the log to its end, so that the sidecar never blocks on it.
		sc := bufio.NewScanner(stderr)
		var log []string
		found := false
		for sc.Scan() {
			if _, rest, ok := strings.Cut(sc.Text(), "orbit: listening on "); ok && !found {
				a, _, _ := strings.Cut(rest, " ")
				addr <- a
				found = true
			} else if !found {
				log = append(log, sc.Text())
			}
		}
		if !found {
			addr <- "exited: " + strings.Join(log, "\n")
		}
	}()
	select {
	case a := <-addr:
		if strings.HasPrefix(a, "exited: ") {
			t.Fatalf("orbit serve %s stopped before listening:\n%s", strings.Join(args, " "), a)
		}
		return a
	case <-time.After(30 * time.Second):
		t.Fatalf("orbit serve %s never printed its listening line", strings.Join(args, " "))
		return ""
	}
}
