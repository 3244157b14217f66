// Package apitest starts Orbit's HTTP API for tests: a real engine on a
// real bbolt file, served on an OS-chosen loopback port, as the API's own
// tests and the Go client's tests both need it.
package apitest

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/api"
	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/runtime/metrics"
	"github.com/orbit-sidecar/orbit/store/bolt"
	"github.com/orbit-sidecar/orbit/store/storetest"
)

// Sidecar is a running API; the test's cleanup shuts it down.
type Sidecar struct {
	// URL is "http://127.0.0.1:PORT".
	URL    string
	Engine *engine.Engine
	// Faults sits between the engine and the store: it passes everything
	// on until a test tells it to fail or hold writes.
	Faults *storetest.Faulty
	API    *api.Server
}

// Start serves b. opt.Engine is set here; opt.Metrics is made when nil,
// and opt.Snapshots is the bbolt file when nil.
func Start(t testing.TB, b *flow.Bundle, opt api.Options, bopt bolt.Options) *Sidecar {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "orbit.db"), bopt)
	if err != nil {
		t.Fatal(err)
	}
	if opt.Metrics == nil {
		opt.Metrics = metrics.New()
	}
	faults := storetest.NewFaulty(st)
	e := engine.New(engine.Config{Store: faults, MaxPayload: opt.MaxPayload, OnEvent: opt.Metrics.OnEvent, OnStep: opt.Metrics.OnStep,
		Compile: func([]flow.Source) (*flow.Bundle, error) { return b, nil }})
	opt.Metrics.Watch(e)
	ctx := context.Background()
	if err := e.Load(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := e.Open(ctx); err != nil {
		t.Fatal(err)
	}
	opt.Engine = e
	if opt.Snapshots == nil {
		opt.Snapshots = st
	}
	srv := api.New(opt)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		// fasthttp closes a connection that has sent no request yet only
		// once it is 5 s old, and an HTTP client may dial one it then
		// leaves unused: the shutdown must be able to outlast that.
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
		e.Close(ctx)
		st.Close()
	})
	return &Sidecar{URL: "http://" + ln.Addr().String(), Engine: e, Faults: faults, API: srv}
}
