package scripting

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
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
	env     Env
	onCall  func(LuaUse, time.Duration) // Options.OnLuaCall
	// hidden holds the variables a script tried to read that are set but
	// not exposed, each warned about once.
	hidden sync.Map
}

func (c *config) log() *slog.Logger {
	if c.logger == nil {
		return slog.Default()
	}
	return c.logger
}

// readEnv is what env(name) and ${NAME} read. A variable that is set but
// not exposed reads as unset; the operator is told once, since a fallback
// may then hide a value they meant scripts to use.
func (c *config) readEnv(name string) (string, error) {
	val, ok, hidden := c.env.lookup(name)
	if ok {
		return val, nil
	}
	if hidden && name != tokenVar {
		if _, warned := c.hidden.LoadOrStore(name, true); !warned {
			c.log().Warn("a script reads an environment variable that is not exposed to scripts; expose it with --script-env",
				"variable", name)
		}
	}
	return "", envError(name, hidden)
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
	// allocated is what the running call has created so far (limits.go).
	allocated int
	// spentTime and spentAlloc add up the time and the charged bytes of
	// every call the state has run. What a call leaves in tables that
	// top-level code keeps survives it, and grows with these: keep retires
	// the state once they reach what one call may take.
	spentTime  time.Duration
	spentAlloc int
	logs       logState // what the running call has logged (logging.go)
	// concatFn is `..` (concat.go), handed to every file as it runs.
	concatFn *lua.LFunction

	// The running call's function and what its finisher read (funcs.go).
	fn       *lua.LFunction
	fallback string
	truth    bool
	out      any

	// Set by seal once the bundle has run (sandbox.go).
	frozen      map[*lua.LTable]*frozenTable
	globals     *lua.LTable // the globals table, empty: reads go through
	globalsBase *lua.LTable // what the bundle's top-level code defined
	overlayMT   *lua.LTable // metatable of overlay: reads fall through to globalsBase
	overlay     *lua.LTable // globals the running call set, or nil
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

// slots bounds the Lua calls that run at once in the process. A call is
// all CPU, so more at once than there are cores only stretches each one's
// wall time towards its deadline, and multiplies the memory calls may hold
// (docs/scripts.md, "Security"). A call waits for a slot before its
// deadline starts.
var slots = make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))

// get borrows a state, preparing a new one when none is idle, once a slot
// is free; ctx (nil for expressions) may give up the wait.
func (p *pool) get(ctx context.Context) (*vm, error) {
	select {
	case slots <- struct{}{}:
	default:
		var done <-chan struct{}
		if ctx != nil {
			done = ctx.Done()
		}
		select {
		case slots <- struct{}{}:
		case <-done:
			return nil, ctxError(ctx)
		}
	}
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		v := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return v, nil
	}
	p.mu.Unlock()
	v, err := p.prepare()
	if err != nil {
		<-slots
	}
	return v, err
}

// put returns a borrowed state and its slot.
func (p *pool) put(v *vm) {
	v.cur, v.fn = nil, nil
	v.dropOverlay()
	p.keep(v)
	<-slots
}

// keep adds a state to the idle ones, unless it is broken, worn or enough
// are.
func (p *pool) keep(v *vm) {
	if !v.broken && !v.worn() {
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

// worn says the state's calls have together run as long as one call may, or
// created as much: it may hold that much in tables its top-level code keeps
// (a cache, a module table), and would grow without end if it served on.
func (v *vm) worn() bool {
	return v.spentTime >= v.cfg.timeout || v.spentAlloc >= maxCallAlloc
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
// Lua deadline and, for routines, the caller's context. finish, when not
// nil, takes the nret results off the stack while the deadline still runs,
// so that converting them is bounded by it too; without it the results stay
// on the stack when err is nil. A call stopped by its deadline or its
// caller is discarded whatever it returned: a script can catch the
// deadline's error with pcall, and a library call can end after it.
func (v *vm) call(parent context.Context, nargs, nret int, limit time.Duration, finish func(*vm) error) error {
	if parent != nil && parent.Err() != nil {
		v.L.Pop(nargs + 1)
		return ctxError(parent)
	}
	var stop func() bool
	if parent != nil && parent.Done() != nil {
		stop = context.AfterFunc(parent, func() { v.dl.fire(cancelled) })
	}
	v.allocated = 0
	began := time.Now()
	v.dl.timer.Reset(limit)
	err := v.L.PCall(nargs, nret, nil)
	if err == nil && finish != nil {
		err = finish(v)
	}
	v.spentTime += time.Since(began)
	v.spentAlloc += v.allocated
	v.endLogs()
	why := v.dl.why.Load()
	if !v.dl.timer.Stop() {
		// It fired, or is firing: the call ran to its deadline.
		if why == running {
			why = expired
		}
	}
	if stop != nil && !stop() && why == running {
		why = cancelled // the caller gave up as the call ended
	}
	switch why {
	case running:
		return err
	case expired:
		v.broken = true
		if apiErr, ok := err.(*lua.ApiError); ok {
			v.stoppedAt = apiErr.Object.String()
		}
		if err == nil && finish == nil {
			v.L.Pop(nret)
		}
		if pos, _ := splitPos(v.stoppedAt, flow.Pos{}); pos.File != "" {
			return flow.Errorf(flow.ErrRuntime, "lua call exceeded %s (stopped at %s)", limit, pos)
		}
		return flow.Errorf(flow.ErrRuntime, "lua call exceeded %s", limit)
	default:
		v.broken = true
		if err == nil && finish == nil {
			v.L.Pop(nret)
		}
		return ctxError(parent)
	}
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
