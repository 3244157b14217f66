package nats_test

import (
	"context"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/internal/devnats/devnatstest"
	"github.com/orbit-sidecar/orbit/internal/orbittest"
	natsstore "github.com/orbit-sidecar/orbit/store/nats"
)

// TestServing: a stream nobody takes work from is not served; once a
// sidecar pulls work it is, and a while after that sidecar closed it is
// not any more.
func TestServing(t *testing.T) {
	c := devnatstest.Start(t, 1)
	open := func() *natsstore.Store {
		s, err := natsstore.Open(context.Background(), natsstore.Options{URL: c.URL(), Stream: "SERVED", Replicas: 1})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tool := open()
	defer tool.Close()
	ctx := context.Background()
	if n, err := tool.Serving(ctx); n != 0 || err != nil {
		t.Fatalf("a new stream: %d pulls waiting (%v)", n, err)
	}

	sidecar := open()
	wctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sidecar.Work(wctx) // pulls until stopped
	}()
	orbittest.Until(t, 10*time.Second, "the sidecar's pulls", func() (int, error) {
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond) // look once
		defer cancel()
		return tool.Serving(short)
	}, func(n int) bool { return n > 0 })

	stop()
	<-done
	sidecar.Close()
	if n, err := tool.Serving(ctx); n != 0 || err != nil {
		t.Errorf("after the sidecar closed: %d pulls waiting (%v)", n, err)
	}
}
