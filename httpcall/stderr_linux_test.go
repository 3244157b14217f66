package httpcall

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestPipelineWritesNothingToStderr: a pipelined call whose connection the
// server drops is resent without the pipeline client printing its error to
// the process's stderr, outside Orbit's log.
func TestPipelineWritesNothingToStderr(t *testing.T) {
	addr := oneAnswerServer(t, func(string) {})
	r, err := New(NewClient(), Spec{Method: "POST", URL: "http://" + addr + "/x", Pipeline: true})
	if err != nil {
		t.Fatal(err)
	}
	printed := stderrOf(t, func() {
		for i := range 3 {
			if _, err := r.Call(context.Background(), map[string]any{"i": float64(i)}, fctx); err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
		}
	})
	if strings.Contains(printed, "PipelineClient") {
		t.Fatalf("the pipeline client printed to stderr:\n%s", printed)
	}
}

// stderrOf returns what the process wrote to file descriptor 2 while f ran,
// whichever writer wrote it.
func stderrOf(t *testing.T, f func()) string {
	t.Helper()
	tmp, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Close()
	saved, err := syscall.Dup(2)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(saved)
	if err := syscall.Dup3(int(tmp.Fd()), 2, 0); err != nil {
		t.Fatal(err)
	}
	func() {
		defer syscall.Dup3(saved, 2, 0)
		f()
	}()
	b, err := os.ReadFile(tmp.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
