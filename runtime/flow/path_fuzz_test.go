package flow

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// FuzzPath parses arbitrary paths and evaluates them against arbitrary JSON
// documents. A path that parses must print back to a path with the same
// steps, must find a value placed at it, and must never change the data it
// reads or writes.
func FuzzPath(f *testing.F) {
	f.Add("$.a.list[1].c", []byte(`{"a":{"list":[10,{"c":"x"}]}}`))
	f.Fuzz(func(t *testing.T, src string, doc []byte) {
		p, err := ParsePath(src)
		if err != nil {
			if p != nil {
				t.Fatalf("ParsePath(%q) returned a path with its error %v", src, err)
			}
			return
		}
		if p.String() != src {
			t.Fatalf("ParsePath(%q).String() = %q", src, p.String())
		}
		if canon, ok := printPath(p.steps); ok {
			back, err := ParsePath(canon)
			if err != nil {
				t.Fatalf("%q prints as %q, which does not parse: %v", src, canon, err)
			}
			if !reflect.DeepEqual(back.steps, p.steps) {
				t.Fatalf("%q prints as %q, which parses to %+v, not %+v", src, canon, back.steps, p.steps)
			}
		}

		// A value placed where the path points is what the path finds.
		if built, ok := buildAt(p.steps, "marker"); ok {
			if v, ok := p.Get(built); !ok || v != "marker" {
				t.Fatalf("%q on %#v found %v, %v; want the marker", src, built, v, ok)
			}
			before := deepCopy(built)
			set, err := p.Set(built, "other")
			if err != nil {
				t.Fatalf("%q: Set where Get resolves: %v", src, err)
			}
			if v, ok := p.Get(set); !ok || v != "other" {
				t.Fatalf("%q: after Set, Get = %v, %v", src, v, ok)
			}
			if !reflect.DeepEqual(built, before) {
				t.Fatalf("%q: Set changed its input", src)
			}
		}

		var data any
		if json.Unmarshal(doc, &data) != nil {
			return
		}
		before := deepCopy(data)
		v, ok := p.Get(data)
		ev, err := p.Eval(data, &Context{State: "S"})
		if ok != (err == nil) || ok && !reflect.DeepEqual(v, ev) {
			t.Fatalf("%q on %s: Get = %v, %v but Eval = %v, %v", src, doc, v, ok, ev, err)
		}
		if set, err := p.Set(data, "new"); err == nil {
			if v, ok := p.Get(set); !ok || v != "new" {
				t.Fatalf("%q on %s: Set succeeded but Get finds %v, %v", src, doc, v, ok)
			}
		}
		if !reflect.DeepEqual(data, before) {
			t.Fatalf("%q: reading or writing changed the data %s", src, doc)
		}
	})
}

// printPath writes steps in one canonical form: .name where the name allows
// it, else a quoted key. ok is false for a key no quoting can hold (one with
// both kinds of quote).
func printPath(steps []pathStep) (string, bool) {
	var b strings.Builder
	b.WriteByte('$')
	for _, st := range steps {
		switch {
		case st.isIdx:
			b.WriteString("[" + strconv.Itoa(st.index) + "]")
		case st.key != "" && !strings.ContainsAny(st.key, ".["):
			b.WriteString("." + st.key)
		case !strings.Contains(st.key, "'"):
			b.WriteString("['" + st.key + "']")
		case !strings.Contains(st.key, `"`):
			b.WriteString(`["` + st.key + `"]`)
		default:
			return "", false
		}
	}
	return b.String(), true
}

// buildAt makes the smallest document in which steps lead to v; ok is false
// when an index is too large to build an array for.
func buildAt(steps []pathStep, v any) (any, bool) {
	if len(steps) == 0 {
		return v, true
	}
	inner, ok := buildAt(steps[1:], v)
	if !ok {
		return nil, false
	}
	st := steps[0]
	if !st.isIdx {
		return map[string]any{st.key: inner}, true
	}
	if st.index > 1000 {
		return nil, false
	}
	arr := make([]any, st.index+1)
	arr[st.index] = inner
	return arr, true
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = deepCopy(e)
		}
		return a
	}
	return v
}
