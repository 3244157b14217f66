package scripting

import (
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// openStringLimits replaces the string functions that can allocate or loop
// without bound with checked ones: the pattern functions use Orbit's
// matcher (pattern.go), and everything that builds a string charges it
// before building it.
func (v *vm) openStringLimits(str *lua.LTable) {
	orig := func(name string) lua.LGFunction { return str.RawGetString(name).(*lua.LFunction).GFunction }
	format, rep, upper, lower := orig("format"), orig("rep"), orig("upper"), orig("lower")
	fns := map[string]lua.LGFunction{
		"find":  func(L *lua.LState) int { return v.strFind(L, true) },
		"match": func(L *lua.LState) int { return v.strFind(L, false) },
		"gmatch": func(L *lua.LState) int {
			src, pat := L.CheckString(1), L.CheckString(2)
			pos := 0
			L.Push(L.NewFunction(func(L *lua.LState) int {
				m := v.newMatcher(src, pat)
				for s := pos; s <= len(src); s++ {
					m.level = 0
					if e := m.match(s, 0); e != -1 {
						pos = e
						if e == s {
							pos++ // an empty match: go at least one position on
						}
						return m.pushCaptures(s, e, true)
					}
				}
				pos = len(src) + 1
				return 0
			}))
			return 1
		},
		"gsub": v.strGsub,
		"format": func(L *lua.LState) int {
			v.alloc("string.format", formatSize(L))
			return format(L)
		},
		"rep": func(L *lua.LState) int {
			if size, n := len(L.CheckString(1)), L.CheckInt(2); size > 0 && n > 0 {
				if n > maxString/size {
					v.alloc("string.rep", maxString+1)
				}
				v.alloc("string.rep", size*n)
			}
			return rep(L)
		},
		"byte": func(L *lua.LState) int {
			s := L.CheckString(1)
			i := posRelative(L.OptInt(2, 1), len(s))
			j := posRelative(L.OptInt(3, i), len(s))
			i, j = max(i, 1), min(j, len(s))
			if i > j {
				return 0
			}
			if j-i >= maxResults {
				L.RaiseError("string.byte: string slice too long (more than %d values)", maxResults)
			}
			for k := i; k <= j; k++ {
				L.Push(lua.LNumber(s[k-1]))
			}
			return j - i + 1
		},
		"upper": v.sameSize("string.upper", upper),
		"lower": v.sameSize("string.lower", lower),
		"reverse": v.sameSize("string.reverse", func(L *lua.LState) int {
			s := L.CheckString(1)
			b := make([]byte, len(s))
			for i := range len(s) {
				b[len(s)-1-i] = s[i]
			}
			L.Push(lua.LString(b))
			return 1
		}),
	}
	for name, fn := range fns {
		str.RawSetString(name, v.L.NewFunction(fn))
	}
	str.RawSetString("gfind", str.RawGetString("gmatch"))
}

// sameSize charges a function whose result is about as long as its first
// argument. gopher-lua's upper and lower map Unicode, which may lengthen a
// string, so the difference is charged after the fact.
func (v *vm) sameSize(what string, fn lua.LGFunction) lua.LGFunction {
	return func(L *lua.LState) int {
		n := len(L.CheckString(1))
		v.alloc(what, n)
		ret := fn(L)
		if out := len(lua.LVAsString(L.Get(-1))); out > n {
			v.alloc(what, out-n)
		}
		return ret
	}
}

// posRelative turns a Lua string position (negative: from the end) into a
// 1-based one, 0 when before the start.
func posRelative(pos, n int) int {
	if pos < 0 {
		pos += n + 1
	}
	return max(pos, 0)
}

// strFind is string.find (find) and string.match.
func (v *vm) strFind(L *lua.LState, find bool) int {
	src, pat := L.CheckString(1), L.CheckString(2)
	init := posRelative(L.OptInt(3, 1), len(src)) - 1
	init = min(max(init, 0), len(src))
	if find && (lua.LVAsBool(L.Get(4)) || !strings.ContainsAny(pat, specials)) {
		if i := strings.Index(src[init:], pat); i >= 0 {
			L.Push(lua.LNumber(init + i + 1))
			L.Push(lua.LNumber(init + i + len(pat)))
			return 2
		}
		L.Push(lua.LNil)
		return 1
	}
	m := v.newMatcher(src, pat)
	s, e := m.find(init, strings.HasPrefix(pat, "^"))
	if s == -1 {
		L.Push(lua.LNil)
		return 1
	}
	if find {
		L.Push(lua.LNumber(s + 1))
		L.Push(lua.LNumber(e))
		return 2 + m.pushCaptures(s, e, false)
	}
	return m.pushCaptures(s, e, true)
}

// strGsub is string.gsub: the result is built once, left to right, and
// every piece is charged before it is added.
func (v *vm) strGsub(L *lua.LState) int {
	src, pat := L.CheckString(1), L.CheckString(2)
	repl := L.Get(3)
	switch repl.Type() {
	case lua.LTNumber, lua.LTString, lua.LTTable, lua.LTFunction:
	default:
		L.ArgError(3, "string/function/table expected")
	}
	maxN := L.OptInt(4, len(src)+1)
	anchored := strings.HasPrefix(pat, "^")
	p := 0
	if anchored {
		p = 1
	}
	m := v.newMatcher(src, pat)
	out := &limitedBuilder{v: v, what: "string.gsub"}
	s, n := 0, 0
	for n < maxN {
		m.level = 0
		e := m.match(s, p)
		if e != -1 {
			n++
			v.gsubValue(m, out, repl, s, e)
		}
		switch {
		case e != -1 && e > s: // a non-empty match: go on after it
			s = e
		case s < len(src):
			out.add(src[s : s+1])
			s++
		default:
			s = len(src) + 1
		}
		if s > len(src) || anchored {
			break
		}
	}
	if s < len(src) {
		out.add(src[s:])
	}
	L.Push(lua.LString(out.b.String()))
	L.Push(lua.LNumber(n))
	return 2
}

// gsubValue adds the replacement of the match s..e (lstrlib.c's add_value).
func (v *vm) gsubValue(m *matcher, out *limitedBuilder, repl lua.LValue, s, e int) {
	L := v.L
	var val lua.LValue
	switch r := repl.(type) {
	case lua.LString, lua.LNumber:
		v.gsubString(m, out, lua.LVAsString(r), s, e)
		return
	case *lua.LFunction:
		L.Push(r)
		n := m.pushCaptures(s, e, true)
		L.Call(n, 1)
		val = L.Get(-1)
		L.Pop(1)
	case *lua.LTable:
		m.pushCapture(0, s, e)
		key := L.Get(-1)
		L.Pop(1)
		val = L.GetTable(r, key)
	}
	switch {
	case !lua.LVAsBool(val):
		out.add(m.src[s:e]) // nil or false: keep the original text
	case lua.LVCanConvToString(val):
		out.add(lua.LVAsString(val))
	default:
		L.RaiseError("invalid replacement value (a %s)", val.Type().String())
	}
}

// gsubString adds a replacement string, with %0-%9 naming captures and %
// escaping any other character.
func (v *vm) gsubString(m *matcher, out *limitedBuilder, repl string, s, e int) {
	L := v.L
	for len(repl) > 0 {
		i := strings.IndexByte(repl, patternEscape)
		if i < 0 || i+1 == len(repl) {
			out.add(repl)
			return
		}
		out.add(repl[:i])
		switch c := repl[i+1]; {
		case c == '0':
			out.add(m.src[s:e])
		case '1' <= c && c <= '9':
			m.pushCapture(int(c-'1'), s, e)
			out.add(lua.LVAsString(L.Get(-1)))
			L.Pop(1)
		default:
			out.add(repl[i+1 : i+2])
		}
		repl = repl[i+2:]
	}
}

// limitedBuilder builds a library function's result, charging each piece
// before it is added.
type limitedBuilder struct {
	v    *vm
	what string
	b    strings.Builder
}

func (lb *limitedBuilder) add(s string) {
	if lb.b.Len()+len(s) > maxString {
		lb.v.alloc(lb.what, maxString+1)
	}
	lb.v.alloc(lb.what, len(s))
	lb.b.WriteString(s)
}

// formatSize is an upper bound of string.format's result. It refuses what
// Lua 5.1 refuses and what would make Go's fmt allocate at will: widths
// and precisions over two digits, '*' widths and argument indexes.
func formatSize(L *lua.LState) int {
	f := L.CheckString(1)
	size, arg := len(f), 2
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		if i++; i < len(f) && f[i] == '%' {
			continue
		}
		for i < len(f) && strings.IndexByte("-+ #0", f[i]) >= 0 {
			i++
		}
		width, prec := formatNumber(L, f, &i), 0
		if i < len(f) && f[i] == '.' {
			i++
			prec = formatNumber(L, f, &i)
		}
		if i >= len(f) || !isAlpha(f[i]) {
			L.RaiseError("invalid option '%%%s' to 'format'", f[min(i, len(f)-1):min(i+1, len(f))])
		}
		// A number prints in at most 330 characters (%f of 1e308); a
		// string with %q at most four per byte (\ddd escapes) and quotes.
		n := 512
		if s, ok := L.Get(arg).(lua.LString); ok {
			n = len(s)
			if f[i] == 'q' {
				n = 4*n + 2
			}
		}
		size += width + prec + n
		arg++
		if size > maxString {
			return size
		}
	}
	return size
}

// formatNumber reads a width or precision of at most two digits at f[*i].
func formatNumber(L *lua.LState, f string, i *int) int {
	n := 0
	for d := 0; *i < len(f) && '0' <= f[*i] && f[*i] <= '9'; d, *i = d+1, *i+1 {
		if d == 2 {
			L.RaiseError("invalid format (width or precision too long)")
		}
		n = n*10 + int(f[*i]-'0')
	}
	return n
}
