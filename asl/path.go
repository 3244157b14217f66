package asl

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/theory/jsonpath"
)

// root says what a path starts from.
type root uint8

const (
	rootInput   root = iota // $ : the state's input (or the value a field applies to)
	rootContext             // $$ : the context object
	rootVar                 // $name : a variable
)

// path is an ASL JSONPath: a reference path (names and indexes only,
// which selects one value or nothing) or a query with wildcards, slices,
// filters or descendants, which selects a list, as AWS's JSONPath
// implementation does.
type path struct {
	src   string
	root  root
	name  string // the variable, for rootVar
	steps []step // reference paths
	query *jsonpath.Path
}

type step struct {
	key   string
	index int
	isIdx bool
}

// parsePath parses a path as written in a definition.
func parsePath(s string) (*path, error) {
	p := &path{src: s}
	if !strings.HasPrefix(s, "$") {
		return nil, fmt.Errorf("%q is not a JSONPath: it must start with $", s)
	}
	rest := s[1:]
	switch {
	case strings.HasPrefix(rest, "$"):
		p.root, rest = rootContext, rest[1:]
	case rest != "" && rest[0] != '.' && rest[0] != '[':
		i := strings.IndexAny(rest, ".[")
		if i < 0 {
			i = len(rest)
		}
		p.root, p.name, rest = rootVar, rest[:i], rest[i:]
		if !validVarName(p.name) {
			return nil, fmt.Errorf("%q is not a JSONPath: %q is not a variable name", s, p.name)
		}
	}
	if isQuery(rest) {
		q, err := jsonpath.Parse("$" + rest)
		if err != nil {
			return nil, fmt.Errorf("%q is not a valid JSONPath: %v", s, err)
		}
		p.query = q
		return p, nil
	}
	steps, err := parseSteps(rest)
	if err != nil {
		return nil, fmt.Errorf("%q is not a valid JSONPath: %v", s, err)
	}
	p.steps = steps
	return p, nil
}

// validVarName reports whether s may name a variable.
func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9' || r > 127 {
			continue
		}
		return false
	}
	return true
}

// isQuery reports whether a path (after its root) may select several
// values: wildcards, slices, filters, unions or descendants.
func isQuery(rest string) bool {
	inQuote := byte(0)
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch {
		case inQuote != 0:
			if c == '\\' {
				i++
			} else if c == inQuote {
				inQuote = 0
			}
		case c == '\'' || c == '"':
			inQuote = c
		case c == '*' || c == '?' || c == ':' || c == ',':
			return true
		case c == '.' && i+1 < len(rest) && rest[i+1] == '.':
			return true
		}
	}
	return false
}

// parseSteps parses .name, ['name'] and [index] steps. Names after a dot
// run to the next '.' or '[', so "input-value" is one name, as AWS reads it.
func parseSteps(s string) ([]step, error) {
	var steps []step
	for i := 0; i < len(s); {
		switch s[i] {
		case '.':
			j := i + 1
			for j < len(s) && s[j] != '.' && s[j] != '[' {
				j++
			}
			if j == i+1 {
				return nil, fmt.Errorf("empty name at offset %d", i)
			}
			steps = append(steps, step{key: s[i+1 : j]})
			i = j
		case '[':
			if i+1 < len(s) && (s[i+1] == '\'' || s[i+1] == '"') {
				q := s[i+1]
				var b strings.Builder
				j := i + 2
				for ; j < len(s) && s[j] != q; j++ {
					if s[j] == '\\' && j+1 < len(s) && s[j+1] == q {
						j++
					}
					b.WriteByte(s[j])
				}
				if j+1 >= len(s) || s[j+1] != ']' {
					return nil, fmt.Errorf("unterminated quoted name at offset %d", i)
				}
				steps = append(steps, step{key: b.String()})
				i = j + 2
				continue
			}
			end := strings.IndexByte(s[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("missing ] at offset %d", i)
			}
			n, err := strconv.Atoi(strings.TrimSpace(s[i+1 : i+end]))
			if err != nil {
				return nil, fmt.Errorf("index %q is not an integer", s[i+1:i+end])
			}
			steps = append(steps, step{index: n, isIdx: true})
			i += end + 1
		default:
			return nil, fmt.Errorf("unexpected %q at offset %d", s[i], i)
		}
	}
	return steps, nil
}

// isReference reports whether the path selects at most one value.
func (p *path) isReference() bool { return p.query == nil }

// lookup is where a path was not found: the steps that resolved and
// whether the missing one was the last.
type miss struct {
	at   int // index of the step that did not resolve
	last bool
}

// get evaluates the path against the value of its root. A query yields the
// list of what it selects; a reference path yields its value, or ok false
// and where it stopped.
func (p *path) get(v any) (any, bool, miss) {
	if p.query != nil {
		nodes := p.query.Select(v)
		out := make([]any, len(nodes))
		copy(out, nodes)
		return out, true, miss{}
	}
	for i, st := range p.steps {
		switch c := v.(type) {
		case map[string]any:
			if st.isIdx {
				return nil, false, miss{i, i == len(p.steps)-1}
			}
			x, ok := c[st.key]
			if !ok {
				return nil, false, miss{i, i == len(p.steps)-1}
			}
			v = x
		case []any:
			if !st.isIdx {
				return nil, false, miss{i, i == len(p.steps)-1}
			}
			idx := st.index
			if idx < 0 {
				idx += len(c)
			}
			if idx < 0 || idx >= len(c) {
				return nil, false, miss{i, i == len(p.steps)-1}
			}
			v = c[idx]
		default:
			return nil, false, miss{i, i == len(p.steps)-1}
		}
	}
	return v, true, miss{}
}

// normalized writes the first n steps as AWS's messages do: $['a'][0].
func (p *path) normalized(n int) string {
	var b strings.Builder
	b.WriteByte('$')
	for _, st := range p.steps[:n] {
		if st.isIdx {
			fmt.Fprintf(&b, "[%d]", st.index)
		} else {
			fmt.Fprintf(&b, "['%s']", st.key)
		}
	}
	return b.String()
}

// invalidPath is AWS's message for a path that did not resolve where a
// value was required (InputPath, OutputPath, ItemsPath, ResultPath).
func (p *path) invalidPath(m miss) string {
	if m.last {
		return fmt.Sprintf("Invalid path '%s' : No results for path: %s", p.src, p.normalized(m.at+1))
	}
	return fmt.Sprintf("Invalid path '%s' : Missing property in path %s", p.src, p.normalized(m.at+1))
}

// set returns data with value placed at the reference path, creating
// missing objects on the way; data is not modified.
func (p *path) set(data any, value any) (any, error) {
	return setAt(p, data, 0, value)
}

func setAt(p *path, cur any, i int, value any) (any, error) {
	if i == len(p.steps) {
		return value, nil
	}
	st := p.steps[i]
	if st.isIdx {
		arr, ok := cur.([]any)
		idx := st.index
		if ok && idx < 0 {
			idx += len(arr)
		}
		if !ok || idx < 0 || idx >= len(arr) {
			return nil, fmt.Errorf("Invalid path '%s' : Index %d is out of bounds in path %s", p.src, st.index, p.normalized(i+1))
		}
		child, err := setAt(p, arr[idx], i+1, value)
		if err != nil {
			return nil, err
		}
		out := make([]any, len(arr))
		copy(out, arr)
		out[idx] = child
		return out, nil
	}
	var m map[string]any
	switch c := cur.(type) {
	case map[string]any:
		m = c
	case nil:
	default:
		return nil, fmt.Errorf("Invalid path '%s': Property ['%s'] can not be set on a %s", p.src, st.key, jsonType(cur))
	}
	child, err := setAt(p, m[st.key], i+1, value)
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

// jsonType names a JSON value's type as AWS's messages do.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64, json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
