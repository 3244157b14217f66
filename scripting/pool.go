package scripting

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/orbit-sidecar/orbit/httpcall"
	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// maxIdle bounds the idle states a pool keeps; more are closed on return.
const maxIdle = 64

// config is Options with the defaults applied.
type config struct {
	http    *httpcall.Client
	plugins PluginSet
	timeout time.Duration
	logger  *slog.Logger // nil: slog.Default() at the time of logging
}

// loadTimeout is how long one file (or extension) may run at load time:
// top-level code builds whole workflows, so it gets more than one call.
func (c *config) loadTimeout() time.Duration { return 10 * c.timeout }

// vm is one prepared Lua state and the functions the DSL registered in it.
type vm struct {
	*bridge
	cfg      *config
	dl       *deadline
	funcs    []*lua.LFunction
	cur      *flow.Context // what ctx reads during a call
	ctxProxy *lua.LTable
	quiet    bool // replaying a bundle: top-level logging already happened once
	broken   bool // stopped by a deadline: do not reuse
	// stoppedAt is the message gopher-lua raised where a deadline stopped
	// the script; it carries the file:line.
	stoppedAt string
}

// pool keeps the prepared states of one bundle.
type pool struct {
	cfg    *config
	protos []*lua.FunctionProto // compiled sources, in load order
	// formatSrcs are the declarative formats' files, by format: a new
	// state defines them again so that extensions find their workflows.
	formatSrcs [][]flow.Source
	nfuncs     int
	mu         sync.Mutex
	idle       []*vm
}

// get borrows a state, preparing a new one when none is idle.
func (p *pool) get() (*vm, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		v := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return v, nil
	}
	p.mu.Unlock()
	return p.prepare()
}

// put returns a borrowed state.
func (p *pool) put(v *vm) {
	v.cur = nil
	if k, _ := v.ctxProxy.Next(lua.LNil); k != lua.LNil {
		// A script wrote into ctx with rawset; give the next call a clean one.
		v.ctxProxy = v.newCtxProxy()
	}
	if !v.broken {
		p.mu.Lock()
		if len(p.idle) < maxIdle {
			p.idle = append(p.idle, v)
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
	v.L.Close()
}

// prepare runs the whole bundle in a fresh state so that its functions line
// up with the indexes the loaded bundle holds.
func (p *pool) prepare() (*vm, error) {
	v := newVM(p.cfg)
	v.quiet = true
	l := newLoader(p.cfg, v, p, true)
	l.run(p.protos, p.formatSrcs)
	v.quiet = false
	if len(l.probs) > 0 || v.broken {
		v.L.Close()
		msg := "the state was stopped"
		if len(l.probs) > 0 {
			msg = l.probs[0].String()
		}
		return nil, flow.Errorf(flow.ErrRuntime, "preparing a Lua state failed: %s", msg)
	}
	if len(v.funcs) != p.nfuncs {
		v.L.Close()
		return nil, flow.Errorf(flow.ErrRuntime,
			"the scripts defined %d functions on a second run instead of %d; top-level code must not depend on randomness",
			len(v.funcs), p.nfuncs)
	}
	return v, nil
}

// call runs the function on top of the stack with nargs arguments under the
// Lua deadline and, for routines, the caller's context. It leaves nret
// results on the stack when err is nil.
func (v *vm) call(parent context.Context, nargs, nret int, limit time.Duration) error {
	if parent != nil && parent.Err() != nil {
		v.L.Pop(nargs + 1)
		return ctxError(parent)
	}
	var stop func() bool
	if parent != nil && parent.Done() != nil {
		stop = context.AfterFunc(parent, func() { v.dl.fire(cancelled) })
	}
	v.dl.timer.Reset(limit)
	err := v.L.PCall(nargs, nret, nil)
	if !v.dl.timer.Stop() {
		v.broken = true
	}
	if stop != nil && !stop() {
		v.broken = true
	}
	if err == nil {
		return nil
	}
	switch v.dl.why.Load() {
	case expired:
		v.broken = true
		if apiErr, ok := err.(*lua.ApiError); ok {
			v.stoppedAt = apiErr.Object.String()
		}
		if pos, _ := splitPos(v.stoppedAt, flow.Pos{}); pos.File != "" {
			return flow.Errorf(flow.ErrRuntime, "lua call exceeded %s (stopped at %s)", limit, pos)
		}
		return flow.Errorf(flow.ErrRuntime, "lua call exceeded %s", limit)
	case cancelled:
		v.broken = true
		return ctxError(parent)
	}
	return err
}

// ctxError names why the caller's context ended.
func ctxError(ctx context.Context) error {
	if ctx.Err() == context.DeadlineExceeded {
		return flow.Errorf(flow.ErrTimeout, "the task timed out while Lua was running")
	}
	return flow.Errorf(flow.ErrCancelled, "cancelled while Lua was running")
}

// funcPos is where a registered function was written, for messages about
// failures that carry no position of their own.
func funcPos(fn *lua.LFunction) string {
	if fn.Proto == nil {
		return "?"
	}
	return fmt.Sprintf("%s:%d", fn.Proto.SourceName, fn.Proto.LineDefined)
}
