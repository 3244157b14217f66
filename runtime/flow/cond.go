package flow

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// Declarative conditions: a choice rule written as comparisons of paths
// with literals, joined by all / any / none, rather than as a script
// function. The engine tests them like any Cond; the graph, the API and
// `orbit convert` can also read them, which an opaque function does not
// allow.

// Op is a comparison operator of a Compare.
type Op uint8

// The comparison operators, named as the XML scenarios and the Lua DSL
// name them.
const (
	Eq Op = iota + 1
	Ne
	Lt
	Lte
	Gt
	Gte
)

var opNames = [...]string{Eq: "eq", Ne: "ne", Lt: "lt", Lte: "lte", Gt: "gt", Gte: "gte"}
var opSymbols = [...]string{Eq: "==", Ne: "!=", Lt: "<", Lte: "<=", Gt: ">", Gte: ">="}

// String is the operator's name (eq, ne, lt, lte, gt, gte).
func (o Op) String() string {
	if int(o) < len(opNames) && opNames[o] != "" {
		return opNames[o]
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// Symbol is how the operator is drawn (==, !=, <, <=, >, >=).
func (o Op) Symbol() string {
	if int(o) < len(opSymbols) && opSymbols[o] != "" {
		return opSymbols[o]
	}
	return o.String()
}

// ParseOp reads an operator name; ok is false for anything else.
func ParseOp(name string) (op Op, ok bool) {
	for i, n := range opNames {
		if n != "" && n == name {
			return Op(i), true
		}
	}
	return 0, false
}

// OpNames lists the operator names, for error messages.
func OpNames() string { return strings.Join(opNames[1:], ", ") }

// Compare holds when the value at Path compares with Value as Op says.
// Value is a JSON value. A string on one side and a number or boolean on
// the other compare as the number or boolean the string spells, so the
// literal "2" of an XML file equals the number 2 in the data; values that
// cannot be ordered (objects, arrays, a string that is no number against
// a number) fail every ordering. A path that does not resolve is
// States.Runtime, as everywhere else.
type Compare struct {
	Path  *Path
	Op    Op
	Value any
}

// Test evaluates the comparison on data.
func (k *Compare) Test(data any, c *Context) (bool, error) {
	v, err := k.Path.Eval(data, c)
	if err != nil {
		return false, err
	}
	return compare(v, k.Op, k.Value), nil
}

// String draws the comparison: $.order.total > 100.
func (k *Compare) String() string {
	lit, err := json.Marshal(k.Value)
	if err != nil {
		lit = []byte("?")
	}
	return k.Path.String() + " " + k.Op.Symbol() + " " + string(lit)
}

func compare(a any, op Op, b any) bool {
	a, b = number(a), number(b)
	a, b = coerce(a, b), coerce(b, a)
	switch op {
	case Eq:
		return equal(a, b)
	case Ne:
		return !equal(a, b)
	}
	var c int
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		if !ok || math.IsNaN(x) || math.IsNaN(y) {
			return false
		}
		c = cmpFloat(x, y)
	case string:
		y, ok := b.(string)
		if !ok {
			return false
		}
		c = strings.Compare(x, y)
	default:
		return false
	}
	switch op {
	case Lt:
		return c < 0
	case Lte:
		return c <= 0
	case Gt:
		return c > 0
	case Gte:
		return c >= 0
	}
	return false
}

func cmpFloat(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// number reads every kind of number (a json.Number of decoded data, a Go
// integer) as the float64 that conditions compare.
func number(v any) any {
	if f, ok := Number(v); ok {
		return f
	}
	return v
}

// coerce reads a string as the type of other when other is a number or a
// boolean and the string spells one; otherwise v is returned as is.
func coerce(v, other any) any {
	s, ok := v.(string)
	if !ok {
		return v
	}
	switch other.(type) {
	case float64:
		if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
			return f
		}
	case bool:
		if b, err := strconv.ParseBool(strings.TrimSpace(s)); err == nil {
			return b
		}
	}
	return v
}

func equal(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	}
	return reflect.DeepEqual(a, b)
}

// Junction says how a Connective joins its members.
type Junction uint8

// The junctions: every member holds, one holds, none holds (XML's and, or,
// nor).
const (
	All Junction = iota + 1
	Any
	None
)

var junctionNames = [...]string{All: "all", Any: "any", None: "none"}

// String is the junction's Lua DSL name (all, any, none).
func (j Junction) String() string {
	if int(j) < len(junctionNames) && junctionNames[j] != "" {
		return junctionNames[j]
	}
	return "junction(" + strconv.Itoa(int(j)) + ")"
}

// Connective joins conditions. Members are tested in order and testing
// stops as soon as the outcome is known.
type Connective struct {
	Junction Junction
	Conds    []Cond
}

// Test evaluates the members as the junction says.
func (k *Connective) Test(data any, c *Context) (bool, error) {
	for _, m := range k.Conds {
		ok, err := m.Test(data, c)
		if err != nil {
			return false, err
		}
		switch {
		case ok && k.Junction == Any:
			return true, nil
		case ok && k.Junction == None:
			return false, nil
		case !ok && k.Junction == All:
			return false, nil
		}
	}
	return k.Junction != Any, nil
}

// String draws the connective with and / or / not, parenthesizing nested
// ones: $.a == 1 and ($.b == 2 or $.c == 1).
func (k *Connective) String() string {
	var b strings.Builder
	k.write(&b)
	return b.String()
}

func (k *Connective) write(b *strings.Builder) {
	sep := " and "
	if k.Junction != All {
		sep = " or "
	}
	if k.Junction == None {
		b.WriteString("not (")
	}
	for i, m := range k.Conds {
		if i > 0 {
			b.WriteString(sep)
		}
		m = unwrap(m)
		if n, ok := m.(*Connective); ok && n.Junction != None && len(k.Conds) > 1 {
			b.WriteByte('(')
			n.write(b)
			b.WriteByte(')')
			continue
		}
		b.WriteString(CondText(m))
	}
	if k.Junction == None {
		b.WriteByte(')')
	}
}

// unwrap skips all / any connectives of one member, which draw as that
// member, so that parentheses go where an operator needs them.
func unwrap(c Cond) Cond {
	for {
		n, ok := c.(*Connective)
		if !ok || n.Junction == None || len(n.Conds) != 1 {
			return c
		}
		c = n.Conds[0]
	}
}

// CondText draws a condition as text, or "" when it is a script function
// that cannot be read.
func CondText(c Cond) string {
	switch k := c.(type) {
	case *Compare:
		return k.String()
	case *Connective:
		return k.String()
	}
	return ""
}

// Declarative reports whether a condition is made only of comparisons and
// connectives, so it can be drawn and converted to another format.
func Declarative(c Cond) bool {
	switch k := c.(type) {
	case *Compare:
		return true
	case *Connective:
		for _, m := range k.Conds {
			if !Declarative(m) {
				return false
			}
		}
		return true
	}
	return false
}
