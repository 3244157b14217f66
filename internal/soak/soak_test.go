package soak

import (
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestRunMeasuresTheRealSidecar soaks the real binary for a few seconds:
// every workflow of the mix ends as expected and every sample measures
// the process.
func TestRunMeasuresTheRealSidecar(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "orbit")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/orbit").CombinedOutput(); err != nil {
		t.Fatalf("build orbit: %v\n%s", err, out)
	}
	res, err := Run(context.Background(), Config{Orbit: bin, Scripts: "testdata/scripts", Dir: t.TempDir(),
		Duration: 4 * time.Second, Every: time.Second, Rate: 10, Retention: time.Second, Sweep: 500 * time.Millisecond, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != 0 || len(res.Samples) < 3 || len(res.Samples) > 4 {
		t.Fatalf("%d workflows failed, %d samples; want 4 (or 3, should the last come after the end)", res.Failed, len(res.Samples))
	}
	done := 0
	for _, s := range res.Samples {
		done += s.Done
		if s.RSS == 0 || s.Goroutines == 0 || s.FileSize == 0 || s.OpenFiles == 0 {
			t.Fatalf("a sample measured nothing: %+v", s)
		}
	}
	if done == 0 {
		t.Fatal("no workflow ended")
	}
}
