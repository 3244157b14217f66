package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/scripting"
	"github.com/orbit-sidecar/orbit/store"
)

// waitingResult is what parked instances cost: memory at rest and the
// time a restart takes to be ready to serve again.
type waitingResult struct {
	Instances    int     `json:"instances"`
	ParkPerSec   float64 `json:"parked_per_s"`
	RSSMB        float64 `json:"rss_mb"`         // live, after a GC, with every instance parked
	RestartMS    float64 `json:"restart_ms"`     // store and engine opened again, ready
	RestartRSSMB float64 `json:"restart_rss_mb"` // right after the restart
	RecheckMS    float64 `json:"recheck_ms"`     // background re-check of the waiting instances
	PeakRSSMB    float64 `json:"peak_rss_mb"`    // during the restart and the re-check
	// RestedRSSMB is live, after a GC, once the restart and its re-check
	// are done: what a sidecar restarted with these instances parked holds.
	RestedRSSMB float64 `json:"rested_rss_mb"`
	StoreMB     float64 `json:"store_mb"`
	Resumed     bool    `json:"resumed"` // an instance took its event after the restart and ended
}

// parkBundle awaits an event with a timeout, so that every instance also
// has a durable timer.
const parkBundle = `workflow "park" { start = "Wait", states = {
  Wait = await { event = "go", timeout = "24h", next = "Done" },
  Done = succeed {},
} }
`

// benchWaiting parks n instances, measures them at rest, restarts Orbit on
// the same store, and checks that one of them still finishes.
func benchWaiting(n, concurrency int, stderr io.Writer) (waitingResult, error) {
	res := waitingResult{Instances: n}
	dir, err := os.MkdirTemp("", "orbit-bench-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	var parked atomic.Int64
	cfg := sidecarConfig{Data: filepath.Join(dir, "orbit.db"), Log: discardLog(), LuaTimeout: 100 * time.Millisecond,
		OnEvent: func(_ string, ev *store.Event) {
			if ev.Type == store.EventEventAwaited {
				parked.Add(1)
			}
		}}
	opts := scriptOptions(cfg)
	b, err := scripting.LoadSources([]flow.Source{{Path: "park.lua", Body: []byte(parkBundle)}}, opts)
	if err != nil {
		return res, fmt.Errorf("park bundle: %w", err)
	}
	ctx := context.Background()
	s, err := openSidecar(ctx, cfg, opts, b)
	if err != nil {
		return res, err
	}

	t0 := time.Now()
	var (
		next  atomic.Int64
		first string
		once  sync.Once
		errs  = make(chan error, concurrency)
		wg    sync.WaitGroup
	)
	for range concurrency {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				in, _, err := s.engine.Start(ctx, "park", engine.StartOptions{})
				if err != nil {
					errs <- err
					return
				}
				once.Do(func() { first = in.ID })
			}
		})
	}
	stop := progress(stderr, func() string { return fmt.Sprintf("bench: parked %d of %d instances", parked.Load(), n) })
	wg.Wait()
	for parked.Load() < int64(n) && len(errs) == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if len(errs) > 0 {
		s.close(ctx)
		return res, <-errs
	}
	res.ParkPerSec = float64(n) / time.Since(t0).Seconds()
	res.RSSMB = liveRSS()

	s.close(ctx)
	liveRSS()
	peak := sampleRSS()
	t0 = time.Now()
	cfg.OnEvent = nil
	s, err = openSidecar(ctx, cfg, opts, b)
	if err != nil {
		peak.stop()
		return res, err
	}
	defer s.close(ctx)
	res.RestartMS = float64(time.Since(t0).Microseconds()) / 1000
	res.RestartRSSMB = rssMB()
	if err := s.engine.Rechecked(ctx); err != nil {
		return res, err
	}
	res.RecheckMS = float64(time.Since(t0).Microseconds())/1000 - res.RestartMS
	res.PeakRSSMB = peak.stop()
	res.RestedRSSMB = liveRSS()
	if fi, err := os.Stat(cfg.Data); err == nil {
		res.StoreMB = float64(fi.Size()) / (1 << 20)
	}

	if err := s.engine.Send(ctx, first, "go", nil); err != nil {
		return res, fmt.Errorf("send after restart: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	in, err := s.engine.Wait(wctx, first)
	res.Resumed = err == nil && in.Status == store.Succeeded
	return res, nil
}

// liveRSS collects garbage and returns it to the system before reading the
// resident set, so that what is left is what the process holds on to.
func liveRSS() float64 {
	runtime.GC()
	debug.FreeOSMemory()
	return rssMB()
}

// progress prints status() to stderr every second until stop is called.
func progress(stderr io.Writer, status func() string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintln(stderr, status())
			}
		}
	})
	return func() { close(done); wg.Wait() }
}
