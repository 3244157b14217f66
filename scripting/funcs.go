package scripting

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

// fnRef names a registered Lua function: the same index in every state of
// the pool. It is all a Lua expression, condition or routine holds.
type fnRef struct {
	pool *pool
	idx  int
}

// luaExpr is an input/output/items/until/text function(data, ctx).
type luaExpr struct{ fnRef }

// Eval calls the function; its errors are States.Runtime.
func (e luaExpr) Eval(data any, c *flow.Context) (any, error) {
	return e.value(nil, data, c, LuaExpression)
}

// luaCond is a choice rule's when = function(data, ctx).
type luaCond struct{ fnRef }

// Test calls the function and applies Lua truthiness to its result, which
// needs no conversion.
func (e luaCond) Test(data any, c *flow.Context) (bool, error) {
	v, err := e.run(nil, data, c, LuaCondition, truthResult)
	if err != nil {
		return false, err
	}
	ok := v.truth
	e.pool.put(v)
	return ok, nil
}

// luaRoutine is a routine { lua = function(input, ctx) }.
type luaRoutine struct {
	fnRef
	span string // its span's name: "lua <routine>"
}

// Call runs the routine: error({error=..., cause=...}) is a named error,
// any other Lua error States.TaskFailed.
func (r luaRoutine) Call(ctx context.Context, input any, c *flow.Context) (any, error) {
	s, c := c.ChildSpan(r.span, flow.SpanInternal)
	if s == nil {
		return r.value(ctx, input, c, LuaRoutine)
	}
	out, err := r.value(ctx, input, c, LuaRoutine)
	if fe := flow.AsError(err, flow.ErrTaskFailed); fe != nil {
		s.Fail(fe.Name, fe.Cause)
	}
	s.End()
	return out, err
}

// RoutineKind is flow.RoutineLua.
func (luaRoutine) RoutineKind() string { return flow.RoutineLua }

// LuaUse is what a Lua function is called for, as Options.OnLuaCall
// reports it.
type LuaUse uint8

// The uses of a Lua function.
const (
	LuaExpression LuaUse = iota // an input, output, items or other mapping
	LuaCondition                // a choice rule's when
	LuaRoutine                  // a routine { lua = ... }
)

var luaUseNames = [...]string{LuaExpression: "expression", LuaCondition: "condition", LuaRoutine: "routine"}

func (u LuaUse) String() string { return luaUseNames[u] }

// fallback names a script's error that has no name of its own.
func (u LuaUse) fallback() string {
	if u == LuaRoutine {
		return flow.ErrTaskFailed
	}
	return flow.ErrRuntime
}

// run calls the function with (arg, ctx) and finish on its one result,
// and returns the state, whose result fields the caller reads before
// putting it back. On error the state is already back and the error is
// named (use's fallback when the script's error has no name of its own).
func (r fnRef) run(parent context.Context, arg any, c *flow.Context, use LuaUse, finish func(*vm) error) (*vm, error) {
	v, err := r.pool.get(parent)
	if err != nil {
		return nil, err
	}
	in, err := v.argument(arg)
	if err != nil {
		r.pool.put(v)
		return nil, err
	}
	fallback := use.fallback()
	v.fn, v.fallback = v.begin(r.idx, c), fallback
	v.L.Push(in)
	v.L.Push(v.ctxProxy)
	var t0 time.Time
	if r.pool.cfg.onCall != nil {
		t0 = time.Now()
	}
	err = v.call(parent, 2, 1, r.pool.cfg.timeout, finish)
	if r.pool.cfg.onCall != nil {
		r.pool.cfg.onCall(use, time.Since(t0))
	}
	if err != nil {
		err = v.scriptError(err, v.fn, fallback)
		r.pool.put(v)
		return nil, err
	}
	return v, nil
}

// value is run converting the result to JSON.
func (r fnRef) value(parent context.Context, arg any, c *flow.Context, use LuaUse) (any, error) {
	v, err := r.run(parent, arg, c, use, valueResult)
	if err != nil {
		return nil, err
	}
	out := v.out
	v.out = nil
	r.pool.put(v)
	return out, nil
}

// truthResult and valueResult are run's finishers: they take the call's
// result off the stack, as a truth value or as JSON.
func truthResult(v *vm) error {
	v.truth = lua.LVAsBool(v.L.Get(-1))
	v.L.Pop(1)
	return nil
}

func valueResult(v *vm) error {
	out, err := v.fromLua(v.L.Get(-1))
	v.L.Pop(1)
	if err != nil {
		return flow.Errorf(v.fallback, "%s: the function returned %s", funcPos(v.fn), err)
	}
	v.out = out
	return nil
}

// migrateFunc adapts migrate = function(from_version, state, data) return
// state, data end to Workflow.Migrate.
func migrateFunc(ref fnRef) func(string, string, any) (string, any, error) {
	return func(from, state string, data any) (string, any, error) {
		v, err := ref.pool.get(nil)
		if err != nil {
			return "", nil, err
		}
		defer ref.pool.put(v)
		in, err := v.argument(data)
		if err != nil {
			return "", nil, err
		}
		v.fn = v.begin(ref.idx, nil)
		v.L.Push(lua.LString(from))
		v.L.Push(lua.LString(state))
		v.L.Push(in)
		if err := v.call(nil, 3, 2, ref.pool.cfg.timeout, migrateResult); err != nil {
			return "", nil, v.scriptError(err, v.fn, flow.ErrRuntime)
		}
		out := v.out.([2]any)
		v.out = nil
		return out[0].(string), out[1], nil
	}
}

func migrateResult(v *vm) error {
	defer v.L.Pop(2)
	next, ok := v.L.Get(-2).(lua.LString)
	if !ok {
		return flow.Errorf(flow.ErrRuntime, "%s: migrate must return a state name and the data", funcPos(v.fn))
	}
	out, err := v.fromLua(v.L.Get(-1))
	if err != nil {
		return flow.Errorf(flow.ErrRuntime, "%s: migrate returned %s", funcPos(v.fn), err)
	}
	v.out = [2]any{string(next), out}
	return nil
}

// begin pushes function idx and points ctx at c for the coming call.
func (v *vm) begin(idx int, c *flow.Context) *lua.LFunction {
	fn := v.funcs[idx]
	v.cur = c
	v.L.Push(fn)
	return fn
}

// scriptError turns a failed call into a named error. Errors already named
// (deadline, cancellation) pass through; a table raised with an `error`
// field is a named error; anything else is fallback with the message, which
// carries the script's file:line.
func (v *vm) scriptError(err error, fn *lua.LFunction, fallback string) error {
	apiErr, ok := err.(*lua.ApiError)
	if !ok {
		return err
	}
	if t, ok := apiErr.Object.(*lua.LTable); ok {
		if name, ok := t.RawGetString("error").(lua.LString); ok && fallback == flow.ErrTaskFailed {
			return &flow.Error{Name: string(name), Cause: lua.LVAsString(t.RawGetString("cause"))}
		}
		where := tracePos(apiErr.StackTrace, funcPos(fn))
		// The cause is cut to flow.MaxErrorCause anyway: convert no more.
		c := converter{bridge: v.bridge, limit: flow.MaxErrorCause}
		val, cerr := c.from(t, 0)
		raw, _ := json.Marshal(val)
		if cerr != nil {
			raw = []byte(t.String())
		}
		return &flow.Error{Name: fallback, Cause: fmt.Sprintf("%s: %s", where, raw)}
	}
	msg := apiErr.Object.String()
	if _, isStr := apiErr.Object.(lua.LString); !isStr || !hasPos(msg) {
		msg = tracePos(apiErr.StackTrace, funcPos(fn)) + ": " + msg
	}
	return &flow.Error{Name: fallback, Cause: msg}
}

// newCtxProxy makes the read-only ctx table. Fields are produced on access
// from the running call's flow.Context, so a call that never reads ctx
// costs nothing for it.
func (v *vm) newCtxProxy() *lua.LTable {
	L := v.L
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		L.Push(v.ctxField(L.CheckString(2)))
		return 1
	}))
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("ctx is read-only (tried to set %s)", L.Get(2).String())
		return 0
	}))
	mt.RawSetString("__metatable", lua.LString("ctx"))
	proxy := L.NewTable()
	proxy.Metatable = mt
	return proxy
}

func (v *vm) ctxField(name string) lua.LValue {
	c := v.cur
	if c == nil {
		return lua.LNil
	}
	switch name {
	case "instance":
		return lua.LString(c.Instance)
	case "workflow":
		return lua.LString(c.Workflow)
	case "version":
		return lua.LString(c.Version)
	case "state":
		return lua.LString(c.State)
	case "attempt":
		return lua.LNumber(c.Attempt)
	case "visit":
		return lua.LNumber(c.Visit)
	case "started_at":
		return timeValue(c.StartedAt)
	case "now":
		return timeValue(c.Now)
	case "idempotency_key":
		return lua.LString(c.IdempotencyKey)
	case "item_index":
		if c.ItemIndex >= 0 {
			return lua.LNumber(c.ItemIndex)
		}
	}
	return lua.LNil
}

func timeValue(t time.Time) lua.LValue {
	if t.IsZero() {
		return lua.LNil
	}
	return lua.LString(store.FormatTime(t))
}
