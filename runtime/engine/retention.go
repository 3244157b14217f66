package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/orbit-sidecar/orbit/store"
)

// Sweep purges instances that ended more than retention ago, with their
// history, and drops kept bundles that neither the current bundle nor any
// unfinished instance needs. It returns how many of each went.
func (e *Engine) Sweep(ctx context.Context, retention time.Duration) (purged, dropped int, err error) {
	before := e.clock.Now().Add(-retention)
	var ids []string
	if err := e.store.Ended(before, func(id string) error {
		ids = append(ids, id)
		return nil
	}); err != nil {
		return 0, 0, err
	}
	for len(ids) > 0 && ctx.Err() == nil {
		n := min(len(ids), 256)
		if err := e.store.Commit(ctx, &store.Batch{Purge: ids[:n]}); err != nil {
			return purged, 0, err
		}
		purged += n
		ids = ids[n:]
	}

	if e.coord != nil {
		// Other sidecars may start instances on any kept bundle (their
		// current one is theirs to know), so a shared store keeps them all.
		return purged, 0, ctx.Err()
	}
	needed := map[string]bool{}
	if cur := e.Bundle(); cur != nil {
		needed[cur.Hash] = true
	}
	if err := e.store.Unfinished(func(id string, _ store.Status) error {
		in, err := e.store.Instance(id)
		switch {
		case err == nil:
			needed[in.Bundle] = true
		case !errors.Is(err, store.ErrNotFound):
			// A record that cannot be read may need any kept bundle.
			return fmt.Errorf("kept bundles stay: %w", err)
		}
		return nil
	}); err != nil {
		return purged, 0, err
	}
	kept, err := e.store.Bundles()
	if err != nil {
		return purged, 0, err
	}
	var drop []string
	for _, b := range kept {
		if !needed[b.Hash] {
			drop = append(drop, b.Hash)
		}
	}
	if len(drop) > 0 {
		if err := e.store.Commit(ctx, &store.Batch{DeleteBundles: drop}); err != nil {
			return purged, 0, err
		}
		e.mu.Lock()
		for _, h := range drop {
			delete(e.bundles, h)
		}
		e.mu.Unlock()
	}
	return purged, len(drop), ctx.Err()
}
