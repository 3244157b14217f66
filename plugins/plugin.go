package plugins

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// plugin is one loaded plugin: its own runtime (the memory cap is a runtime
// setting, so plugins with different caps cannot share one), the compiled
// module, and a pool of instances for reactors.
type plugin struct {
	m      *Manifest
	h      *Host
	log    *slog.Logger
	rt     wazero.Runtime
	kind   string
	report *Report // the module's exports, checked against the ABI
	pool   *pool   // reactors only
	kv     *kvQuota
	sum    [sha256.Size]byte // of the module the load checked

	// compiled is nil while the plugin is parked: checked and warmed at
	// load, then its compiled code and instances freed until its first
	// call compiles it again from the on-disk cache (see park).
	mu       sync.Mutex
	compiled wazero.CompiledModule
}

// loadPlugin compiles a plugin's module (through the shared cache) and
// checks it against the ABI.
func loadPlugin(ctx context.Context, h *Host, m *Manifest, cache wazero.CompilationCache) (*plugin, error) {
	// Read within the ceiling again: the file may have grown since the
	// manifest was checked.
	wasm, err := readAtMost(m.modulePath, h.limits.MaxModule, "--plugin-max-module")
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %s: %w", m.Name, m.modulePath, err)
	}
	p := &plugin{m: m, h: h, log: h.log.With("plugin", m.Name), kv: newKVQuota(m.kvQuota, m.KVQuota), sum: sha256.Sum256(wasm)}
	cfg := wazero.NewRuntimeConfigCompiler().
		WithCompilationCache(cache).
		WithMemoryLimitPages(uint32(m.memoryBytes / pageSize)).
		// Without it a guest in a loop that calls nothing could not be
		// stopped; it costs guest loops dearly (see docs/plugins.md).
		WithCloseOnContextDone(true)
	p.rt = wazero.NewRuntimeWithConfig(ctx, cfg)
	if err := p.setup(ctx, wasm); err != nil {
		_ = p.rt.Close(ctx)
		return nil, fmt.Errorf("plugin %s (%s): %w", m.Name, m.modulePath, err)
	}
	return p, nil
}

// provideImports instantiates what a plugin may import: WASI and orbit.
func (p *plugin) provideImports(ctx context.Context) error {
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, p.rt); err != nil {
		return err
	}
	return instantiateHostModule(ctx, p.rt)
}

func (p *plugin) setup(ctx context.Context, wasm []byte) error {
	if err := p.provideImports(ctx); err != nil {
		return err
	}
	compiled, err := p.rt.CompileModule(ctx, wasm)
	if err != nil {
		if strings.Contains(err.Error(), "over limit") {
			return fmt.Errorf("compile: %w: the module asks for more memory than memory_limit %s allows; raise it in %s", err, p.m.MemoryLimit, ManifestFile)
		}
		return fmt.Errorf("compile: %w", err)
	}
	p.compiled = compiled
	rep := checkModule(compiled)
	if len(rep.Problems) > 0 {
		return fmt.Errorf("does not fit the plugin ABI: %s", joinProblems(rep.Problems))
	}
	p.kind, p.report = rep.Kind, rep
	for name, fn := range p.m.Routines {
		if reason := rep.exportProblem(fn); reason != "" {
			p.log.Warn("routine will fail with "+flow.ErrPluginNotFound, "routine", name, "reason", reason)
		}
	}
	for _, hk := range p.m.Hooks {
		if reason := rep.exportProblem(hk.Func); reason != "" {
			p.log.Warn("hook will fail with "+flow.ErrPluginNotFound, "func", hk.Func, "reason", reason)
		}
	}
	if p.kind == KindReactor {
		p.pool = newPool(p.h.poolSize, p.newReactor)
		wctx, cancel := context.WithTimeout(ctx, startTimeout)
		defer cancel()
		if err := p.pool.warm(wctx); err != nil {
			if wctx.Err() != nil {
				return fmt.Errorf("%w (its start-up ran past %s)", err, startTimeout)
			}
			return err
		}
	}
	if p.h.park {
		p.park(ctx)
	}
	return nil
}

// park frees what an idle plugin holds beyond its checked manifest: the
// compiled code (tens of MiB for a Go guest) and the warm instance. The
// load compiled, checked and started the module, so its code is in the
// on-disk cache and its start-up is known to work; the first call
// compiles it again from the cache, in milliseconds.
func (p *plugin) park(ctx context.Context) {
	if p.pool != nil {
		p.pool.drain()
	}
	_ = p.compiled.Close(ctx)
	p.compiled = nil
}

// unpark compiles a parked plugin again, from the module file the load
// checked, and starts an instance, outside the first call's own time; a
// module that changed since is refused until the plugins are loaded again.
// A plugin is never parked twice.
func (p *plugin) unpark(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.compiled != nil {
		return nil
	}
	wasm, err := readAtMost(p.m.modulePath, p.h.limits.MaxModule, "--plugin-max-module")
	if err != nil {
		return flow.Errorf(flow.ErrPluginNotFound, "plugin %s: %s: %v", p.m.Name, p.m.modulePath, err)
	}
	if sha256.Sum256(wasm) != p.sum {
		return flow.Errorf(flow.ErrPluginNotFound, "plugin %s: %s changed since the plugins were loaded; it runs once they are loaded again",
			p.m.Name, p.m.modulePath)
	}
	compiled, err := p.rt.CompileModule(ctx, wasm)
	if err != nil {
		return flow.Errorf(flow.ErrPluginNotFound, "plugin %s: compile %s: %v", p.m.Name, p.m.modulePath, err)
	}
	p.compiled = compiled
	if p.pool != nil {
		// As at load, the first call finds an instance started.
		wctx, cancel := context.WithTimeout(ctx, startTimeout)
		defer cancel()
		if err := p.pool.warm(wctx); err != nil {
			return flow.Errorf(flow.ErrPluginTrap, "plugin %s: %v", p.m.Name, err)
		}
	}
	return nil
}

// startTimeout bounds a module's start-up (_initialize) at load: a Go
// guest's takes milliseconds, so one still starting after this never will.
const startTimeout = 10 * time.Second

// call runs fn with input: what every plugin routine and hook comes to.
func (p *plugin) call(ctx context.Context, fn string, input any, c *flow.Context) (any, error) {
	in, err := json.Marshal(input)
	if err != nil {
		return nil, flow.Errorf(flow.ErrTaskFailed, "plugin %s: input is not JSON: %v", p.m.Name, err)
	}
	if err := p.unpark(ctx); err != nil { // outside the call's own time
		return nil, err
	}
	callCtx, cancel := context.WithTimeout(ctx, p.m.timeout)
	defer cancel()
	if p.kind == KindCommand {
		return p.runCommand(ctx, callCtx, fn, in, c)
	}
	inst, err := p.pool.get(callCtx)
	if err != nil {
		return nil, p.failure(ctx, callCtx, nil, fn, err)
	}
	reply, err := inst.invoke(callCtx, fn, in, c)
	if err == nil {
		err = late(callCtx)
	}
	var missing errNoExport
	switch {
	case errors.As(err, &missing):
		p.pool.put(inst)
		return nil, flow.Errorf(flow.ErrPluginNotFound, "plugin %s: %s", p.m.Name, missing.reason)
	case err != nil:
		p.pool.discard(inst)
		return nil, p.failure(ctx, callCtx, inst, fn, err)
	}
	out, broken, err := p.answer(fn, reply)
	if broken {
		p.pool.discard(inst) // a guest that breaks the protocol is not trusted with another call
	} else {
		p.pool.put(inst)
	}
	return out, err
}

// late is the call's own error when the guest answered after its time was
// up: a C guest's sleep, cut short at the deadline, returns as if it had
// slept, and what it answers then must not count.
func late(callCtx context.Context) error { return callCtx.Err() }

// answer turns a reply into the call's outcome; broken says the reply
// broke the protocol, which is a trap.
func (p *plugin) answer(fn string, b []byte) (out any, broken bool, err error) {
	out, named, perr := decodeReply(b)
	switch {
	case perr != nil:
		return nil, true, flow.Errorf(flow.ErrPluginTrap, "plugin %s: %s: %v", p.m.Name, fn, perr)
	case named != nil:
		return nil, false, named
	}
	return out, false, nil
}

// reply is the JSON a guest answers with (see abi.go).
type reply struct {
	Result any     `json:"result"`
	Error  *string `json:"error"`
	Cause  string  `json:"cause"`
}

// decodeReply turns a guest's reply into a result or the guest's named
// error; err is a reply that breaks the protocol.
func decodeReply(b []byte) (result any, named *flow.Error, err error) {
	if len(b) == 0 {
		return nil, nil, nil
	}
	var r reply
	if err := flow.UnmarshalJSON(b, &r); err != nil { // numbers as the guest wrote them
		return nil, nil, fmt.Errorf("reply is not a JSON object: %v", err)
	}
	if r.Error != nil {
		if *r.Error == "" {
			return nil, nil, errors.New(`reply has an empty "error" name`)
		}
		return nil, &flow.Error{Name: *r.Error, Cause: r.Cause}, nil
	}
	return r.Result, nil, nil
}

func (p *plugin) close(ctx context.Context) error {
	if p.pool != nil {
		p.pool.drain()
	}
	return p.rt.Close(ctx)
}
