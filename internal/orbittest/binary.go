package orbittest

import (
	"strings"
	"testing"
	"time"
)

// Binary builds the real orbit binary once per test process and returns
// its path.
func Binary(t testing.TB) string {
	t.Helper()
	return Build(t, OrbitPackage, BuildOptions{})
}

// Serve runs `orbit serve --listen 127.0.0.1:0 args...` with env added to
// the test's environment, and returns the address it listens on once its
// startup line names it. The test's cleanup kills it.
func Serve(t testing.TB, env []string, args ...string) string {
	t.Helper()
	p := Start(t, Binary(t), env, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	addr, _, err := p.Listening(30 * time.Second)
	if err != nil {
		t.Fatalf("orbit serve %s: %v", strings.Join(args, " "), err)
	}
	return addr
}
