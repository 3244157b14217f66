// Package client is the Go client of Orbit's HTTP API (docs/api.md), for
// host applications that start workflows and deliver events to a sidecar.
//
// It depends on the standard library only: a host imports it without the
// engine, the store or the script runtimes. Every call takes a
// context.Context; an answer that is not 2xx is an *Error, which
// errors.Is matches against the Err* codes:
//
//	c := client.New("127.0.0.1:7077", client.WithToken(os.Getenv("ORBIT_TOKEN")))
//	inst, err := c.Start(ctx, "place_order", order, &client.StartOptions{ID: "o-1"})
//	if errors.Is(err, client.ErrConflict) {
//		// o-1 was started before with another input
//	}
//	inst, err = c.Wait(ctx, inst.ID, 30*time.Second)
//
// Answers 429 and 503 mean the sidecar refused the request unchanged; the
// client sends it again after the Retry-After the answer names (or a
// growing pause), a few times (WithRetries), before it returns the error.
package client
