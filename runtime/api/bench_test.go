package api_test

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/internal/cputime"
	"github.com/orbit-sidecar/orbit/runtime/api"
	"github.com/orbit-sidecar/orbit/store/bolt"
)

// BenchmarkSyncStart measures a synchronous start (?wait) of a one-task
// workflow over loopback HTTP, with durable checkpoints (fsync on), and
// reports the latency percentiles a client sees.
func BenchmarkSyncStart(b *testing.B) {
	s := newServerOn(b, newFixture().bundle, api.Options{}, bolt.Options{})
	url := s.url + "/v1/workflows/echo/instances?wait=10s"
	body := []byte(`{"order":{"id":"o-1","amount":42}}`)
	lat := make([]time.Duration, 0, 1024)
	b.ReportAllocs()
	cpu := cputime.Process()
	for b.Loop() {
		t0 := time.Now()
		syncStart(b, s.client, url, body)
		lat = append(lat, time.Since(t0))
	}
	// Client, API and engine: on a shared machine the CPU time per start
	// says more than the latency.
	b.ReportMetric(float64(cputime.Process()-cpu)/float64(b.N), "cpu-ns/op")
	reportPercentiles(b, lat)
}

// BenchmarkSyncStartParallel is BenchmarkSyncStart with concurrent
// clients, where group commit shares each fsync among them.
func BenchmarkSyncStartParallel(b *testing.B) {
	s := newServerOn(b, newFixture().bundle, api.Options{}, bolt.Options{})
	url := s.url + "/v1/workflows/echo/instances?wait=10s"
	body := []byte(`{"order":{"id":"o-1","amount":42}}`)
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			t0 := time.Now()
			syncStart(b, s.client, url, body)
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	reportPercentiles(b, lat)
}

func syncStart(b *testing.B, c *http.Client, url string, body []byte) {
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("status %d", resp.StatusCode)
	}
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.50), "p50_ms")
	b.ReportMetric(at(0.99), "p99_ms")
}
