package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/orbit-sidecar/orbit/store"
)

// purgeBatch bounds one purge commit, so that a large backlog does not
// hold the store's write lock against running instances for long.
const purgeBatch = 500

// sweepRetention purges ended instances older than retention every
// interval until ctx ends (SPEC 2.6, --retention).
func sweepRetention(ctx context.Context, st store.Store, retention, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := purgeEnded(ctx, st, time.Now().Add(-retention))
		if err != nil {
			log.Warn("retention sweep", "err", err)
		} else if n > 0 {
			log.Info("retention sweep purged ended instances", "count", n)
		}
	}
}

// purgeEnded removes instances that ended before the cutoff with their
// history. Ids are collected before any write so that no write waits on
// the read that lists them.
func purgeEnded(ctx context.Context, st store.Store, before time.Time) (int, error) {
	var ids []string
	if err := st.Ended(before, func(id string) error {
		ids = append(ids, id)
		return nil
	}); err != nil {
		return 0, err
	}
	for i := 0; i < len(ids); i += purgeBatch {
		chunk := ids[i:min(i+purgeBatch, len(ids))]
		if err := st.Commit(ctx, &store.Batch{Purge: chunk}); err != nil {
			return i, err
		}
	}
	return len(ids), nil
}
