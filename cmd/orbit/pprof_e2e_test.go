package main_test

import (
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/internal/orbittest"
)

// orbit serve samples the heap profile only when it serves the profiler:
// with --pprof, /debug/pprof/heap names the runtime's sampling rate (its
// header ends "@ heap/" and twice the rate; 0 would be "@ heap/0").
func TestPprofServesASampledHeapProfile(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	serve(t, noFlaky, filepath.Join(t.TempDir(), "orbit.db"), "--pprof", addr)
	c := &http.Client{Timeout: 30 * time.Second}
	var first string
	orbittest.For(t, 30*time.Second, func() error {
		resp, err := c.Get("http://" + addr + "/debug/pprof/heap?debug=1")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		first, _, _ = strings.Cut(string(body), "\n")
		return err
	})
	if !strings.HasPrefix(first, "heap profile: ") || !strings.HasSuffix(first, "@ heap/1048576") {
		t.Fatalf("heap profile header %q, want the runtime's default rate (@ heap/1048576)", first)
	}
}
