package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/engine"
)

// sweepRetention runs the engine's retention sweep every interval until ctx
// ends (SPEC 2.6, --retention): ended instances older than retention go,
// with their history and the kept bundles nothing needs any more.
func sweepRetention(ctx context.Context, e *engine.Engine, retention, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		purged, dropped, err := e.Sweep(ctx, retention)
		if err != nil && ctx.Err() == nil {
			log.Warn("retention sweep", "err", err)
		} else if purged+dropped > 0 {
			log.Info("retention sweep", "purged_instances", purged, "dropped_bundles", dropped)
		}
	}
}
