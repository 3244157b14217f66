package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/internal/orbittest"
)

// The direct side closes its connections when it is done, so that the
// orbit side measured next does not carry them (the downstream's goroutine
// and buffers for each) for fasthttp's idle timeout of 10 s.
func TestMeasureDirectClosesItsConnections(t *testing.T) {
	down, err := startDownstream()
	if err != nil {
		t.Fatal(err)
	}
	defer down.close()
	r := measureDirect(benchConfig{steps: 2, concurrency: 4, duration: 200 * time.Millisecond}, down.url())
	if r.Completed == 0 || r.Errors != 0 {
		t.Fatalf("direct side: %d completed, %d errors", r.Completed, r.Errors)
	}
	orbittest.For(t, 5*time.Second, func() error {
		if n := down.srv.GetOpenConnectionsCount(); n != 0 {
			return fmt.Errorf("the downstream still holds %d connections of the direct side", n)
		}
		return nil
	})
}
