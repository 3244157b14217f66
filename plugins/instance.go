package plugins

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// instance is one instantiated module with the per-call state its host
// functions need. It serves one call at a time; wazero runs host functions
// on the calling goroutine, so none of this needs a lock.
type instance struct {
	p      *plugin
	mod    api.Module
	alloc  api.Function
	fns    map[string]api.Function // exports resolved so far
	stack  []uint64                // reused by CallWithStack: no allocation per call
	inPtr  uint64                  // the input buffer orbit_alloc gave last
	inCap  uint64                  // its size
	stdout guestLog
	stderr guestLog
	out    outputBudget // of the current call, for log, stdout and stderr

	// Set for the duration of a call.
	mem     api.Memory      // the calling module's memory, in a host function
	pending []byte          // the value a host function left for read
	flow    *flow.Context   // the task's context, for context_get and HTTP headers
	done    <-chan struct{} // the call's deadline, for sleeps
}

type instanceKey struct{}

// instanceFrom finds the instance a host function runs for: every call into
// a guest carries it in its context.
func instanceFrom(ctx context.Context) *instance {
	inst, _ := ctx.Value(instanceKey{}).(*instance)
	return inst
}

// moduleConfig is the sandbox of one instance (see the WASI part of abi.go);
// args are a command's arguments after the plugin's name.
func (i *instance) moduleConfig(args []string) wazero.ModuleConfig {
	name := i.p.m.Name
	i.stdout = guestLog{log: i.p.log.With("stream", "stdout"), level: slog.LevelInfo, budget: &i.out}
	i.stderr = guestLog{log: i.p.log.With("stream", "stderr"), level: slog.LevelWarn, budget: &i.out}
	cfg := wazero.NewModuleConfig().
		WithName(""). // anonymous, so that many instances of one module can coexist
		WithStdout(&i.stdout).
		WithStderr(&i.stderr).
		WithSysWalltime().
		WithSysNanotime().
		WithNanosleep(i.sleep).
		WithRandSource(rand.Reader)
	if i.p.kind == KindReactor {
		cfg = cfg.WithStartFunctions(exportInitialize)
	} else {
		cfg = cfg.WithArgs(append([]string{name}, args...)...) // a command dispatches on them
	}
	return cfg
}

// sleep is the guest's clock sleep: real, but cut short by the call's
// deadline so that a sleeping guest cannot outlive its timeout.
func (i *instance) sleep(ns int64) {
	t := time.NewTimer(time.Duration(ns))
	defer t.Stop()
	select {
	case <-t.C:
	case <-i.done:
	}
}

// newReactor instantiates a reactor for the pool, refusing one that speaks
// another ABI version.
func (p *plugin) newReactor(ctx context.Context) (*instance, error) {
	i, version, err := p.instantiate(ctx)
	if err != nil {
		return nil, err
	}
	if version != ABIVersion {
		i.close()
		return nil, fmt.Errorf("plugin %s: module speaks ABI version %d, this Orbit speaks %d (rebuild it with the current kit)", p.m.Name, version, ABIVersion)
	}
	return i, nil
}

// instantiate starts a reactor instance (running _initialize) and asks its
// ABI version.
func (p *plugin) instantiate(ctx context.Context) (*instance, int32, error) {
	i := &instance{p: p, fns: map[string]api.Function{}, stack: make([]uint64, 2)}
	cfg := i.moduleConfig(nil)
	i.beginOutput()
	i.done = ctx.Done()
	mod, err := p.rt.InstantiateModule(context.WithValue(ctx, instanceKey{}, i), p.compiled, cfg)
	i.done = nil
	i.endOutput()
	if err != nil {
		return nil, 0, fmt.Errorf("plugin %s: instantiate: %w%s", p.m.Name, err, suffix(i.stderr.summary()))
	}
	i.mod = mod
	i.alloc = mod.ExportedFunction(exportAlloc)
	v, err := mod.ExportedFunction(exportABIVersion).Call(ctx)
	if err != nil {
		i.close()
		return nil, 0, fmt.Errorf("plugin %s: %s: %w", p.m.Name, exportABIVersion, err)
	}
	return i, int32(v[0]), nil
}

// errNoExport marks a call to a function the module does not export with
// the routine shape; it leaves the instance healthy.
type errNoExport struct{ reason string }

// Error is the reason, as Plugin.NotFound's cause.
func (e errNoExport) Error() string { return e.reason }

// invoke runs one reactor call and returns the guest's reply, still in its
// memory: the caller decodes it before the instance serves anyone else.
func (i *instance) invoke(ctx context.Context, fn string, input []byte, c *flow.Context) ([]byte, error) {
	f, ok := i.fns[fn]
	if !ok {
		if reason := i.p.report.exportProblem(fn); reason != "" {
			return nil, errNoExport{reason}
		}
		f = i.mod.ExportedFunction(fn)
		i.fns[fn] = f
	}
	i.beginOutput()
	i.pending, i.flow, i.done = nil, c, ctx.Done()
	defer func() {
		i.endOutput()
		i.pending, i.flow, i.done = nil, nil, nil
	}()
	ctx = context.WithValue(ctx, instanceKey{}, i)

	var ptr uint64
	if len(input) > 0 {
		// The last buffer serves again when the input fits: a call into
		// the guest saved, which with interruption on is a goroutine saved.
		if uint64(len(input)) > i.inCap {
			i.stack[0] = uint64(len(input))
			if err := i.alloc.CallWithStack(ctx, i.stack); err != nil {
				return nil, err
			}
			i.inPtr, i.inCap = i.stack[0], uint64(len(input))
		}
		ptr = i.inPtr
		if !i.mod.Memory().Write(uint32(ptr), input) {
			return nil, fmt.Errorf("%s returned %d, outside memory, for %d bytes", exportAlloc, ptr, len(input))
		}
	}
	i.stack[0], i.stack[1] = ptr, uint64(len(input))
	if err := f.CallWithStack(ctx, i.stack); err != nil {
		return nil, err
	}
	out := i.stack[0]
	rptr, rlen := uint32(out>>32), uint32(out)
	if rlen > maxReply {
		return nil, fmt.Errorf("%s returned a reply of %d bytes, over the %d a plugin may answer", fn, rlen, maxReply)
	}
	reply, ok := i.mod.Memory().Read(rptr, rlen)
	if !ok {
		return nil, fmt.Errorf("%s returned a reply at %d+%d, outside memory", fn, rptr, rlen)
	}
	return reply, nil
}

// memoryFull reports whether the guest's memory reached the manifest's
// cap: a failed memory.grow is how a guest learns it is out of memory,
// and what it does next (a Go guest prints "out of memory" and exits) is
// the guest's business.
func (i *instance) memoryFull() bool {
	if bytes.Contains(i.stderr.kept.Bytes(), []byte("out of memory")) {
		return true
	}
	if i.mod == nil {
		return false
	}
	mem := i.mod.Memory()
	return mem != nil && uint64(mem.Size())+growSlack > i.p.m.memoryBytes
}

// growSlack is how close to the cap a memory must be to count as full when
// a guest fails without saying why. It is one page: a guest that asked for
// more and was refused may sit further below the cap, but a wider margin
// would call an ordinary trap near the cap a memory error.
const growSlack = pageSize

// beginOutput starts a call's output: its budget and what it keeps for
// error causes.
func (i *instance) beginOutput() {
	i.out.reset()
	i.stdout.kept.Reset()
	i.stderr.kept.Reset()
}

// endOutput logs what the call left unfinished and the marker of what
// was dropped.
func (i *instance) endOutput() {
	i.stdout.flush()
	i.stderr.flush()
	i.out.report(i.logger)
}

// logger is the plugin's logger, tagged with the task during a call.
func (i *instance) logger() *slog.Logger {
	if c := i.flow; c != nil {
		return i.p.log.With(c.LogArgs()...)
	}
	return i.p.log
}

func (i *instance) close() {
	i.endOutput()
	if i.mod != nil {
		_ = i.mod.Close(context.Background())
	}
}

func suffix(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}
