package plugins

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/orbit-sidecar/orbit/httpcall"
	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// KV is the per-plugin key-value store behind kv_get and kv_put; ns is the
// plugin's name. A missing key is store.ErrNotFound, a nil value deletes
// its key, and KVUsage adds up the lengths of a namespace's keys and
// values (for kv_quota). store.Store is one.
type KV interface {
	KVGet(ns, key string) ([]byte, error)
	KVPut(ns, key string, value []byte) error
	KVUsage(ns string) (int64, error)
}

// Options configure a Host. Every field may be left zero.
type Options struct {
	CacheDir string           // on-disk compilation cache, e.g. <data dir>/wasm-cache; "" keeps it in memory
	HTTP     *httpcall.Client // for http_request; nil refuses every request
	KV       KV               // for kv_get and kv_put; nil fails them
	Logger   *slog.Logger     // guest logs and output; nil discards them
	PoolSize int              // instances per reactor plugin, and its bound on concurrent calls; 0: GOMAXPROCS
	Limits   Limits           // the operator's ceilings on manifests
	// OnCall, when set, is told how long each call of a plugin function
	// took (metrics time them with it). It must be quick.
	OnCall func(plugin, fn string, took time.Duration)
}

// Host is a loaded plugins directory: every plugin compiled, checked and
// warmed. It is immutable once open; a reload opens a new Host and closes
// the old one (see Close).
type Host struct {
	dir      string
	plugins  map[string]*plugin
	order    []string // plugin names, sorted
	routines map[string]flow.Routine
	cache    wazero.CompilationCache
	http     *httpcall.Client
	kv       KV
	log      *slog.Logger
	poolSize int
	limits   Limits
	park     bool // compiled code lives in an on-disk cache: idle plugins free theirs
	onCall   func(plugin, fn string, took time.Duration)

	mu       sync.RWMutex
	closed   bool
	inflight sync.WaitGroup
}

// Open loads every plugin folder of dir. A missing dir is an empty Host, so
// that a sidecar without plugins needs no setup. Any bad plugin fails the
// whole load, with every problem listed, so that a reload never half-applies.
func Open(dir string, opt Options) (*Host, error) {
	h := &Host{
		dir:      dir,
		limits:   opt.Limits.withDefaults(),
		plugins:  map[string]*plugin{},
		routines: map[string]flow.Routine{},
		http:     opt.HTTP,
		kv:       opt.KV,
		log:      opt.Logger,
		poolSize: opt.PoolSize,
		onCall:   opt.OnCall,
	}
	if h.log == nil {
		h.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if h.poolSize <= 0 {
		h.poolSize = runtime.GOMAXPROCS(0)
	}
	manifests, err := loadManifests(dir, h.limits)
	if err != nil || len(manifests) == 0 {
		return h, err
	}
	if opt.CacheDir == "" {
		h.cache = wazero.NewCompilationCache()
	} else if h.cache, err = wazero.NewCompilationCacheWithDir(opt.CacheDir); err != nil {
		return nil, fmt.Errorf("plugins: compilation cache %s: %w", opt.CacheDir, err)
	} else {
		h.park = true
	}
	ctx := context.Background()
	loaded, errs := loadAll(ctx, h, manifests)
	for _, p := range loaded {
		h.plugins[p.m.Name] = p
		h.order = append(h.order, p.m.Name)
	}
	errs = append(errs, h.indexRoutines()...)
	if len(errs) > 0 {
		_ = h.Close(ctx)
		return nil, errors.Join(errs...)
	}
	if h.park {
		// The load read, decoded and compiled every module, tens of MiB
		// that parking left unreachable: a collection now frees the
		// compiled code (wazero unmaps it in a finalizer) and hands the
		// heap back, instead of the background scavenger doing so over
		// minutes while an idle sidecar shows them as its own.
		debug.FreeOSMemory()
	}
	return h, nil
}

// loadAll loads the plugins in parallel, one per CPU at a time: compiling
// a Go guest without the cache takes a CPU for a second or two, so a first
// start with several plugins goes as fast as the machine allows. The
// result keeps the manifests' order.
func loadAll(ctx context.Context, h *Host, manifests []*Manifest) ([]*plugin, []error) {
	loaded := make([]*plugin, len(manifests))
	failed := make([]error, len(manifests))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, m := range manifests {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			loaded[i], failed[i] = loadPlugin(ctx, h, m, h.cache)
		})
	}
	wg.Wait()
	var out []*plugin
	var errs []error
	for i := range manifests {
		if failed[i] != nil {
			errs = append(errs, failed[i])
		} else {
			out = append(out, loaded[i])
		}
	}
	return out, errs
}

// loadManifests reads every folder's manifest and checks that names are
// unique; a folder without plugin.json is skipped (it may hold sources).
// A symlink to a folder counts as a folder, as mounted configuration often
// comes as links.
func loadManifests(dir string, lim Limits) ([]*Manifest, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("plugins: %w", err)
	}
	var (
		out   []*Manifest
		errs  []error
		where = map[string]string{}
	)
	for _, e := range entries {
		sub := filepath.Join(dir, e.Name())
		if st, err := os.Stat(sub); err != nil || !st.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(sub, ManifestFile)); errors.Is(err, os.ErrNotExist) {
			continue
		}
		m, err := LoadManifest(sub, lim)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev, dup := where[m.Name]; dup {
			errs = append(errs, fmt.Errorf("%s: name: %q is already the name of the plugin in %s", filepath.Join(sub, ManifestFile), m.Name, prev))
			continue
		}
		where[m.Name] = sub
		out = append(out, m)
	}
	return out, errors.Join(errs...)
}

// indexRoutines builds the manifest routines, refusing a name declared twice.
func (h *Host) indexRoutines() []error {
	var errs []error
	owner := map[string]string{}
	for _, name := range h.order {
		p := h.plugins[name]
		for _, r := range sortedKeys(p.m.Routines) {
			if prev, dup := owner[r]; dup {
				errs = append(errs, fmt.Errorf("plugin %s: routines: %q is also declared by plugin %s", name, r, prev))
				continue
			}
			owner[r] = name
			h.routines[r] = &routine{h: h, plugin: name, fn: p.m.Routines[r]}
		}
	}
	return errs
}

// Func is a `wasm = { plugin, func }` routine. An unknown plugin is an
// error now, at load time; an unknown export is Plugin.NotFound when
// called, as SPEC 4 has it.
func (h *Host) Func(plugin, fn string) (flow.Routine, error) {
	if _, ok := h.plugins[plugin]; !ok {
		return nil, fmt.Errorf("no plugin %q is loaded from the plugins directory %q (--plugins; loaded: %v)", plugin, h.dir, h.order)
	}
	if fn == "" {
		return nil, fmt.Errorf("plugin %s: func is empty", plugin)
	}
	return &routine{h: h, plugin: plugin, fn: fn}, nil
}

// Routines are the routines the manifests declare, usable by name from any
// workflow.
func (h *Host) Routines() map[string]flow.Routine {
	out := make(map[string]flow.Routine, len(h.routines))
	for k, v := range h.routines {
		out[k] = v
	}
	return out
}

// Hooks are the manifests' hooks as observers, so that a dropped-in
// plugin extends workflows without a script edit.
func (h *Host) Hooks() []*flow.Observer {
	var out []*flow.Observer
	for _, name := range h.order {
		p := h.plugins[name]
		for _, hk := range p.m.Hooks {
			out = append(out, &flow.Observer{
				Workflow:    hk.Workflow,
				On:          hk.On,
				State:       hk.State,
				RoutineName: "wasm:" + name + "/" + hk.Func,
				Routine:     &routine{h: h, plugin: name, fn: hk.Func},
				Plugin:      name,
				Pos:         flow.Pos{File: filepath.Join(p.m.dir, ManifestFile)},
			})
		}
	}
	return out
}

// HookInfo is a hook as GET /v1/plugins shows it.
type HookInfo struct {
	Hook
	// Active is false while the scripts define no workflow of the hook's
	// name: the hook waits for it and applies once a load brings it.
	Active bool `json:"active"`
}

// PluginInfo describes a loaded plugin for GET /v1/plugins.
type PluginInfo struct {
	Name         string            `json:"name"`
	Module       string            `json:"module"`
	Routines     map[string]string `json:"routines"`
	Hooks        []HookInfo        `json:"hooks"`
	AllowedHosts []string          `json:"allowed_hosts"`
	MemoryLimit  string            `json:"memory_limit"`
	Timeout      string            `json:"timeout"`
	KVQuota      string            `json:"kv_quota"`
	Kind         string            `json:"kind"`
}

// Info lists the loaded plugins, sorted by name.
//
// defined says whether the scripts define a workflow, for each hook's
// Active; nil counts every workflow as defined.
func (h *Host) Info(defined func(workflow string) bool) []PluginInfo {
	out := make([]PluginInfo, 0, len(h.order))
	for _, name := range h.order {
		m := h.plugins[name].m
		out = append(out, PluginInfo{
			Name:         m.Name,
			Module:       m.Module,
			Routines:     nonNil(m.Routines),
			Hooks:        hookInfo(m.Hooks, defined),
			AllowedHosts: append([]string{}, m.AllowedHosts...),
			MemoryLimit:  m.MemoryLimit,
			Timeout:      m.Timeout,
			KVQuota:      m.KVQuota,
			Kind:         h.plugins[name].kind,
		})
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}

func hookInfo(hooks []Hook, defined func(string) bool) []HookInfo {
	out := make([]HookInfo, len(hooks))
	for i, hk := range hooks {
		out[i] = HookInfo{Hook: hk, Active: hk.Workflow == "*" || defined == nil || defined(hk.Workflow)}
	}
	return out
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// Close stops new calls (they fail with Plugin.NotFound), waits for the
// calls in flight until ctx ends, then frees every instance and compiled
// module. A reload opens the new Host first and then closes the old one,
// so that no call finds neither; routines taken from the old Host stay
// bound to it, so the caller swaps them together with the Host.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	h.mu.Unlock()

	done := make(chan struct{})
	go func() { h.inflight.Wait(); close(done) }()
	var waitErr error
	select {
	case <-done:
	case <-ctx.Done():
		waitErr = fmt.Errorf("plugins: closing with calls in flight: %w", ctx.Err())
	}
	var errs []error
	for _, name := range h.order {
		errs = append(errs, h.plugins[name].close(context.Background()))
	}
	if h.cache != nil {
		errs = append(errs, h.cache.Close(context.Background()))
	}
	return errors.Join(append(errs, waitErr)...)
}

// enter registers a call, or refuses it once Close has begun.
func (h *Host) enter() bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed {
		return false
	}
	h.inflight.Add(1)
	return true
}

// errClosed answers calls on a closed Host. A Live retries them on its
// current Host; anyone else sees a plugin that is gone.
var errClosed = flow.Errorf(flow.ErrPluginNotFound, "plugins were unloaded (reloaded or shut down)")

// call runs one plugin function unless the Host is closing. With tracing
// on, the call is a span under the step's, and what the plugin does (its
// HTTP requests) goes under it.
func (h *Host) call(ctx context.Context, plugin, fn string, input any, c *flow.Context) (out any, err error) {
	if !h.enter() {
		return nil, errClosed
	}
	defer h.inflight.Done()
	p, ok := h.plugins[plugin]
	if !ok {
		return nil, flow.Errorf(flow.ErrPluginNotFound, "no plugin %q is loaded", plugin)
	}
	if c != nil && c.Span != nil { // the name is made only for a span
		var s flow.Span
		s, c = c.ChildSpan("plugin "+plugin+"."+fn, flow.SpanInternal)
		s.SetString(flow.AttrPlugin, plugin)
		s.SetString(flow.AttrFunc, fn)
		defer func() {
			if fe := flow.AsError(err, flow.ErrTaskFailed); fe != nil {
				s.Fail(fe.Name, fe.Cause)
			}
			s.End()
		}()
	}
	if h.onCall == nil {
		return p.call(ctx, fn, input, c)
	}
	t0 := time.Now()
	out, err = p.call(ctx, fn, input, c)
	h.onCall(plugin, fn, time.Since(t0))
	return out, err
}

// routine is a plugin function as a flow.Routine, bound to one Host.
type routine struct {
	h      *Host
	plugin string
	fn     string
}

// Call runs the plugin function with the task's input.
func (r *routine) Call(ctx context.Context, input any, c *flow.Context) (any, error) {
	return r.h.call(ctx, r.plugin, r.fn, input, c)
}

// RoutineKind is flow.RoutineWasm.
func (r *routine) RoutineKind() string { return flow.RoutineWasm }
