package scripting

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	lua "github.com/yuin/gopher-lua"
)

// maxDepth bounds nesting in conversions; deeper tables are almost always a
// cycle (a table that contains itself), which JSON cannot express.
const maxDepth = 200

// bridge converts JSON values between Go and one Lua state. It owns the
// state's json.null sentinel and the metatable that marks arrays.
type bridge struct {
	L       *lua.LState
	null    *lua.LUserData
	arrayMT *lua.LTable
}

func newBridge(L *lua.LState) *bridge {
	b := &bridge{L: L, null: L.NewUserData(), arrayMT: L.NewTable()}
	b.arrayMT.RawSetString("__metatable", lua.LString("json array"))
	return b
}

// toLua converts a decoded JSON value to Lua.
func (b *bridge) toLua(v any) lua.LValue {
	switch x := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(x)
	case float64:
		return lua.LNumber(x)
	case string:
		return lua.LString(x)
	case map[string]any:
		t := b.L.CreateTable(0, len(x))
		for k, e := range x {
			if e != nil {
				t.RawSetString(k, b.toLua(e))
			}
		}
		return t
	case []any:
		t := b.L.CreateTable(len(x), 0)
		for i, e := range x {
			if e == nil {
				t.RawSetInt(i+1, b.null)
			} else {
				t.RawSetInt(i+1, b.toLua(e))
			}
		}
		t.Metatable = b.arrayMT
		return t
	case int:
		return lua.LNumber(x)
	case int64:
		return lua.LNumber(x)
	case float32:
		return lua.LNumber(x)
	case json.Number:
		f, _ := x.Float64()
		return lua.LNumber(f)
	default:
		// Anything else (structs, typed slices and maps) goes through its
		// JSON form, which is what a script would see after a round trip.
		raw, err := json.Marshal(x)
		if err != nil {
			return lua.LString(fmt.Sprint(x))
		}
		var g any
		if json.Unmarshal(raw, &g) != nil {
			return lua.LNil
		}
		return b.toLua(g)
	}
}

// fromLua converts a Lua value to a decoded JSON value.
func (b *bridge) fromLua(v lua.LValue) (any, error) { return b.from(v, 0) }

func (b *bridge) from(v lua.LValue, depth int) (any, error) {
	switch x := v.(type) {
	case *lua.LNilType:
		return nil, nil
	case lua.LBool:
		return bool(x), nil
	case lua.LNumber:
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("number %v is not valid JSON", f)
		}
		return f, nil
	case lua.LString:
		return string(x), nil
	case *lua.LUserData:
		if x == b.null {
			return nil, nil
		}
	case *lua.LTable:
		if depth >= maxDepth {
			return nil, fmt.Errorf("tables nested deeper than %d levels (does a table contain itself?)", maxDepth)
		}
		return b.table(x, depth+1)
	}
	return nil, fmt.Errorf("a Lua %s cannot be converted to JSON", v.Type())
}

func (b *bridge) table(t *lua.LTable, depth int) (any, error) {
	count, maxIdx, allInts := 0, 0, true
	for k, _ := t.Next(lua.LNil); k != lua.LNil; k, _ = t.Next(k) {
		count++
		n, ok := k.(lua.LNumber)
		if !ok || float64(n) != math.Trunc(float64(n)) || n < 1 {
			allInts = false
			continue
		}
		maxIdx = max(maxIdx, int(n))
	}
	if count == 0 {
		if t.Metatable == b.arrayMT {
			return []any{}, nil
		}
		return map[string]any{}, nil
	}
	if allInts && maxIdx == count {
		arr := make([]any, count)
		for i := range arr {
			e, err := b.from(t.RawGetInt(i+1), depth)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i+1, err)
			}
			arr[i] = e
		}
		return arr, nil
	}
	obj := make(map[string]any, count)
	var err error
	t.ForEach(func(k, e lua.LValue) {
		if err != nil {
			return
		}
		var key string
		switch kk := k.(type) {
		case lua.LString:
			key = string(kk)
		case lua.LNumber:
			key = strconv.FormatFloat(float64(kk), 'f', -1, 64)
		default:
			err = fmt.Errorf("a table key of type %s cannot be a JSON object key", k.Type())
			return
		}
		var ge any
		if ge, err = b.from(e, depth); err != nil {
			err = fmt.Errorf("%s: %w", key, err)
			return
		}
		obj[key] = ge
	})
	if err != nil {
		return nil, err
	}
	return obj, nil
}

// openJSON installs the json table: encode, decode, null and array.
func (b *bridge) openJSON() {
	L := b.L
	t := L.NewTable()
	t.RawSetString("null", b.null)
	t.RawSetString("encode", L.NewFunction(func(L *lua.LState) int {
		v, err := b.fromLua(L.CheckAny(1))
		if err != nil {
			L.RaiseError("json.encode: %s", err.Error())
		}
		raw, err := json.Marshal(v)
		if err != nil {
			L.RaiseError("json.encode: %s", err.Error())
		}
		L.Push(lua.LString(raw))
		return 1
	}))
	t.RawSetString("decode", L.NewFunction(func(L *lua.LState) int {
		var v any
		if err := json.Unmarshal([]byte(L.CheckString(1)), &v); err != nil {
			L.RaiseError("json.decode: %s", err.Error())
		}
		L.Push(b.toLua(v))
		return 1
	}))
	t.RawSetString("array", L.NewFunction(func(L *lua.LState) int {
		a, ok := L.Get(1).(*lua.LTable)
		if !ok {
			a = L.NewTable()
		}
		a.Metatable = b.arrayMT
		L.Push(a)
		return 1
	}))
	L.SetGlobal("json", t)
}
