package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/orbit-sidecar/orbit/httpcall"
	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/runtime/metrics"
	"github.com/orbit-sidecar/orbit/scripting"
	"github.com/orbit-sidecar/orbit/store"
	"github.com/orbit-sidecar/orbit/store/bolt"
	natsstore "github.com/orbit-sidecar/orbit/store/nats"
)

// storeKind names a store backend (--store).
type storeKind string

// The store backends.
const (
	storeBbolt storeKind = "bbolt" // one file, one sidecar: the default
	storeNATS  storeKind = "nats"  // NATS JetStream, shared by many sidecars
)

// sidecarConfig is what every command that runs workflows shares.
type sidecarConfig struct {
	Scripts    string
	Store      storeKind // "" is bbolt
	NATSURL    string    // the servers of a nats store, comma-separated
	Data       string    // bbolt file; empty: a temporary one removed on close
	InitEmpty  bool      // an existing empty data file becomes a new store instead of being refused
	LuaTimeout time.Duration
	ScriptEnv  scripting.Env // what scripts may read of the environment
	MaxPayload int
	// MaxPendingEvents and MaxPendingBytes bound the events kept for one
	// instance (engine.Config); 0: the engine's defaults.
	MaxPendingEvents int
	MaxPendingBytes  int
	Log              *slog.Logger
	// OnEvent sees every committed history event, beside Metrics.
	OnEvent func(workflow string, ev *store.Event)
	// Metrics, when set, is fed by the engine, the store and the Lua
	// runtime (plugins are fed by their own options).
	Metrics *metrics.Metrics
	// Tracer, when set, records the instances' spans.
	Tracer flow.Tracer
}

// sidecar is Orbit wired together: store, scripts and engine.
type sidecar struct {
	cfg     sidecarConfig
	store   store.Store
	engine  *engine.Engine
	scripts scripting.Options
	tempDir string
}

// loadBundle loads a scripts directory or file, printing problems to w.
func loadBundle(path string, opt scripting.Options, w io.Writer) (*flow.Bundle, bool) {
	b, err := scripting.Load(path, opt)
	if err != nil {
		var ps flow.Problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				fmt.Fprintln(w, p)
			}
		} else {
			fmt.Fprintf(w, "orbit: %v\n", err)
		}
		return nil, false
	}
	return b, true
}

func scriptOptions(cfg sidecarConfig) scripting.Options {
	opts := scripting.Options{HTTP: httpcall.NewClient(), LuaTimeout: cfg.LuaTimeout, Logger: cfg.Log, Env: cfg.ScriptEnv}
	if m := cfg.Metrics; m != nil {
		opts.OnLuaCall = func(use scripting.LuaUse, took time.Duration) { m.OnLuaCall(use.String(), took) }
	}
	return opts
}

// runInProcess loads the scripts at path and opens a sidecar on them in
// this process, for the commands that run workflows without serving them.
// Its context ends at SIGINT or SIGTERM, and done closes the sidecar. On
// failure it prints what went wrong and reports false.
func runInProcess(path string, cfg sidecarConfig, stderr io.Writer) (s *sidecar, ctx context.Context, done func(), ok bool) {
	opts := scriptOptions(cfg)
	b, ok := loadBundle(path, opts, stderr)
	if !ok {
		return nil, nil, nil, false
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	s, err := openSidecar(ctx, cfg, opts, b)
	if err != nil {
		stop()
		fmt.Fprintf(stderr, "orbit: %v\n", err)
		return nil, nil, nil, false
	}
	return s, ctx, func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.close(closeCtx)
		stop()
	}, true
}

// openSidecar opens the store and an engine for an already loaded bundle,
// and resumes what was running.
func openSidecar(ctx context.Context, cfg sidecarConfig, opts scripting.Options, b *flow.Bundle) (*sidecar, error) {
	s := &sidecar{cfg: cfg, scripts: opts}
	if cfg.Data == "" {
		dir, err := os.MkdirTemp("", "orbit-")
		if err != nil {
			return nil, err
		}
		s.tempDir = dir
		cfg.Data = filepath.Join(dir, "orbit.db")
	}
	onEvent := cfg.OnEvent
	var onStep func(string, string, string, time.Duration)
	var onCommit func(int, time.Duration)
	if m := cfg.Metrics; m != nil {
		onCommit, onStep = m.OnCommit, m.OnStep
		if also := onEvent; also != nil {
			onEvent = func(workflow string, ev *store.Event) { m.OnEvent(workflow, ev); also(workflow, ev) }
		} else {
			onEvent = m.OnEvent
		}
	}
	var coord store.Coordinator
	switch cfg.Store {
	case storeNATS:
		st, err := natsstore.Open(ctx, natsstore.Options{URL: cfg.NATSURL, Name: "orbit", Logger: cfg.Log})
		if err != nil {
			s.removeTemp()
			return nil, err
		}
		s.store, coord = st, st
	default:
		st, err := bolt.Open(cfg.Data, bolt.Options{Logger: cfg.Log, InitEmpty: cfg.InitEmpty, OnCommit: onCommit})
		if err != nil {
			s.removeTemp()
			return nil, err
		}
		s.store = st
	}
	s.engine = engine.New(engine.Config{
		Store: s.store, Coordinator: coord, Log: cfg.Log, MaxPayload: cfg.MaxPayload, OnEvent: onEvent, OnStep: onStep, Tracer: cfg.Tracer,
		MaxPendingEvents: cfg.MaxPendingEvents, MaxPendingBytes: cfg.MaxPendingBytes,
		Compile: func(files []flow.Source) (*flow.Bundle, error) { return scripting.LoadSources(files, opts) },
	})
	if cfg.Metrics != nil {
		cfg.Metrics.Watch(s.engine)
	}
	if err := s.engine.Load(ctx, b); err != nil {
		s.close(ctx)
		return nil, err
	}
	if err := s.engine.Open(ctx); err != nil {
		s.close(ctx)
		return nil, err
	}
	return s, nil
}

// close lets running steps checkpoint, then closes the store.
func (s *sidecar) close(ctx context.Context) {
	if s.engine != nil {
		if err := s.engine.Close(ctx); err != nil {
			s.cfg.Log.Warn("steps still running at shutdown resume on the next start", "err", err)
		}
	}
	if s.store != nil {
		if err := s.store.Close(); err != nil {
			s.cfg.Log.Error("close store", "err", err)
		}
	}
	s.removeTemp()
}

func (s *sidecar) removeTemp() {
	if s.tempDir != "" {
		os.RemoveAll(s.tempDir)
	}
}

// storeKV gives plugins the store's key-value space once the store is
// open (plugins load with the bundle, before the store opens).
type storeKV struct{ st atomic.Pointer[store.Store] }

func (k *storeKV) db() (store.Store, error) {
	if st := k.st.Load(); st != nil {
		return *st, nil
	}
	return nil, errors.New("the store is not open yet")
}

func (k *storeKV) KVGet(ns, key string) ([]byte, error) {
	st, err := k.db()
	if err != nil {
		return nil, err
	}
	return st.KVGet(ns, key)
}

func (k *storeKV) KVPut(ns, key string, value []byte) error {
	st, err := k.db()
	if err != nil {
		return err
	}
	return st.KVPut(ns, key, value)
}

func (k *storeKV) KVUsage(ns string) (int64, error) {
	st, err := k.db()
	if err != nil {
		return 0, err
	}
	return st.KVUsage(ns)
}
