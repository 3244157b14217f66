package flow

import (
	"context"
	"errors"
	"testing"
)

var errExpr = errors.New("expression failed")

func failing(any, *Context) (any, error) { return nil, errExpr }

func TestTruthy(t *testing.T) {
	// Lua's truthiness: only nil and false are false; 0 and "" are true.
	for _, tc := range []struct {
		v    any
		want bool
	}{
		{nil, false}, {false, false}, {true, true}, {0.0, true}, {"", true},
		{"no", true}, {[]any{}, true}, {map[string]any{}, true},
	} {
		got, err := Truthy{Const{tc.v}}.Test(nil, nil)
		if err != nil || got != tc.want {
			t.Errorf("Truthy(%#v) = %v, %v; want %v", tc.v, got, err, tc.want)
		}
	}
	got, err := Truthy{MustPath("$.ok")}.Test(map[string]any{"ok": true}, &Context{})
	if err != nil || !got {
		t.Errorf("Truthy($.ok) = %v, %v", got, err)
	}
	if _, err := (Truthy{ExprFunc(failing)}).Test(nil, nil); !errors.Is(err, errExpr) {
		t.Errorf("error not passed on: %v", err)
	}
}

func TestText(t *testing.T) {
	for _, tc := range []struct {
		e    Expr
		want string
	}{
		{nil, ""},
		{Const{nil}, ""},
		{Const{"declined"}, "declined"},
		{Const{1.5}, "1.5"},
		{Const{3.0}, "3"},
		{Const{true}, "true"},
		{MustPath("$.why"), "card expired"},
	} {
		got, err := Text(tc.e, map[string]any{"why": "card expired"}, &Context{})
		if err != nil || got != tc.want {
			t.Errorf("Text(%#v) = %q, %v; want %q", tc.e, got, err, tc.want)
		}
	}
	if _, err := Text(ExprFunc(failing), nil, nil); !errors.Is(err, errExpr) {
		t.Errorf("error not passed on: %v", err)
	}
}

func TestAdapters(t *testing.T) {
	c := &Context{State: "S"}
	v, err := ExprFunc(func(data any, c *Context) (any, error) { return c.State, nil }).Eval(nil, c)
	if err != nil || v != "S" {
		t.Errorf("ExprFunc = %v, %v", v, err)
	}
	ok, err := CondFunc(func(data any, _ *Context) (bool, error) { return data == "yes", nil }).Test("yes", c)
	if err != nil || !ok {
		t.Errorf("CondFunc = %v, %v", ok, err)
	}
	r := RoutineFunc(func(_ context.Context, in any, c *Context) (any, error) {
		return map[string]any{"in": in, "state": c.State}, nil
	})
	out, err := r.Call(context.Background(), 1.0, c)
	if m, _ := out.(map[string]any); err != nil || m["in"] != 1.0 || m["state"] != "S" {
		t.Errorf("RoutineFunc = %v, %v", out, err)
	}
}
