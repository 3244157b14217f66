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
// unfinished instance needs. It returns how many of each went. An
// instance redriven since the listing (or being changed now) stays.
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
		k, err := e.purgeEnded(ctx, ids[:n], before)
		purged += k
		if err != nil {
			return purged, 0, err
		}
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

// purgeEnded purges those of ids that have still ended before before
// when the purge is written, and returns how many it purged.
//
// The listing is only a candidate list: between it and the purge an
// instance may be redriven, or have an observer's failure appended to its
// history. Only the instance's driver changes an existing record, so the
// sweep takes each id's place in the driver registry, as a driver would,
// reads the record and purges with every other driver kept out; an id
// that has a driver now is left for the next sweep. A request that comes
// meanwhile waits in the mailbox and finds the instance gone (or, kept,
// as it was). Purged with a driver at work, the instance's next
// checkpoint wrote its record back without the history before it. With a
// shared store the sweep holds the instance's lease too, so that no other
// sidecar runs it meanwhile, and purges fenced by it.
func (e *Engine) purgeEnded(ctx context.Context, ids []string, before time.Time) (int, error) {
	held, err := e.holdIdle(ids)
	defer func() {
		for _, d := range held {
			go d.run() // answers what came meanwhile, or lets the id go
		}
	}()
	if err != nil {
		return 0, err
	}
	if e.coord != nil {
		return e.purgeLeased(ctx, held, before)
	}
	var purge []string
	for _, d := range held {
		ok, err := e.stillEnded(d.id, before)
		if err != nil {
			return 0, err
		}
		if ok {
			purge = append(purge, d.id)
		}
	}
	if len(purge) == 0 {
		return 0, nil
	}
	if err := e.store.Commit(ctx, &store.Batch{Purge: purge}); err != nil {
		return 0, err
	}
	return len(purge), nil
}

// purgeLeased purges, one at a time, the held instances this sidecar can
// lease that have still ended before before. One that another sidecar
// holds is left for the next sweep.
func (e *Engine) purgeLeased(ctx context.Context, held []*driver, before time.Time) (int, error) {
	purged := 0
	for _, d := range held {
		if err := ctx.Err(); err != nil {
			return purged, err
		}
		l, err := e.coord.Claim(ctx, d.id)
		if errors.Is(err, store.ErrOwned) {
			continue
		}
		if err != nil {
			return purged, err
		}
		d.holding(l) // renewed by the keeper; released as the driver stops
		ok, err := e.stillEnded(d.id, before)
		if err != nil {
			return purged, err
		}
		if !ok {
			continue
		}
		d.batch.Purge = append(d.batch.Purge, d.id)
		err = d.writeLeased()
		d.batch.Reset()
		switch {
		case errors.Is(err, store.ErrFenced):
			continue
		case err != nil:
			return purged, err
		}
		d.dropHold() // the purge took the lease with the instance
		purged++
	}
	return purged, nil
}

// stillEnded reports whether the stored instance has ended before t, as
// Store.Ended lists it. A damaged record was listed so and is purged as
// listed: no driver can load it to change it.
func (e *Engine) stillEnded(id string, t time.Time) (bool, error) {
	in, err := e.store.Instance(id)
	switch {
	case err == nil:
		return in.Status.Terminal() && store.UnixNanos(in.EndTime()) < store.UnixNanos(t), nil
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case errors.Is(err, store.ErrDamaged):
		return true, nil
	}
	return false, fmt.Errorf("read instance %s before purging it: %w", id, err)
}

// holdIdle takes the place of a driver for each of ids that has none, so
// that none starts until the caller hands the returned drivers to run.
func (e *Engine) holdIdle(ids []string) ([]*driver, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	held := make([]*driver, 0, len(ids))
	for _, id := range ids {
		if e.owners[id] != nil {
			continue
		}
		d := e.register(id)
		d.over = true // a Wait reads the store, as for any ended instance
		held = append(held, d)
	}
	return held, nil
}
