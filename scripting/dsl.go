package scripting

import (
	"fmt"

	lua "github.com/yuin/gopher-lua"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// loader runs a bundle's files in one Lua state and turns what the DSL
// globals receive into flow definitions. In replay mode it runs the same
// code in a new state of the pool only to register the same functions, so
// it skips everything with effects outside the state.
type loader struct {
	cfg        *config
	vm         *vm
	pool       *pool
	replay     bool
	b          *flow.Bundle
	probs      flow.Problems
	routinePos map[string]flow.Pos // routines defined by the scripts
	specs      map[*flow.State]*stateSpec
	exts       []extension
	observers  []*flow.Observer // from observe{}, checked once all is loaded
	mods       *modules
	// sealed is set once loading is over: definitions made by a call at
	// run time would change a bundle the engine is already using.
	sealed bool
}

// extension is one extend(name, [opts,] fn) call, applied after all base
// definitions.
type extension struct {
	workflow string
	priority int
	fn       *lua.LFunction
	pos      flow.Pos
}

// stateSpec is what task{...} and the other builders return. It becomes a
// flow.State once the states table gives it a name.
type stateSpec struct {
	kind flow.Kind
	t    *lua.LTable
	pos  flow.Pos
}

var builders = map[string]flow.Kind{"task": flow.Task, "choice": flow.Choice, "pass": flow.Pass,
	"wait": flow.Wait, "await": flow.Await, "parallel": flow.Parallel, "map": flow.Map,
	"call": flow.Call, "succeed": flow.Succeed, "fail": flow.Fail}

func newLoader(cfg *config, v *vm, p *pool, replay bool) *loader {
	l := &loader{cfg: cfg, vm: v, pool: p, replay: replay, routinePos: map[string]flow.Pos{},
		specs: map[*flow.State]*stateSpec{},
		b:     &flow.Bundle{Workflows: map[string]*flow.Workflow{}, Routines: map[string]flow.Routine{}}}
	L := v.L
	for name, kind := range builders {
		L.SetGlobal(name, L.NewFunction(func(L *lua.LState) int {
			ud := L.NewUserData()
			ud.Value = &stateSpec{kind: kind, t: L.CheckTable(1), pos: whereToPos(L.Where(1))}
			L.Push(ud)
			return 1
		}))
	}
	setCondBuilders(L, v)
	L.SetGlobal("routine", l.named("routine", l.defineRoutine))
	L.SetGlobal("workflow", l.named("workflow", l.defineWorkflow))
	L.SetGlobal("observe", L.NewFunction(func(L *lua.LState) int {
		l.checkLoading(L, "observe")
		l.defineObserver(L.CheckTable(1), whereToPos(L.Where(1)))
		return 0
	}))
	L.SetGlobal("extend", L.NewFunction(func(L *lua.LState) int {
		l.checkLoading(L, "extend")
		e := extension{workflow: L.CheckString(1), pos: whereToPos(L.Where(1))}
		fn := 2
		if opts, ok := L.Get(2).(*lua.LTable); ok {
			e.priority = l.extendOptions(opts, e)
			fn = 3
		}
		e.fn = L.CheckFunction(fn)
		l.exts = append(l.exts, e)
		return 0
	}))
	return l
}

// named makes the two-step globals `routine "name" {...}` and
// `workflow "name" {...}`; the one-call form name(name, {...}) works too.
func (l *loader) named(what string, define func(string, *lua.LTable, flow.Pos)) *lua.LFunction {
	return l.vm.L.NewFunction(func(L *lua.LState) int {
		l.checkLoading(L, what)
		name := L.CheckString(1)
		pos := whereToPos(L.Where(1))
		if t, ok := L.Get(2).(*lua.LTable); ok {
			define(name, t, pos)
			return 0
		}
		L.Push(L.NewFunction(func(L *lua.LState) int {
			l.checkLoading(L, what)
			define(name, L.CheckTable(1), pos)
			return 0
		}))
		return 1
	})
}

func (l *loader) problem(pos flow.Pos, msg string) {
	l.probs = append(l.probs, flow.Problem{Pos: pos, Message: msg})
}

// unresolved is problem for a name the bundle does not define.
func (l *loader) unresolved(pos flow.Pos, msg string) {
	l.probs = append(l.probs, flow.Problem{Pos: pos, Message: msg, Unresolved: true})
}

// register keeps a Lua function for calls at run time; its index is the
// same in every state of the pool because every state runs the same code.
func (l *loader) register(fn *lua.LFunction) fnRef {
	l.vm.funcs = append(l.vm.funcs, fn)
	return fnRef{pool: l.pool, idx: len(l.vm.funcs) - 1}
}

// run executes the compiled files in order, then adds the declarative
// formats' definitions, then applies the extensions. Each file runs
// through require, so a file another one required already is not run
// again.
func (l *loader) run(protos []*lua.FunctionProto, byFormat [][]flow.Source) {
	L := l.vm.L
	l.mods = newModules(protos, l.vm.concatFn)
	req := L.NewFunction(l.mods.require)
	L.SetGlobal("require", req)
	for _, proto := range protos {
		if l.mods.started[proto.SourceName] {
			continue
		}
		L.Push(req)
		L.Push(lua.LString(proto.SourceName))
		if !l.loadCall(1, flow.Pos{File: proto.SourceName, Line: 1}) {
			return
		}
	}
	l.defineFormats(byFormat)
	l.applyExtensions()
	l.vm.seal()
	l.sealed = true
}

// checkLoading stops a definition made after loading.
func (l *loader) checkLoading(L *lua.LState, what string) {
	if l.sealed {
		L.RaiseError("%s can only be used at load time, at the top level of a script", what)
	}
}

// loadCall runs the pushed function with nargs arguments at load time and
// reports a failure as a problem. It returns false when the state is no
// longer usable (a runaway script was stopped).
func (l *loader) loadCall(nargs int, at flow.Pos) bool {
	limit := l.cfg.loadTimeout()
	err := l.vm.call(nil, nargs, 0, limit, nil)
	if err == nil {
		return true
	}
	if l.vm.broken {
		pos, _ := splitPos(l.vm.stoppedAt, at)
		l.problem(pos, fmt.Sprintf("the script ran longer than %s at load time (an endless loop?)", limit))
		return false
	}
	msg := err.Error()
	if apiErr, ok := err.(*lua.ApiError); ok {
		msg = apiErr.Object.String()
		if !hasPos(msg) {
			msg = tracePos(apiErr.StackTrace, at.String()) + ": " + msg
		}
	}
	pos, text := splitPos(msg, at)
	l.problem(pos, text)
	return true
}

// spec returns the stateSpec in a builder's result, or nil.
func spec(v lua.LValue) *stateSpec {
	if ud, ok := v.(*lua.LUserData); ok {
		if s, ok := ud.Value.(*stateSpec); ok {
			return s
		}
	}
	return nil
}
