package flow

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Path is a parsed JSONPath reference: $, $.a.b, $.a[0], $['key with space'].
// It reads values (Get, Eval) and writes them without mutating the original
// data (Set copies the maps and arrays along the way).
type Path struct {
	src   string
	steps []pathStep
}

type pathStep struct {
	key   string
	index int // used when key == "" and isIndex
	isIdx bool
}

// ParsePath parses a path. The root "$" is the whole data.
func ParsePath(s string) (*Path, error) {
	if s == "" || s[0] != '$' {
		return nil, fmt.Errorf("path %q must start with $", s)
	}
	p := &Path{src: s}
	i := 1
	for i < len(s) {
		switch s[i] {
		case '.':
			j := i + 1
			for j < len(s) && s[j] != '.' && s[j] != '[' {
				j++
			}
			if j == i+1 {
				return nil, fmt.Errorf("path %q: empty name at offset %d", s, i)
			}
			p.steps = append(p.steps, pathStep{key: s[i+1 : j]})
			i = j
		case '[':
			if i+1 < len(s) && (s[i+1] == '\'' || s[i+1] == '"') {
				// A quoted key may itself contain ']', so it ends at the
				// closing quote, not at the first ']'.
				q := s[i+1]
				k := strings.IndexByte(s[i+2:], q)
				if k < 0 || i+2+k+1 >= len(s) || s[i+2+k+1] != ']' {
					return nil, fmt.Errorf("path %q: bad quoted key", s)
				}
				p.steps = append(p.steps, pathStep{key: s[i+2 : i+2+k]})
				i = i + 2 + k + 2
				continue
			}
			end := strings.IndexByte(s[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("path %q: missing ]", s)
			}
			inner := s[i+1 : i+end]
			n, err := strconv.Atoi(inner)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("path %q: index %q is not a non-negative integer", s, inner)
			}
			p.steps = append(p.steps, pathStep{index: n, isIdx: true})
			i += end + 1
		default:
			return nil, fmt.Errorf("path %q: unexpected %q at offset %d", s, s[i], i)
		}
	}
	return p, nil
}

// MustPath parses a path known to be valid, panicking otherwise.
func MustPath(s string) *Path {
	p, err := ParsePath(s)
	if err != nil {
		panic(err)
	}
	return p
}

// String returns the path as written.
func (p *Path) String() string { return p.src }

// IsRoot reports whether the path is "$".
func (p *Path) IsRoot() bool { return len(p.steps) == 0 }

// Get resolves the path in data; ok is false when it does not resolve.
func (p *Path) Get(data any) (v any, ok bool) {
	v = data
	for _, st := range p.steps {
		if st.isIdx {
			arr, isArr := v.([]any)
			if !isArr || st.index >= len(arr) {
				return nil, false
			}
			v = arr[st.index]
			continue
		}
		m, isMap := v.(map[string]any)
		if !isMap {
			return nil, false
		}
		if v, ok = m[st.key]; !ok {
			return nil, false
		}
	}
	return v, true
}

// Eval implements Expr: an unresolved path is States.Runtime.
func (p *Path) Eval(data any, c *Context) (any, error) {
	v, ok := p.Get(data)
	if !ok {
		state := ""
		if c != nil {
			state = c.State
		}
		return nil, Errorf(ErrRuntime, "path %s does not resolve in the data of state %q", p.src, state)
	}
	return v, nil
}

// Set returns data with value placed at the path. Missing objects on the way
// are created; the input is not modified. Setting "$" returns value.
func (p *Path) Set(data any, value any) (any, error) {
	return p.set(data, 0, value)
}

func (p *Path) set(cur any, i int, value any) (any, error) {
	if i == len(p.steps) {
		return value, nil
	}
	st := p.steps[i]
	if st.isIdx {
		arr, ok := cur.([]any)
		if !ok || st.index >= len(arr) {
			return nil, Errorf(ErrRuntime, "path %s: index %d is out of range", p.src, st.index)
		}
		child, err := p.set(arr[st.index], i+1, value)
		if err != nil {
			return nil, err
		}
		out := make([]any, len(arr))
		copy(out, arr)
		out[st.index] = child
		return out, nil
	}
	var m map[string]any
	switch c := cur.(type) {
	case map[string]any:
		m = c
	case nil:
	default:
		return nil, Errorf(ErrRuntime, "path %s: cannot set %q inside a %s", p.src, st.key, TypeName(cur))
	}
	child, err := p.set(m[st.key], i+1, value)
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	out[st.key] = child
	return out, nil
}

// TypeName names a JSON value's type for error messages.
func TypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64, json.Number, int, int64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	default:
		return fmt.Sprintf("%T", v)
	}
}
