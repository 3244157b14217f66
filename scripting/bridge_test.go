package scripting

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

func TestBridgeRoundTrips(t *testing.T) {
	v := newVM(&config{})
	defer v.L.Close()
	cases := []any{
		nil, true, false, 1.5, "s", "",
		map[string]any{},
		[]any{},
		[]any{1.0, "two", nil, []any{3.0, []any{}}, map[string]any{"k": []any{map[string]any{}}}},
		map[string]any{"a": map[string]any{"b": []any{1.0, 2.0}}, "c": "d", "e": false},
	}
	for _, c := range cases {
		got, err := v.fromLua(v.toLua(c))
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Errorf("round trip of %#v: %#v, %v", c, got, err)
		}
	}
	// Null members of objects are dropped: Lua tables cannot hold nil.
	got, _ := v.fromLua(v.toLua(map[string]any{"a": nil, "b": 1.0}))
	if !reflect.DeepEqual(got, map[string]any{"b": 1.0}) {
		t.Errorf("null member: %#v", got)
	}
	// Defensive inputs come back as JSON numbers.
	got, _ = v.fromLua(v.toLua(map[string]any{"i": 3, "j": int64(4), "n": json.Number("5.5"), "s": []string{"x"}}))
	if !reflect.DeepEqual(got, map[string]any{"i": 3.0, "j": 4.0, "n": 5.5, "s": []any{"x"}}) {
		t.Errorf("defensive inputs: %#v", got)
	}
}

func TestBridgeLuaTables(t *testing.T) {
	v := newVM(&config{})
	defer v.L.Close()
	cases := map[string]any{
		`return {}`:                                          map[string]any{},
		`return json.array()`:                                []any{},
		`return {1, 2, {x = 1}}`:                             []any{1.0, 2.0, map[string]any{"x": 1.0}},
		`return {[1] = "a", [3] = "c"}`:                      map[string]any{"1": "a", "3": "c"},
		`return {1, 2, n = 3}`:                               map[string]any{"1": 1.0, "2": 2.0, "n": 3.0},
		`return {json.null, 2}`:                              []any{nil, 2.0},
		`return json.decode('[1,{"a":[]}]')`:                 []any{1.0, map[string]any{"a": []any{}}},
		`return json.encode({b = {1, 2}, a = json.array()})`: `{"a":[],"b":[1,2]}`,
	}
	for src, want := range cases {
		if err := v.L.DoString(src); err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		got, err := v.fromLua(v.L.Get(-1))
		v.L.Pop(1)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %#v, %v", src, got, err)
		}
	}
	for src, wantErr := range map[string]string{
		`return {f = function() end}`:        "f: a Lua function cannot be converted to JSON",
		`local t = {}; t.self = t; return t`: "tables nested deeper than 200 levels",
		`return {[true] = 1}`:                "a table key of type boolean cannot be a JSON object key",
		`return 0/0`:                         "is not valid JSON",
	} {
		if err := v.L.DoString(src); err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		_, err := v.fromLua(v.L.Get(-1))
		v.L.Pop(1)
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%s: error %v, want %q", src, err, wantErr)
		}
	}
}

func TestJSONRoundTripInRoutine(t *testing.T) {
	b := loadGood(t, Options{})
	in := map[string]any{"a": []any{1.0, map[string]any{"b": []any{}}}, "c": map[string]any{}}
	out, err := routineOf(t, b, "json.roundtrip").Call(context.Background(), in, nil)
	if err != nil || !reflect.DeepEqual(out, in) {
		t.Errorf("json round trip: %#v, %v", out, err)
	}
}

// Concurrent calls need more than one state: the pool prepares them by
// running the bundle again, and every state must answer alike.
func TestPoolUnderConcurrency(t *testing.T) {
	b := loadGood(t, Options{})
	when := b.Workflows["place_order"].States["Route"].Rules[0].When
	tax := b.Routines["tax.compute"]
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 50 {
				ok, err := when.Test(map[string]any{"payment": map[string]any{"tax": float64(i)}}, nil)
				if err != nil || ok != (i > 10) {
					t.Errorf("goroutine %d call %d: %v, %v", g, i, ok, err)
					return
				}
				out, err := tax.Call(context.Background(), map[string]any{"amount": 10.0}, &flow.Context{State: "S"})
				if err != nil || out.(map[string]any)["tax"] != 2.0 {
					t.Errorf("routine: %v, %v", out, err)
					return
				}
			}
		})
	}
	wg.Wait()
	p := when.(luaCond).pool
	p.mu.Lock()
	idle := len(p.idle)
	p.mu.Unlock()
	if idle < 1 || idle > maxIdle {
		t.Errorf("%d idle states", idle)
	}
}

func TestCtxRawsetDoesNotLeak(t *testing.T) {
	src := `routine "w" { lua = function(input, ctx) rawset(ctx, "state", "forged") end }
routine "r" { lua = function(input, ctx) return ctx.state end }`
	b, err := LoadSources([]flow.Source{{Path: "c.lua", Body: []byte(src)}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := &flow.Context{State: "real"}
	_, err = b.Routines["w"].Call(context.Background(), nil, c)
	wantError(t, err, flow.ErrTaskFailed, "c.lua:1: rawset: ctx is read-only")
	if out, _ := b.Routines["r"].Call(context.Background(), nil, c); out != "real" {
		t.Errorf("ctx.state after a rawset in an earlier call: %v", out)
	}
	var _ lua.LValue
}
