package httpcall

import (
	"context"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestPipelineWritesNothingToStderr: a pipelined call whose connection the
// server drops is resent without the pipeline client printing its error to
// the process's stderr, outside Orbit's log.
func TestPipelineWritesNothingToStderr(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close() // one answer per connection, then it is dropped
				buf := make([]byte, 4096)
				if _, err := conn.Read(buf); err != nil {
					return
				}
				conn.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"))
			}()
		}
	}()
	r, err := New(NewClient(), Spec{Method: "POST", URL: "http://" + l.Addr().String() + "/x", Pipeline: true})
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
