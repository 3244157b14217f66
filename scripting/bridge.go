package scripting

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"
)

// maxDepth bounds nesting in conversions; deeper tables are almost always a
// cycle (a table that contains itself), which JSON cannot express.
const maxDepth = 200

// bridge converts JSON values between Go and one Lua state. It owns the
// state's json.null sentinel and the metatable that marks arrays.
type bridge struct {
	L       *lua.LState
	dl      *deadline // the state's, polled while converting
	made    int       // values toLua made since it was last reset
	null    *lua.LUserData
	arrayMT *lua.LTable
}

func newBridge(L *lua.LState) *bridge {
	b := &bridge{L: L, null: L.NewUserData(), arrayMT: L.NewTable()}
	b.arrayMT.RawSetString("__metatable", lua.LString("json array"))
	return b
}

// toLua converts a decoded JSON value to Lua, counting the values it
// makes in b.made.
func (b *bridge) toLua(v any) lua.LValue {
	b.made++
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

// Errors that end a conversion as a whole; they carry no path into the
// value. errStopped means the call was stopped, which the call reports.
var (
	errStopped  = errors.New("the call was stopped")
	errTooMany  = fmt.Errorf("more than %d values (do tables share sub-tables?)", maxValues)
	errTooLarge = fmt.Errorf("more than %s as JSON", sizeText(maxString))
)

// whole reports whether err ends a whole conversion rather than naming a
// place in the value.
func whole(err error) bool { return err == errStopped || err == errTooMany || err == errTooLarge }

// fromLua converts a Lua value to a decoded JSON value: at most maxValues
// values, whose JSON text would be at most maxString bytes, both checked
// as the conversion goes, so that shared sub-tables cannot multiply it.
func (b *bridge) fromLua(v lua.LValue) (any, error) {
	c := converter{bridge: b}
	return c.from(v, 0)
}

// converter is one conversion from Lua: what it has produced so far.
type converter struct {
	*bridge
	values int
	size   int // an upper bound of the JSON text's length
	limit  int // of size; 0: maxString
}

// add counts one value of at most size bytes of JSON.
func (c *converter) add(size int) error {
	c.values++
	c.size += size
	switch {
	case c.values > maxValues:
		return errTooMany
	case c.size > maxString || (c.limit > 0 && c.size > c.limit):
		return errTooLarge
	case c.values%pollEvery == 0 && c.dl != nil && c.dl.stopped():
		return errStopped
	}
	return nil
}

func (c *converter) from(v lua.LValue, depth int) (any, error) {
	switch x := v.(type) {
	case *lua.LNilType:
		return nil, c.add(len("null"))
	case lua.LBool:
		return bool(x), c.add(len("false"))
	case lua.LNumber:
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("number %v is not valid JSON", f)
		}
		return f, c.add(len("-1.2345678901234567e-308"))
	case lua.LString:
		return string(x), c.add(jsonStringLen(string(x)))
	case *lua.LUserData:
		if x == c.null {
			return nil, c.add(len("null"))
		}
	case *lua.LTable:
		if depth >= maxDepth {
			return nil, fmt.Errorf("tables nested deeper than %d levels (does a table contain itself?)", maxDepth)
		}
		return c.table(x, depth+1)
	}
	return nil, fmt.Errorf("a Lua %s cannot be converted to JSON", v.Type())
}

func (c *converter) table(t *lua.LTable, depth int) (any, error) {
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
	if err := c.add(2 + count); err != nil { // brackets and separators
		return nil, err
	}
	if count == 0 {
		if t.Metatable == c.arrayMT {
			return []any{}, nil
		}
		return map[string]any{}, nil
	}
	if allInts && maxIdx == count {
		arr := make([]any, count)
		for i := range arr {
			e, err := c.from(t.RawGetInt(i+1), depth)
			if whole(err) {
				return nil, err
			}
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
		if c.size += jsonStringLen(key); c.size > maxString || (c.limit > 0 && c.size > c.limit) {
			err = errTooLarge
			return
		}
		var ge any
		if ge, err = c.from(e, depth); err != nil {
			if !whole(err) {
				err = fmt.Errorf("%s: %w", key, err)
			}
			return
		}
		obj[key] = ge
	})
	if err != nil {
		return nil, err
	}
	return obj, nil
}

// jsonStringLen is the most bytes encoding/json writes for s: quotes, and
// escapes for control characters, quotes, backslashes, HTML's <, > and &,
// U+2028, U+2029 and each byte of invalid UTF-8 (as \ufffd).
func jsonStringLen(s string) int {
	n := len(s) + 2
	ascii := true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			n += 5
		case c == '"' || c == '\\':
			n++
		case c >= 0x80:
			ascii = false
		}
	}
	if ascii {
		return n
	}
	if !utf8.ValidString(s) {
		for i := 0; i < len(s); i++ {
			if s[i] >= 0x80 {
				n += 5
			}
		}
		return n
	}
	return n + 3*(strings.Count(s, "\u2028")+strings.Count(s, "\u2029"))
}

// jsonValues is an upper bound of the values in a JSON text: each one but
// the first follows a '[', a '{' or a ','.
func jsonValues(s string) int {
	n, inString := 1, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == ',' || c == '[' || c == '{':
			n++
		}
	}
	return n
}

// openJSON installs the json table: encode, decode, null and array.
func (v *vm) openJSON() {
	b, L := v.bridge, v.L
	t := L.NewTable()
	t.RawSetString("null", b.null)
	t.RawSetString("encode", L.NewFunction(func(L *lua.LState) int {
		c := converter{bridge: b}
		val, err := c.from(L.CheckAny(1), 0)
		if err == errStopped {
			L.RaiseError("%s", b.dl.Err())
		}
		if err != nil {
			L.RaiseError("json.encode: %s", err.Error())
		}
		v.charge("json.encode", c.size)
		raw, err := json.Marshal(val)
		if err != nil {
			L.RaiseError("json.encode: %s", err.Error())
		}
		L.Push(lua.LString(raw))
		return 1
	}))
	t.RawSetString("decode", L.NewFunction(func(L *lua.LState) int {
		text := L.CheckString(1)
		n := jsonValues(text)
		if n > maxValues {
			L.RaiseError("json.decode: the text holds more than %d values", maxValues)
		}
		// Decoded values cost far more than their text: a Lua table is
		// over a hundred bytes, an empty JSON object two.
		v.charge("json.decode", len(text)+decodedValueCost*n)
		var v any
		if err := json.Unmarshal([]byte(text), &v); err != nil {
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
		v.checkWritable("json.array", a)
		a.Metatable = b.arrayMT
		L.Push(a)
		return 1
	}))
	L.SetGlobal("json", t)
}
