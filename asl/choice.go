package asl

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// Choice rules. JSONPath mode compares a Variable with a literal or with
// another path through one of AWS's operators, joined by And, Or and Not;
// JSONata mode evaluates a Condition.

// operand kinds of the comparison operators.
type opKind uint8

const (
	opString opKind = iota + 1
	opNumeric
	opBoolean
	opTimestamp
)

// comparison is one operator: what it compares and how.
type comparison struct {
	kind opKind
	test func(c int) bool // on the sign of the comparison
}

var comparisons = map[string]comparison{
	"Equals":            {test: func(c int) bool { return c == 0 }},
	"LessThan":          {test: func(c int) bool { return c < 0 }},
	"GreaterThan":       {test: func(c int) bool { return c > 0 }},
	"LessThanEquals":    {test: func(c int) bool { return c <= 0 }},
	"GreaterThanEquals": {test: func(c int) bool { return c >= 0 }},
}

var kinds = map[string]opKind{"String": opString, "Numeric": opNumeric, "Boolean": opBoolean, "Timestamp": opTimestamp}

// typeTests are the Is* operators.
var typeTests = map[string]func(v any, present bool) bool{
	"IsNull":    func(v any, ok bool) bool { return ok && v == nil },
	"IsPresent": func(v any, ok bool) bool { return ok },
	"IsNumeric": func(v any, ok bool) bool { return ok && flow.IsNumber(v) },
	"IsString":  func(v any, ok bool) bool { _, s := v.(string); return ok && s },
	"IsBoolean": func(v any, ok bool) bool { _, b := v.(bool); return ok && b },
	"IsTimestamp": func(v any, ok bool) bool {
		s, isStr := v.(string)
		_, err := parseTimestamp(s)
		return ok && isStr && err == nil
	},
}

// cond is a compiled JSONPath-mode condition.
type cond struct {
	st *stateInfo
	// one of:
	and, or []*cond
	not     *cond
	// a comparison of Variable with a literal or another path
	variable *path
	op       string // the operator as written, for messages
	typeTest func(v any, present bool) bool
	kind     opKind
	compare  func(int) bool
	matches  bool // StringMatches
	literal  any
	other    *path
	// a JSONata Condition: an expression, or a literal boolean
	expr   *expr
	always *bool
}

func (c *cond) Test(data any, fc *flow.Context) (bool, error) {
	return c.test(&env{input: data, c: fc, st: c.st})
}

func (c *cond) test(e *env) (bool, error) {
	switch {
	case c.always != nil:
		return *c.always, nil
	case c.expr != nil:
		states, err := e.statesVar(e.input, "", nil)
		if err != nil {
			return false, err
		}
		v, err := c.expr.eval(e, states, "Condition")
		if err != nil {
			return false, err
		}
		b, ok := v.(bool)
		if !ok {
			return false, queryError(e.c, "The JSONata expression '%s' specified for the field 'Condition' returned an unexpected result type. Expected 'boolean', but was '%s' for value: %s", c.expr.src, jsonType(v), compact(v))
		}
		return b, nil
	case c.and != nil:
		for _, s := range c.and {
			if ok, err := s.test(e); err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case c.or != nil:
		for _, s := range c.or {
			if ok, err := s.test(e); err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case c.not != nil:
		ok, err := c.not.test(e)
		return !ok, err
	}
	v, present, m, err := e.resolve(c.variable)
	if err != nil {
		return false, err
	}
	if c.typeTest != nil {
		want, _ := c.literal.(bool)
		return c.typeTest(v, present) == want, nil
	}
	if !present {
		return false, runtimeError(e.c, "%s", c.variable.invalidPath(m))
	}
	other := c.literal
	if c.other != nil {
		if other, err = e.required(c.other); err != nil {
			return false, err
		}
	}
	if c.matches {
		s, ok1 := v.(string)
		pattern, ok2 := other.(string)
		return ok1 && ok2 && wildcardMatch(pattern, s), nil
	}
	n, ok := compareAs(c.kind, v, other)
	return ok && c.compare(n), nil
}

// compareAs compares two values of a kind; ok is false when either is not
// of that kind (the rule then does not match).
func compareAs(k opKind, a, b any) (int, bool) {
	switch k {
	case opString:
		x, ok1 := a.(string)
		y, ok2 := b.(string)
		return strings.Compare(x, y), ok1 && ok2
	case opNumeric:
		x, ok1 := flow.Number(a)
		y, ok2 := flow.Number(b)
		switch {
		case !ok1 || !ok2:
			return 0, false
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		}
		return 0, true
	case opBoolean:
		x, ok1 := a.(bool)
		y, ok2 := b.(bool)
		if !ok1 || !ok2 {
			return 0, false
		}
		if x == y {
			return 0, true
		}
		return 1, true
	case opTimestamp:
		x, ok1 := a.(string)
		y, ok2 := b.(string)
		if !ok1 || !ok2 {
			return 0, false
		}
		tx, err1 := parseTimestamp(x)
		ty, err2 := parseTimestamp(y)
		if err1 != nil || err2 != nil {
			return 0, false
		}
		return tx.Compare(ty), true
	}
	return 0, false
}

// parseTimestamp reads an ISO-8601 extended offset date-time, as AWS
// requires: a T between date and time and a zone (Z or an offset).
func parseTimestamp(s string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, s)
}

// wildcardMatch is StringMatches: * matches any run of characters, \* and
// \\ stand for themselves.
func wildcardMatch(pattern, s string) bool {
	var parts []string
	var b strings.Builder
	for i := 0; i < len(pattern); i++ {
		switch {
		case pattern[i] == '\\' && i+1 < len(pattern):
			i++
			b.WriteByte(pattern[i])
		case pattern[i] == '*':
			parts = append(parts, b.String())
			b.Reset()
		default:
			b.WriteByte(pattern[i])
		}
	}
	parts = append(parts, b.String())
	if len(parts) == 1 {
		return s == parts[0]
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// compileCond compiles a JSONPath-mode rule (without its Next).
func (l *loader) compileCond(n *Node, st *stateInfo, where string, top bool) *cond {
	c := &cond{st: st}
	var ops []string
	for _, k := range n.keys {
		switch k {
		case "Next", "Assign", "Output", "Comment":
			if !top && k != "Comment" {
				l.problemAt(n.keyLine(k), "%s: %s is only allowed on a top-level choice rule", where, k)
			}
		case "Variable":
			s, ok := n.field[k].value.(string)
			if !ok {
				l.problemAt(n.keyLine(k), "%s: Variable must be a path string", where)
				continue
			}
			p, err := parsePath(s)
			if err != nil {
				l.problemAt(n.keyLine(k), "%s: Variable: %v", where, err)
				continue
			}
			c.variable = p
		case "And", "Or":
			sub := n.field[k]
			if sub.items == nil || len(sub.items) == 0 {
				l.problemAt(n.keyLine(k), "%s: %s must be a non-empty array of rules", where, k)
				continue
			}
			list := []*cond{}
			for i, it := range sub.items {
				list = append(list, l.compileCond(it, st, fmt.Sprintf("%s, %s[%d]", where, k, i), false))
			}
			if k == "And" {
				c.and = list
			} else {
				c.or = list
			}
			ops = append(ops, k)
		case "Not":
			c.not = l.compileCond(n.field[k], st, where+", Not", false)
			ops = append(ops, k)
		default:
			if !l.operator(c, k, n.field[k], n.keyLine(k), where) {
				l.problemAt(n.keyLine(k), "%s: unknown field %q in a choice rule", where, k)
				continue
			}
			ops = append(ops, k)
		}
	}
	switch {
	case len(ops) == 0:
		l.problemAt(n.line, "%s: the rule has no comparison operator, And, Or or Not", where)
	case len(ops) > 1:
		l.problemAt(n.line, "%s: the rule has more than one operator (%s)", where, strings.Join(ops, ", "))
	case c.and == nil && c.or == nil && c.not == nil && c.variable == nil:
		l.problemAt(n.line, "%s: %s needs a Variable", where, ops[0])
	case (c.and != nil || c.or != nil || c.not != nil) && c.variable != nil:
		l.problemAt(n.line, "%s: %s takes no Variable", where, ops[0])
	}
	return c
}

// operator reads one comparison operator into c; false if k is none.
func (l *loader) operator(c *cond, k string, v *Node, line int, where string) bool {
	c.op = k
	if t, ok := typeTests[k]; ok {
		b, isBool := v.value.(bool)
		if !isBool {
			l.problemAt(line, "%s: %s takes true or false", where, k)
		}
		c.typeTest, c.literal = t, b
		return true
	}
	name, isPath := strings.CutSuffix(k, "Path")
	if name == "StringMatches" && !isPath {
		s, ok := v.value.(string)
		if !ok {
			l.problemAt(line, "%s: StringMatches takes a string", where)
		}
		c.matches, c.literal = true, s
		return true
	}
	for kindName, kind := range kinds {
		rest, ok := strings.CutPrefix(name, kindName)
		if !ok {
			continue
		}
		cmp, ok := comparisons[rest]
		if !ok || kind == opBoolean && rest != "Equals" {
			return false
		}
		c.kind, c.compare = kind, cmp.test
		if isPath {
			s, isStr := v.value.(string)
			p, err := parsePath(s)
			if !isStr || err != nil {
				l.problemAt(line, "%s: %s takes a path", where, k)
				return true
			}
			c.other = p
			return true
		}
		c.literal = v.value
		ok = false
		switch kind {
		case opString:
			_, ok = v.value.(string)
		case opNumeric:
			f, isNum := v.value.(float64)
			ok = isNum && !math.IsNaN(f)
		case opBoolean:
			_, ok = v.value.(bool)
		case opTimestamp:
			s, isStr := v.value.(string)
			_, err := parseTimestamp(s)
			ok = isStr && err == nil
		}
		if !ok {
			l.problemAt(line, "%s: %s takes a %s", where, k, strings.ToLower(kindName))
		}
		return true
	}
	return false
}
