package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/orbit-sidecar/orbit/plugins"
	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/runtime/metrics"
	"github.com/orbit-sidecar/orbit/scripting"
)

// reloader loads the scripts and plugins afresh when they change or on
// SIGHUP. A bundle that validates replaces the running one atomically
// (instances keep the bundle they started on); one that does not leaves
// the running bundle in place, and its problems are logged, shown by
// GET /v1/workflows and counted in the metrics.
type reloader struct {
	scripts, plugins string
	pluginOpts       plugins.Options
	opts             scripting.Options // Plugins is live
	live             *plugins.Live
	engine           *engine.Engine
	metrics          *metrics.Metrics
	log              *slog.Logger

	mu       sync.Mutex
	problems []string
}

// reload loads the bundle and plugins once.
func (r *reloader) reload() {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Validate against the new plugins first; only then swap them in, so
	// a broken plugin or script never replaces working ones.
	fresh, err := openPlugins(r.plugins, r.pluginOpts)
	if err != nil {
		r.fail([]string{err.Error()})
		return
	}
	trial := r.opts
	trial.Plugins = fresh
	if _, err := scripting.Load(r.scripts, trial); err != nil {
		fresh.Host().Close(context.Background())
		r.fail(problemLines(err))
		return
	}
	if err := r.live.Replace(context.Background(), fresh.Host()); err != nil {
		r.log.Warn("old plugins still busy after reload", "err", err)
	}
	b, err := scripting.Load(r.scripts, r.opts)
	if err != nil { // the files changed again in between: the next event reloads
		r.fail(problemLines(err))
		return
	}
	if err := r.engine.Load(context.Background(), b); err != nil {
		r.fail([]string{err.Error()})
		return
	}
	r.problems = nil
	r.metrics.Reloaded(0)
	r.log.Info("bundle reloaded", "bundle", short(b.Hash), "workflows", len(b.Workflows))
}

func (r *reloader) fail(problems []string) {
	r.problems = problems
	r.metrics.Reloaded(len(problems))
	for _, p := range problems {
		r.log.Error("reload refused; the running bundle stays", "problem", p)
	}
}

// Problems returns the last reload's problems (none after a good one).
func (r *reloader) Problems() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.problems...)
}

// watch reloads on changes under the scripts directory and on SIGHUP until
// ctx ends.
func (r *reloader) watch(ctx context.Context) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	w, err := scripting.Watch(r.scripts, 0, r.reload)
	go func() {
		defer signal.Stop(hup)
		if w != nil {
			defer w.Close()
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				r.log.Info("SIGHUP: reloading")
				r.reload()
			}
		}
	}()
	return err
}

func problemLines(err error) []string {
	var ps flow.Problems
	if errors.As(err, &ps) {
		out := make([]string, len(ps))
		for i, p := range ps {
			out[i] = p.String()
		}
		return out
	}
	return []string{err.Error()}
}
