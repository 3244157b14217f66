package scripting

import (
	lua "github.com/yuin/gopher-lua"
)

// Lua 5.1 patterns, matched the way lstrlib.c does, with two additions
// that gopher-lua's matcher lacks: the call's deadline is checked while
// backtracking (a pattern like "a*a*a*a*b" against a long run of a's takes
// exponential time inside one library call, where the VM cannot stop it),
// and recursion is bounded ("pattern too complex", as in Lua 5.2), so a
// long pattern cannot exhaust the goroutine's stack.

const (
	maxCaptures   = 32  // LUA_MAXCAPTURES
	maxMatchDepth = 200 // MAXCCALLS of Lua 5.2's matcher
	capUnfinished = -1
	capPosition   = -2
	patternEscape = '%'
	specials      = "^$*+?.([%-"
)

// matcher is lstrlib.c's MatchState over one subject and pattern.
type matcher struct {
	v       *vm
	src     string
	pat     string
	level   int // captures opened, finished or not
	depth   int
	steps   int
	capture [maxCaptures]struct{ init, len int }
}

func (v *vm) newMatcher(src, pat string) *matcher {
	return &matcher{v: v, src: src, pat: pat}
}

func (m *matcher) error(format string, args ...any) { m.v.L.RaiseError(format, args...) }

// step counts work and polls the deadline now and then.
func (m *matcher) step() {
	if m.steps++; m.steps%pollEvery == 0 {
		m.v.poll()
	}
}

// p returns the pattern byte at i, or 0 past its end (lstrlib.c reads the
// C string's terminator there).
func (m *matcher) p(i int) byte {
	if i < len(m.pat) {
		return m.pat[i]
	}
	return 0
}

// s returns the subject byte at i, or 0 past its end.
func (m *matcher) s(i int) byte {
	if i < len(m.src) {
		return m.src[i]
	}
	return 0
}

func (m *matcher) checkCapture(l byte) int {
	i := int(l) - '1'
	if i < 0 || i >= m.level || m.capture[i].len == capUnfinished {
		m.error("invalid capture index")
	}
	return i
}

func (m *matcher) captureToClose() int {
	for level := m.level - 1; level >= 0; level-- {
		if m.capture[level].len == capUnfinished {
			return level
		}
	}
	m.error("invalid pattern capture")
	return 0
}

// classEnd returns the index just after the single-char class at p.
func (m *matcher) classEnd(p int) int {
	c := m.p(p)
	p++
	switch c {
	case patternEscape:
		if p >= len(m.pat) {
			m.error("malformed pattern (ends with '%%')")
		}
		return p + 1
	case '[':
		if m.p(p) == '^' {
			p++
		}
		for { // look for a ']'
			if p >= len(m.pat) {
				m.error("malformed pattern (missing ']')")
			}
			c := m.pat[p]
			p++
			if c == patternEscape && p < len(m.pat) {
				p++ // skip escapes (e.g. '%]')
			}
			if m.p(p) == ']' {
				return p + 1
			}
		}
	}
	return p
}

func matchClass(c, cl byte) bool {
	var res bool
	switch lower(cl) {
	case 'a':
		res = isAlpha(c)
	case 'c':
		res = c < 32 || c == 127
	case 'd':
		res = '0' <= c && c <= '9'
	case 'l':
		res = 'a' <= c && c <= 'z'
	case 'p':
		res = isPunct(c)
	case 's':
		res = c == ' ' || ('\t' <= c && c <= '\r')
	case 'u':
		res = 'A' <= c && c <= 'Z'
	case 'w':
		res = isAlpha(c) || ('0' <= c && c <= '9')
	case 'x':
		res = ('0' <= c && c <= '9') || ('a' <= lower(c) && lower(c) <= 'f')
	case 'z':
		res = c == 0
	default:
		return cl == c
	}
	if 'A' <= cl && cl <= 'Z' {
		return !res
	}
	return res
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isAlpha(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }

func isPunct(c byte) bool {
	return c > 32 && c < 127 && !isAlpha(c) && !('0' <= c && c <= '9')
}

// matchBracketClass tests c against the set [...] from p (at '[') to ec
// (at ']').
func (m *matcher) matchBracketClass(c byte, p, ec int) bool {
	sig := true
	if m.p(p+1) == '^' {
		sig = false
		p++
	}
	for p++; p < ec; p++ {
		switch {
		case m.pat[p] == patternEscape:
			p++
			if matchClass(c, m.p(p)) {
				return sig
			}
		case m.p(p+1) == '-' && p+2 < ec:
			p += 2
			if m.pat[p-2] <= c && c <= m.pat[p] {
				return sig
			}
		case m.pat[p] == c:
			return sig
		}
	}
	return !sig
}

// singleMatch tests the subject byte at s against the class from p to ep.
func (m *matcher) singleMatch(s, p, ep int) bool {
	if s >= len(m.src) {
		return false
	}
	c := m.src[s]
	switch m.pat[p] {
	case '.':
		return true
	case patternEscape:
		return matchClass(c, m.p(p+1))
	case '[':
		return m.matchBracketClass(c, p, ep-1)
	}
	return m.pat[p] == c
}

func (m *matcher) matchBalance(s, p int) int {
	if p+1 >= len(m.pat) {
		m.error("unbalanced pattern")
	}
	if s >= len(m.src) || m.src[s] != m.pat[p] {
		return -1
	}
	b, e, cont := m.pat[p], m.pat[p+1], 1
	for s++; s < len(m.src); s++ {
		m.step()
		switch m.src[s] {
		case e:
			if cont--; cont == 0 {
				return s + 1
			}
		case b:
			cont++
		}
	}
	return -1
}

func (m *matcher) maxExpand(s, p, ep int) int {
	i := 0
	for m.singleMatch(s+i, p, ep) {
		m.step()
		i++
	}
	for ; i >= 0; i-- { // try with as many repetitions as possible
		if res := m.match(s+i, ep+1); res != -1 {
			return res
		}
	}
	return -1
}

func (m *matcher) minExpand(s, p, ep int) int {
	for {
		if res := m.match(s, ep+1); res != -1 {
			return res
		}
		if !m.singleMatch(s, p, ep) {
			return -1
		}
		s++
	}
}

func (m *matcher) startCapture(s, p, what int) int {
	if m.level >= maxCaptures {
		m.error("too many captures")
	}
	m.capture[m.level].init, m.capture[m.level].len = s, what
	m.level++
	res := m.match(s, p)
	if res == -1 {
		m.level-- // undo capture
	}
	return res
}

func (m *matcher) endCapture(s, p int) int {
	l := m.captureToClose()
	m.capture[l].len = s - m.capture[l].init
	res := m.match(s, p)
	if res == -1 {
		m.capture[l].len = capUnfinished // undo capture
	}
	return res
}

func (m *matcher) matchCapture(s int, l byte) int {
	i := m.checkCapture(l)
	c := m.capture[i]
	if len(m.src)-s >= c.len && m.src[c.init:c.init+c.len] == m.src[s:s+c.len] {
		return s + c.len
	}
	return -1
}

// match matches the pattern from p against the subject from s and returns
// where the match ends, or -1.
func (m *matcher) match(s, p int) int {
	if m.depth++; m.depth > maxMatchDepth {
		m.error("pattern too complex")
	}
	defer func() { m.depth-- }()
	for {
		m.step()
		if p >= len(m.pat) { // end of pattern
			return s
		}
		switch m.pat[p] {
		case '(':
			if m.p(p+1) == ')' {
				return m.startCapture(s, p+2, capPosition)
			}
			return m.startCapture(s, p+1, capUnfinished)
		case ')':
			return m.endCapture(s, p+1)
		case '$':
			if p+1 == len(m.pat) {
				if s == len(m.src) {
					return s
				}
				return -1
			}
		case patternEscape:
			switch next := m.p(p + 1); {
			case next == 'b':
				if s = m.matchBalance(s, p+2); s == -1 {
					return -1
				}
				p += 4
				continue
			case next == 'f':
				p += 2
				if m.p(p) != '[' {
					m.error("missing '[' after '%%f' in pattern")
				}
				ep := m.classEnd(p)
				var prev byte
				if s > 0 {
					prev = m.src[s-1]
				}
				if m.matchBracketClass(prev, p, ep-1) || !m.matchBracketClass(m.s(s), p, ep-1) {
					return -1
				}
				p = ep
				continue
			case '0' <= next && next <= '9':
				if s = m.matchCapture(s, next); s == -1 {
					return -1
				}
				p += 2
				continue
			}
		}
		// A single-char class, perhaps with a quantifier.
		ep := m.classEnd(p)
		matched := m.singleMatch(s, p, ep)
		switch m.p(ep) {
		case '?':
			if matched {
				if res := m.match(s+1, ep+1); res != -1 {
					return res
				}
			}
			p = ep + 1
		case '*':
			return m.maxExpand(s, p, ep)
		case '+':
			if !matched {
				return -1
			}
			return m.maxExpand(s+1, p, ep)
		case '-':
			return m.minExpand(s, p, ep)
		default:
			if !matched {
				return -1
			}
			s++
			p = ep
		}
	}
}

// find looks for the pattern from init on: the start and end of the
// first match, or -1. An anchored pattern ('^') is tried at init only.
func (m *matcher) find(init int, anchored bool) (start, end int) {
	p := 0
	if anchored {
		p = 1
	}
	for s := init; s <= len(m.src); s++ {
		m.level = 0
		if e := m.match(s, p); e != -1 {
			return s, e
		}
		if anchored {
			break
		}
	}
	return -1, -1
}

// pushCapture pushes capture i; with no captures, capture 0 is the whole
// match s..e.
func (m *matcher) pushCapture(i, s, e int) {
	L := m.v.L
	if i >= m.level {
		if i != 0 {
			m.error("invalid capture index")
		}
		L.Push(lua.LString(m.src[s:e]))
		return
	}
	c := m.capture[i]
	switch c.len {
	case capUnfinished:
		m.error("unfinished capture")
	case capPosition:
		L.Push(lua.LNumber(c.init + 1))
	default:
		L.Push(lua.LString(m.src[c.init : c.init+c.len]))
	}
}

// pushCaptures pushes every capture, or the whole match when the pattern
// has none and wholeMatch is set; it returns how many it pushed.
func (m *matcher) pushCaptures(s, e int, wholeMatch bool) int {
	n := m.level
	if n == 0 && wholeMatch {
		n = 1
	}
	for i := range n {
		m.pushCapture(i, s, e)
	}
	return n
}
