package asl

import "strings"

// template is a JSONPath-mode payload template (Parameters,
// ResultSelector, ItemSelector, Assign): JSON whose keys ending in `.$`
// take their value from a path or an intrinsic function call.
type template interface {
	eval(e *env) (any, error)
}

type constTemplate struct{ v any }

func (t constTemplate) eval(*env) (any, error) { return t.v, nil }

type objectTemplate struct {
	keys []string
	vals []template
}

func (t *objectTemplate) eval(e *env) (any, error) {
	out := make(map[string]any, len(t.keys))
	for i, k := range t.keys {
		v, err := t.vals[i].eval(e)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

type arrayTemplate struct{ items []template }

func (t *arrayTemplate) eval(e *env) (any, error) {
	out := make([]any, len(t.items))
	for i, it := range t.items {
		v, err := it.eval(e)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// pathTemplate is a `key.$` whose value is a path.
type pathTemplate struct {
	p     *path
	field string // the key as written, for causes
}

func (t *pathTemplate) eval(e *env) (any, error) {
	v, ok, _, err := e.resolve(t.p)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, runtimeError(e.c, "The JSONPath '%s' specified for the field '%s' could not be found in the input '%s'", t.p.src, t.field, compact(e.input))
	}
	return v, nil
}

// callTemplate is a `key.$` whose value is an intrinsic function call.
type callTemplate struct {
	c     *call
	field string
}

func (t *callTemplate) eval(e *env) (any, error) { return t.c.eval(e, t.field) }

// compileTemplate builds a template from its JSON; problems are reported
// at the line of the offending key.
func (l *loader) compileTemplate(n *Node, where string) template {
	switch {
	case n.isObject():
		t := &objectTemplate{}
		static := true
		for _, k := range n.keys {
			v := n.field[k]
			if strings.HasSuffix(k, ".$") {
				static = false
				t.keys = append(t.keys, strings.TrimSuffix(k, ".$"))
				t.vals = append(t.vals, l.dynamic(v, k, n.keyLine(k), where))
				continue
			}
			sub := l.compileTemplate(v, where)
			if _, ok := sub.(constTemplate); !ok {
				static = false
			}
			t.keys = append(t.keys, k)
			t.vals = append(t.vals, sub)
		}
		if static {
			return constTemplate{n.value}
		}
		return t
	case n.items != nil:
		t := &arrayTemplate{}
		static := true
		for _, it := range n.items {
			sub := l.compileTemplate(it, where)
			if _, ok := sub.(constTemplate); !ok {
				static = false
			}
			t.items = append(t.items, sub)
		}
		if static {
			return constTemplate{n.value}
		}
		return t
	}
	return constTemplate{n.value}
}

// dynamic compiles the value of a `key.$` field.
func (l *loader) dynamic(n *Node, key string, line int, where string) template {
	s, ok := n.value.(string)
	if !ok {
		l.problemAt(line, "%s: the value of %q must be a path or an intrinsic function call, not %s", where, key, jsonType(n.value))
		return constTemplate{}
	}
	if isIntrinsic(s) {
		c, err := parseCall(s)
		if err != nil {
			l.problemAt(line, "%s, %q: %v", where, key, err)
			return constTemplate{}
		}
		return &callTemplate{c: c, field: key}
	}
	p, err := parsePath(s)
	if err != nil {
		l.problemAt(line, "%s, %q: %v", where, key, err)
		return constTemplate{}
	}
	return &pathTemplate{p: p, field: key}
}
