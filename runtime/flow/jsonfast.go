package flow

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// decodeFast decodes the plain JSON that services and callers mostly send
// — strings without escapes or control characters, valid UTF-8, nesting
// of at most maxFastDepth — into what encoding/json makes of it, numbers
// as float64s (floats true) or as json.Number. ok is false for anything
// else, a syntax error included: the caller then decodes with
// encoding/json, which also says what is wrong. Decoding a task's result
// with encoding/json's reflection was a few per cent of a step's CPU.
func decodeFast(b []byte, floats bool) (v any, ok bool) {
	d := fastDecoder{b: b, floats: floats}
	d.space()
	v, ok = d.value(0)
	if !ok {
		return nil, false
	}
	d.space()
	return v, d.i == len(b)
}

// maxFastDepth bounds decodeFast's recursion; deeper text goes to
// encoding/json.
const maxFastDepth = 256

type fastDecoder struct {
	b      []byte
	i      int
	floats bool
}

func (d *fastDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *fastDecoder) value(depth int) (any, bool) {
	if d.i >= len(d.b) || depth > maxFastDepth {
		return nil, false
	}
	switch c := d.b[d.i]; {
	case c == '{':
		return d.object(depth)
	case c == '[':
		return d.array(depth)
	case c == '"':
		s, ok := d.str()
		return s, ok
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	}
	return nil, false
}

func (d *fastDecoder) literal(word string) bool {
	if len(d.b)-d.i < len(word) || string(d.b[d.i:d.i+len(word)]) != word {
		return false
	}
	d.i += len(word)
	return true
}

func (d *fastDecoder) object(depth int) (any, bool) {
	d.i++ // {
	m := map[string]any{}
	d.space()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return m, true
	}
	for {
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return nil, false
		}
		k, ok := d.str()
		if !ok {
			return nil, false
		}
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return nil, false
		}
		d.i++
		d.space()
		v, ok := d.value(depth + 1)
		if !ok {
			return nil, false
		}
		m[k] = v // a repeated name: the last one counts, as in encoding/json
		more, ok := d.more('}')
		if !ok {
			return nil, false
		}
		if !more {
			return m, true
		}
	}
}

// more reads what follows a member of an object or an array: a comma,
// when more follow, or the closing byte, when none does.
func (d *fastDecoder) more(closing byte) (more, ok bool) {
	d.space()
	if d.i >= len(d.b) {
		return false, false
	}
	switch d.b[d.i] {
	case ',':
		d.i++
		d.space()
		return true, true
	case closing:
		d.i++
		return false, true
	}
	return false, false
}

func (d *fastDecoder) array(depth int) (any, bool) {
	d.i++ // [
	a := []any{}
	d.space()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return a, true
	}
	for {
		v, ok := d.value(depth + 1)
		if !ok {
			return nil, false
		}
		a = append(a, v)
		more, ok := d.more(']')
		if !ok {
			return nil, false
		}
		if !more {
			return a, true
		}
	}
}

// str reads a string without escapes or control characters whose bytes
// are valid UTF-8: encoding/json takes such a string as it is.
func (d *fastDecoder) str() (string, bool) {
	start := d.i + 1
	ascii := true
	for i := start; i < len(d.b); i++ {
		switch c := d.b[i]; {
		case c == '"':
			s := d.b[start:i]
			if !ascii && !utf8.Valid(s) {
				return "", false
			}
			d.i = i + 1
			return string(s), true
		case c == '\\' || c < ' ':
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// number reads a number as JSON's grammar has it.
func (d *fastDecoder) number() (any, bool) {
	start, i := d.i, d.i
	if d.b[i] == '-' {
		i++
	}
	switch {
	case i < len(d.b) && d.b[i] == '0':
		i++
	case i < len(d.b) && d.b[i] >= '1' && d.b[i] <= '9':
		for i < len(d.b) && d.b[i] >= '0' && d.b[i] <= '9' {
			i++
		}
	default:
		return nil, false
	}
	if i < len(d.b) && d.b[i] == '.' {
		i++
		if i >= len(d.b) || d.b[i] < '0' || d.b[i] > '9' {
			return nil, false
		}
		for i < len(d.b) && d.b[i] >= '0' && d.b[i] <= '9' {
			i++
		}
	}
	if i < len(d.b) && (d.b[i] == 'e' || d.b[i] == 'E') {
		i++
		if i < len(d.b) && (d.b[i] == '+' || d.b[i] == '-') {
			i++
		}
		if i >= len(d.b) || d.b[i] < '0' || d.b[i] > '9' {
			return nil, false
		}
		for i < len(d.b) && d.b[i] >= '0' && d.b[i] <= '9' {
			i++
		}
	}
	d.i = i
	text := string(d.b[start:i])
	if !d.floats {
		return json.Number(text), true
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return nil, false
	}
	return f, true
}
