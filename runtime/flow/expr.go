package flow

import (
	"context"
	"fmt"
)

// Expr maps data to a value: a path, a constant or a script function.
type Expr interface {
	Eval(data any, c *Context) (any, error)
}

// Passthrough is an Expr that may yield its data unchanged, doing no more
// than reporting it to a test (Context.Report). The engine then treats it
// as no Expr at all, sparing the step a copy of the data.
type Passthrough interface {
	Expr
	// Passes reports whether the Expr yields its data unchanged.
	Passes() bool
}

// IsIdentity reports whether e yields its data unchanged: no Expr, or a
// Passthrough that passes.
func IsIdentity(e Expr) bool {
	if e == nil {
		return true
	}
	p, ok := e.(Passthrough)
	return ok && p.Passes()
}

// Cond decides a choice rule.
type Cond interface {
	Test(data any, c *Context) (bool, error)
}

// Routine is a callable service adapter: HTTP, Lua, WebAssembly or Go.
// A named failure is returned as *Error; any other error counts as
// States.TaskFailed. The context carries the task's deadline.
type Routine interface {
	Call(ctx context.Context, input any, c *Context) (any, error)
}

// RoutineFunc adapts a Go function to Routine.
type RoutineFunc func(ctx context.Context, input any, c *Context) (any, error)

// Call calls f.
func (f RoutineFunc) Call(ctx context.Context, input any, c *Context) (any, error) {
	return f(ctx, input, c)
}

// Const is an Expr that always yields the same value.
type Const struct{ Value any }

// Eval returns the constant.
func (k Const) Eval(any, *Context) (any, error) { return k.Value, nil }

// ExprFunc adapts a Go function to Expr.
type ExprFunc func(data any, c *Context) (any, error)

// Eval calls f.
func (f ExprFunc) Eval(data any, c *Context) (any, error) { return f(data, c) }

// CondFunc adapts a Go function to Cond.
type CondFunc func(data any, c *Context) (bool, error)

// Test calls f.
func (f CondFunc) Test(data any, c *Context) (bool, error) { return f(data, c) }

// Truthy is a Cond that holds when an Expr yields anything but nil or false.
type Truthy struct{ Expr Expr }

// Test evaluates the expression and applies Lua's truthiness.
func (t Truthy) Test(data any, c *Context) (bool, error) {
	v, err := t.Expr.Eval(data, c)
	if err != nil {
		return false, err
	}
	b, isBool := v.(bool)
	return v != nil && (!isBool || b), nil
}

// Text evaluates an Expr that should yield a string (fail's error and cause).
func Text(e Expr, data any, c *Context) (string, error) {
	if e == nil {
		return "", nil
	}
	v, err := e.Eval(data, c)
	if err != nil {
		return "", err
	}
	switch s := v.(type) {
	case nil:
		return "", nil
	case string:
		return s, nil
	default:
		return fmt.Sprint(s), nil
	}
}
