package asl

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"reflect"
	"strings"

	jsonata "github.com/blues/jsonata-go"
	"github.com/blues/jsonata-go/jtypes"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// JSONata mode evaluates `{% expression %}` strings with
// github.com/blues/jsonata-go, a Go port of the JSONata reference
// implementation (JSONata 1.5 with most of the later functions), plus the
// functions AWS adds: $partition, $range, $hash, $random, $uuid, $parse.
// `$states` holds input, result, errorOutput and context; the workflow's
// variables are bound by name.

func init() {
	if err := jsonata.RegisterExts(map[string]jsonata.Extension{
		"partition": {Func: func(arr []any, size int) (any, error) {
			return arrayPartition([]any{arr, float64(size)})
		}},
		"range": {Func: func(start, end, step float64) (any, error) { return arrayRange([]any{start, end, step}) }},
		"hash":  {Func: func(v any, alg string) (any, error) { return hashOf([]any{v, alg}) }},
		"random": {Func: func(seed jtypes.OptionalFloat64) float64 {
			if seed.IsSet() {
				return mrand.New(mrand.NewPCG(uint64(int64(seed.Float64)), 0)).Float64()
			}
			var b [8]byte
			rand.Read(b[:])
			return mrand.New(mrand.NewPCG(binary.LittleEndian.Uint64(b[:]), 0)).Float64()
		}},
		"uuid": {Func: func() (any, error) { return uuid(nil) }},
		"parse": {Func: func(s string) (any, error) {
			var v any
			if err := json.Unmarshal([]byte(s), &v); err != nil {
				return nil, fmt.Errorf("$parse: the argument is not JSON: %v", err)
			}
			return v, nil
		}},
	}); err != nil {
		panic(err)
	}
}

// isExpr reports whether a string is a JSONata expression, {% ... %}.
func isExpr(s string) bool {
	return strings.HasPrefix(s, "{%") && strings.HasSuffix(s, "%}") && len(s) >= 4
}

// expr is one compiled JSONata expression.
type expr struct {
	src string // without the {% %}
	e   *jsonata.Expr
}

func compileExpr(s string) (*expr, error) {
	s = strings.TrimSpace(s)
	src := strings.TrimSpace(s[2 : len(s)-2])
	e, err := jsonata.Compile(src)
	if err != nil {
		return nil, fmt.Errorf("the JSONata expression %q is not valid: %v", src, err)
	}
	return &expr{src: src, e: e}, nil
}

// undefined marks a JSONata result that is no value at all.
type undefinedValue struct{}

var undefined = undefinedValue{}

// eval evaluates the expression; an undefined result is `undefined`.
func (x *expr) eval(e *env, states map[string]any, field string) (any, error) {
	bound := *x.e // a copy per evaluation: the bindings are its own
	vars := make(map[string]any, len(e.c.Vars)+1)
	for k, v := range e.c.Vars {
		vars[k] = jsonataValue(flow.Floats(v))
	}
	vars["states"] = flow.Floats(states)
	if err := bound.RegisterVars(vars); err != nil {
		return nil, queryError(e.c, "The JSONata expression '%s' specified for the field '%s' could not be prepared: %v", x.src, field, err)
	}
	v, err := bound.Eval(nil)
	switch {
	case errors.Is(err, jsonata.ErrUndefined):
		return undefined, nil
	case err != nil:
		return nil, queryError(e.c, "The JSONata expression '%s' specified for the field '%s' threw an error during evaluation. %s", x.src, field, jsonataMessage(err))
	}
	out, ok := plain(v)
	if !ok {
		return nil, queryError(e.c, "The JSONata expression '%s' specified for the field '%s' returned an unsupported result type.", x.src, field)
	}
	return out, nil
}

// jsonataValue makes a JSON null a value JSONata sees as null, not as
// undefined.
func jsonataValue(v any) any {
	if v == nil {
		return (*any)(nil)
	}
	return v
}

// plain turns what JSONata returns into JSON values: numbers of any type
// into float64; functions are no JSON value.
func plain(v any) (any, bool) {
	switch x := v.(type) {
	case nil, bool, string, float64:
		return x, true
	case json.Number:
		return flow.Number(x)
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case []any:
		out := make([]any, len(x))
		for i, it := range x {
			p, ok := plain(it)
			if !ok {
				return nil, false
			}
			out[i] = p
		}
		return out, true
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, it := range x {
			p, ok := plain(it)
			if !ok {
				return nil, false
			}
			out[k] = p
		}
		return out, true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil, true
		}
		return plain(rv.Elem().Interface())
	case reflect.Slice:
		out := make([]any, rv.Len())
		for i := range out {
			p, ok := plain(rv.Index(i).Interface())
			if !ok {
				return nil, false
			}
			out[i] = p
		}
		return out, true
	case reflect.Map:
		out := make(map[string]any, rv.Len())
		for _, k := range rv.MapKeys() {
			p, ok := plain(rv.MapIndex(k).Interface())
			if !ok {
				return nil, false
			}
			out[fmt.Sprint(k.Interface())] = p
		}
		return out, true
	case reflect.Float32, reflect.Float64:
		return rv.Float(), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(rv.Uint()), true
	case reflect.String:
		return rv.String(), true
	case reflect.Bool:
		return rv.Bool(), true
	}
	return nil, false
}

// jsonataMessage words an evaluation error with the error codes of the
// JSONata reference implementation where they are known.
func jsonataMessage(err error) string {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "cannot call non-function"):
		return "T1006: Attempted to invoke a non-function"
	}
	return msg
}

// jtemplate is a JSONata-mode field value: an expression, or JSON whose
// strings may be expressions.
type jtemplate interface {
	eval(e *env, states map[string]any, field string) (any, error)
}

type jconst struct{ v any }

func (t jconst) eval(*env, map[string]any, string) (any, error) { return t.v, nil }

type jexpr struct{ x *expr }

func (t jexpr) eval(e *env, states map[string]any, field string) (any, error) {
	v, err := t.x.eval(e, states, field)
	if err != nil {
		return nil, err
	}
	if v == undefined {
		return nil, queryError(e.c, "The JSONata expression '%s' specified for the field '%s' returned nothing (undefined).", t.x.src, field)
	}
	return v, nil
}

type jobject struct {
	keys []string
	vals []jtemplate
}

func (t *jobject) eval(e *env, states map[string]any, field string) (any, error) {
	out := make(map[string]any, len(t.keys))
	for i, k := range t.keys {
		v, err := t.vals[i].eval(e, states, field+"/"+k)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

type jarray struct{ items []jtemplate }

func (t *jarray) eval(e *env, states map[string]any, field string) (any, error) {
	out := make([]any, len(t.items))
	for i, it := range t.items {
		v, err := it.eval(e, states, fmt.Sprintf("%s[%d]", field, i))
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// compileJSONata builds a JSONata-mode template.
func (l *loader) compileJSONata(n *Node, where string) jtemplate {
	switch {
	case n.isObject():
		t := &jobject{}
		static := true
		for _, k := range n.keys {
			sub := l.compileJSONata(n.field[k], where)
			if _, ok := sub.(jconst); !ok {
				static = false
			}
			t.keys, t.vals = append(t.keys, k), append(t.vals, sub)
		}
		if static {
			return jconst{n.value}
		}
		return t
	case n.items != nil:
		t := &jarray{}
		static := true
		for _, it := range n.items {
			sub := l.compileJSONata(it, where)
			if _, ok := sub.(jconst); !ok {
				static = false
			}
			t.items = append(t.items, sub)
		}
		if static {
			return jconst{n.value}
		}
		return t
	}
	if s, ok := n.value.(string); ok && isExpr(s) {
		x, err := compileExpr(s)
		if err != nil {
			l.problemAt(n.line, "%s: %v", where, err)
			return jconst{}
		}
		return jexpr{x}
	}
	return jconst{n.value}
}

// statesVar builds `$states` for an evaluation; extra adds result or
// errorOutput.
func (e *env) statesVar(input any, extra string, value any) (map[string]any, error) {
	ctx, err := e.contextObject()
	if err != nil {
		return nil, err
	}
	s := map[string]any{"input": jsonataValue(input), "context": ctx}
	if extra != "" {
		s[extra] = jsonataValue(value)
	}
	return s, nil
}
