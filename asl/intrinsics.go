package asl

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"math"
	mrand "math/rand/v2"
	"sort"
	"strconv"
	"strings"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// call is a parsed intrinsic function call, States.Name(args...).
type call struct {
	name string
	fn   intrinsic
	args []arg
	src  string
}

// arg is one argument: a literal, a path or a nested call.
type arg struct {
	lit  any
	path *path
	call *call
}

// intrinsic computes a function's value from its evaluated arguments.
type intrinsic struct {
	minArgs, maxArgs int // maxArgs -1: any number
	run              func(args []any) (any, error)
}

// intrinsics are AWS's States.* functions.
var intrinsics map[string]intrinsic

func init() {
	intrinsics = map[string]intrinsic{
		"States.Format":         {1, -1, format},
		"States.StringToJson":   {1, 1, stringToJSON},
		"States.JsonToString":   {1, 1, func(a []any) (any, error) { return compact(a[0]), nil }},
		"States.Array":          {0, -1, func(a []any) (any, error) { return append([]any{}, a...), nil }},
		"States.ArrayPartition": {2, 2, arrayPartition},
		"States.ArrayContains":  {2, 2, arrayContains},
		"States.ArrayRange":     {3, 3, arrayRange},
		"States.ArrayGetItem":   {2, 2, arrayGetItem},
		"States.ArrayLength":    {1, 1, arrayLength},
		"States.ArrayUnique":    {1, 1, arrayUnique},
		"States.Base64Encode":   {1, 1, base64Encode},
		"States.Base64Decode":   {1, 1, base64Decode},
		"States.Hash":           {2, 2, hashOf},
		"States.JsonMerge":      {3, 3, jsonMerge},
		"States.MathRandom":     {2, 3, mathRandom},
		"States.MathAdd":        {2, 2, mathAdd},
		"States.StringSplit":    {2, 2, stringSplit},
		"States.UUID":           {0, 0, uuid},
	}
}

// isIntrinsic reports whether a `.$` value is a function call.
func isIntrinsic(s string) bool { return strings.HasPrefix(strings.TrimSpace(s), "States.") }

// parseCall parses an intrinsic function call.
func parseCall(src string) (*call, error) {
	p := &callParser{s: src}
	c, err := p.call()
	if err != nil {
		return nil, fmt.Errorf("%q is not a valid intrinsic function call: %v", src, err)
	}
	p.space()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("%q is not a valid intrinsic function call: unexpected %q after the call", src, p.s[p.i:])
	}
	return c, nil
}

type callParser struct {
	s string
	i int
}

func (p *callParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n') {
		p.i++
	}
}

func (p *callParser) call() (*call, error) {
	p.space()
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != '(' {
		p.i++
	}
	if p.i == len(p.s) {
		return nil, fmt.Errorf("missing (")
	}
	name := strings.TrimSpace(p.s[start:p.i])
	fn, ok := intrinsics[name]
	if !ok {
		return nil, fmt.Errorf("unknown function %s", name)
	}
	c := &call{name: name, fn: fn}
	p.i++ // (
	p.space()
	if p.i < len(p.s) && p.s[p.i] == ')' {
		p.i++
	} else {
		for {
			a, err := p.arg()
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, a)
			p.space()
			if p.i >= len(p.s) {
				return nil, fmt.Errorf("missing )")
			}
			if p.s[p.i] == ')' {
				p.i++
				break
			}
			if p.s[p.i] != ',' {
				return nil, fmt.Errorf("unexpected %q in the arguments of %s", p.s[p.i], name)
			}
			p.i++
		}
	}
	if len(c.args) < fn.minArgs || fn.maxArgs >= 0 && len(c.args) > fn.maxArgs {
		return nil, fmt.Errorf("%s takes %s, not %d", name, arity(fn), len(c.args))
	}
	c.src = p.s[start:p.i]
	return c, nil
}

func arity(fn intrinsic) string {
	switch {
	case fn.maxArgs < 0:
		return fmt.Sprintf("at least %d arguments", fn.minArgs)
	case fn.minArgs == fn.maxArgs:
		return fmt.Sprintf("%d arguments", fn.minArgs)
	}
	return fmt.Sprintf("%d to %d arguments", fn.minArgs, fn.maxArgs)
}

func (p *callParser) arg() (arg, error) {
	p.space()
	if p.i >= len(p.s) {
		return arg{}, fmt.Errorf("missing argument")
	}
	switch c := p.s[p.i]; {
	case c == '\'':
		var b strings.Builder
		p.i++
		for p.i < len(p.s) && p.s[p.i] != '\'' {
			if p.s[p.i] == '\\' && p.i+1 < len(p.s) {
				p.i++
			}
			b.WriteByte(p.s[p.i])
			p.i++
		}
		if p.i >= len(p.s) {
			return arg{}, fmt.Errorf("unterminated string")
		}
		p.i++
		return arg{lit: b.String()}, nil
	case c == '$':
		start, depth, quote := p.i, 0, byte(0)
		for ; p.i < len(p.s); p.i++ {
			ch := p.s[p.i]
			if quote != 0 {
				if ch == quote {
					quote = 0
				}
				continue
			}
			if ch == '\'' || ch == '"' {
				quote = ch
			} else if ch == '[' || ch == '(' {
				depth++
			} else if ch == ']' || ch == ')' && depth > 0 {
				depth--
			} else if depth == 0 && (ch == ',' || ch == ')') {
				break
			}
		}
		pp, err := parsePath(strings.TrimSpace(p.s[start:p.i]))
		if err != nil {
			return arg{}, err
		}
		return arg{path: pp}, nil
	case strings.HasPrefix(p.s[p.i:], "States."):
		c, err := p.call()
		if err != nil {
			return arg{}, err
		}
		return arg{call: c}, nil
	default:
		start := p.i
		for p.i < len(p.s) && p.s[p.i] != ',' && p.s[p.i] != ')' {
			p.i++
		}
		word := strings.TrimSpace(p.s[start:p.i])
		switch word {
		case "true":
			return arg{lit: true}, nil
		case "false":
			return arg{lit: false}, nil
		case "null":
			return arg{lit: nil}, nil
		}
		f, err := strconv.ParseFloat(word, 64)
		if err != nil {
			return arg{}, fmt.Errorf("argument %q is neither a string, a number, a boolean, null, a path nor a call", word)
		}
		return arg{lit: f}, nil
	}
}

// eval runs the call in env.
func (c *call) eval(e *env, field string) (any, error) {
	args := make([]any, len(c.args))
	for i, a := range c.args {
		switch {
		case a.call != nil:
			v, err := a.call.eval(e, field)
			if err != nil {
				return nil, err
			}
			args[i] = v
		case a.path != nil:
			v, ok, _, err := e.resolve(a.path)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, runtimeError(e.c, "The JSONPath '%s' specified for the field '%s' could not be found in the input '%s'", a.path.src, field, compact(e.input))
			}
			args[i] = v
		default:
			args[i] = a.lit
		}
	}
	v, err := c.fn.run(args)
	if err != nil {
		return nil, stateError(ErrIntrinsicFailure, e.c, "Invalid arguments in Intrinsic Function: %s. %v", c.src, err)
	}
	return v, nil
}

// javaText is how AWS writes a value into States.Format: strings as they
// are, numbers without a needless fraction, objects as Java maps.
func javaText(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return numberText(x)
	case json.Number:
		f, _ := flow.Number(x)
		return numberText(f)
	case []any:
		parts := make([]string, len(x))
		for i, it := range x {
			parts[i] = javaText(it)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + javaText(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}

// numberText writes a JSON number the way JSON encoders do.
func numberText(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}

func format(a []any) (any, error) {
	tmpl, ok := a[0].(string)
	if !ok {
		return nil, fmt.Errorf("the format string must be a string")
	}
	var b strings.Builder
	n := 1
	for i := 0; i < len(tmpl); i++ {
		switch {
		case tmpl[i] == '\\' && i+1 < len(tmpl):
			i++
			b.WriteByte(tmpl[i])
		case tmpl[i] == '{' && i+1 < len(tmpl) && tmpl[i+1] == '}':
			if n >= len(a) {
				return nil, fmt.Errorf("the format string has more {} than arguments")
			}
			b.WriteString(javaText(a[n]))
			n++
			i++
		default:
			b.WriteByte(tmpl[i])
		}
	}
	if n != len(a) {
		return nil, fmt.Errorf("the format string has %d {} for %d arguments", n-1, len(a)-1)
	}
	return b.String(), nil
}

func stringToJSON(a []any) (any, error) {
	s, ok := a[0].(string)
	if !ok {
		return nil, fmt.Errorf("the argument must be a string")
	}
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	v, err := flow.DecodeJSON([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("the argument is not JSON: %v", err)
	}
	return v, nil
}

func array(v any, what string) ([]any, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s must be an array, not %s", what, jsonType(v))
	}
	return arr, nil
}

func integer(v any, what string) (int, error) {
	f, ok := flow.Number(v)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("%s must be an integer, not %s", what, compact(v))
	}
	return int(f), nil
}

func arrayPartition(a []any) (any, error) {
	arr, err := array(a[0], "the first argument")
	if err != nil {
		return nil, err
	}
	size, err := integer(a[1], "the chunk size")
	if err != nil {
		return nil, err
	}
	if size <= 0 {
		return nil, fmt.Errorf("the chunk size must be positive")
	}
	out := []any{}
	for i := 0; i < len(arr); i += size {
		out = append(out, append([]any{}, arr[i:min(i+size, len(arr))]...))
	}
	return out, nil
}

func arrayContains(a []any) (any, error) {
	arr, err := array(a[0], "the first argument")
	if err != nil {
		return nil, err
	}
	for _, v := range arr {
		if compact(flow.Floats(v)) == compact(flow.Floats(a[1])) {
			return true, nil
		}
	}
	return false, nil
}

func arrayRange(a []any) (any, error) {
	var n [3]int
	for i, what := range []string{"the start", "the end", "the step"} {
		v, err := integer(a[i], what)
		if err != nil {
			return nil, err
		}
		n[i] = v
	}
	if n[2] == 0 {
		return nil, fmt.Errorf("the step must not be 0")
	}
	out := []any{}
	for v := n[0]; n[2] > 0 && v <= n[1] || n[2] < 0 && v >= n[1]; v += n[2] {
		if len(out) == 1000 {
			return nil, fmt.Errorf("the range has more than 1000 items")
		}
		out = append(out, float64(v))
	}
	return out, nil
}

func arrayGetItem(a []any) (any, error) {
	arr, err := array(a[0], "the first argument")
	if err != nil {
		return nil, err
	}
	i, err := integer(a[1], "the index")
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= len(arr) {
		return nil, fmt.Errorf("the index %d is out of bounds", i)
	}
	return arr[i], nil
}

func arrayLength(a []any) (any, error) {
	arr, err := array(a[0], "the argument")
	if err != nil {
		return nil, err
	}
	return float64(len(arr)), nil
}

func arrayUnique(a []any) (any, error) {
	arr, err := array(a[0], "the argument")
	if err != nil {
		return nil, err
	}
	out := []any{}
	seen := map[string]bool{}
	for _, v := range arr {
		k := compact(flow.Floats(v)) // 2 and 2.0 are one number
		if !seen[k] {
			seen[k] = true
			out = append(out, v)
		}
	}
	return out, nil
}

func base64Encode(a []any) (any, error) {
	s, ok := a[0].(string)
	if !ok {
		return nil, fmt.Errorf("the argument must be a string")
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

func base64Decode(a []any) (any, error) {
	s, ok := a[0].(string)
	if !ok {
		return nil, fmt.Errorf("the argument must be a string")
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("the argument is not base64: %v", err)
	}
	return string(b), nil
}

func hashOf(a []any) (any, error) {
	var data string
	if s, ok := a[0].(string); ok {
		data = s
	} else {
		data = compact(a[0])
	}
	alg, _ := a[1].(string)
	var h hash.Hash
	switch alg {
	case "MD5":
		h = md5.New()
	case "SHA-1":
		h = sha1.New()
	case "SHA-256":
		h = sha256.New()
	case "SHA-384":
		h = sha512.New384()
	case "SHA-512":
		h = sha512.New()
	default:
		return nil, fmt.Errorf("the hash algorithm %q is not one of MD5, SHA-1, SHA-256, SHA-384, SHA-512", alg)
	}
	h.Write([]byte(data))
	return hex.EncodeToString(h.Sum(nil)), nil
}

func jsonMerge(a []any) (any, error) {
	x, ok1 := a[0].(map[string]any)
	y, ok2 := a[1].(map[string]any)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("both values to merge must be objects")
	}
	if deep, _ := a[2].(bool); deep {
		return nil, fmt.Errorf("only a shallow merge (false) is supported")
	}
	out := make(map[string]any, len(x)+len(y))
	for k, v := range x {
		out[k] = v
	}
	for k, v := range y {
		out[k] = v
	}
	return out, nil
}

// roundHalfUp rounds as Java's Math.round, which AWS applies to the
// arguments of the math functions.
func roundHalfUp(f float64) float64 { return math.Floor(f + 0.5) }

func mathRandom(a []any) (any, error) {
	lo, ok1 := flow.Number(a[0])
	hi, ok2 := flow.Number(a[1])
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("the bounds must be numbers")
	}
	start, end := int64(roundHalfUp(lo)), int64(roundHalfUp(hi))
	if end <= start {
		return nil, fmt.Errorf("the end must be greater than the start")
	}
	var r *mrand.Rand
	if len(a) == 3 {
		seed, ok := flow.Number(a[2])
		if !ok {
			return nil, fmt.Errorf("the seed must be a number")
		}
		r = mrand.New(mrand.NewPCG(uint64(int64(seed)), 0))
	} else {
		var b [8]byte
		rand.Read(b[:])
		r = mrand.New(mrand.NewPCG(binary.LittleEndian.Uint64(b[:]), 0))
	}
	return float64(start + r.Int64N(end-start)), nil
}

func mathAdd(a []any) (any, error) {
	x, ok1 := flow.Number(a[0])
	y, ok2 := flow.Number(a[1])
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("both arguments must be numbers")
	}
	return roundHalfUp(x) + roundHalfUp(y), nil
}

func stringSplit(a []any) (any, error) {
	s, ok1 := a[0].(string)
	d, ok2 := a[1].(string)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("both arguments must be strings")
	}
	out := []any{}
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(d, r) }) {
		out = append(out, part)
	}
	return out, nil
}

func uuid(a []any) (any, error) {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}
