package nats

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// pullExpiry is how long a sidecar's pull for work waits at the servers
// (startWork): a sidecar that stopped leaves its pulls behind that long.
const pullExpiry = 5 * time.Second

// Serving reports how many pulls for work sidecars have waiting on the
// stream's work consumer: more than none means some sidecar serves the
// stream. A sidecar that has just stopped leaves its pulls for up to five
// seconds, so Serving looks again until they lapse, or until ctx ends.
func (s *Store) Serving(ctx context.Context) (int, error) {
	deadline := time.Now().Add(pullExpiry + time.Second)
	for {
		var waiting int
		err := s.retry(ctx, "read the work consumer", func(ctx context.Context) error {
			c, err := s.stream.Consumer(ctx, workConsumer)
			if errors.Is(err, jetstream.ErrConsumerNotFound) {
				waiting = 0
				return nil
			}
			if err != nil {
				return err
			}
			info, err := c.Info(ctx)
			if err != nil {
				return err
			}
			waiting = info.NumWaiting
			return nil
		})
		if err != nil || waiting == 0 || time.Now().After(deadline) {
			return waiting, err
		}
		select {
		case <-time.After(250 * time.Millisecond):
		case <-ctx.Done():
			return waiting, nil
		}
	}
}
