package jsonenc

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
)

// maxValueDepth is how deep AppendValue nests by itself; a deeper value
// (or a cycle) is handed to encoding/json, which reports a cycle.
const maxValueDepth = 256

// AppendValue appends the JSON of v exactly as json.Marshal writes it,
// HTML escaping included, and fails where json.Marshal fails. The types of
// decoded JSON (map[string]any, []any, string, json.Number, float64, bool,
// nil) and Go's integers are written by hand; any other value, a named
// type included, is written by json.Marshal in its place, which gives the
// same bytes as a json.Marshal of the whole.
//
// A workflow's data is encoded at every step for its checkpoint and
// history; encoding/json's reflection over it was a few per cent of the
// CPU of a step.
func AppendValue(b []byte, v any) ([]byte, error) { return appendValue(b, v, 0) }

func appendValue(b []byte, v any, depth int) ([]byte, error) {
	if depth > maxValueDepth {
		return appendMarshal(b, v)
	}
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case string:
		return appendStringHTML(b, v), nil
	case json.Number:
		s := string(v)
		if s == "" {
			s = "0" // as encoding/json writes an empty Number
		}
		if !validNumber(s) {
			return appendMarshal(b, v) // for encoding/json's error
		}
		return append(b, s...), nil
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return appendMarshal(b, v)
		}
		return appendFloat(b, v), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case map[string]any:
		if v == nil {
			return append(b, "null"...), nil
		}
		var room [16]string // most objects have fewer members: no allocation
		keys := room[:0]
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		var err error
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendStringHTML(b, k)
			b = append(b, ':')
			if b, err = appendValue(b, v[k], depth+1); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	case []any:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		var err error
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendValue(b, e, depth+1); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	}
	return appendMarshal(b, v)
}

// appendMarshal appends json.Marshal's encoding of v.
func appendMarshal(b []byte, v any) ([]byte, error) {
	enc, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, enc...), nil
}

// appendFloat writes a finite float64 as encoding/json does: like the
// ES6 number to string conversion.
func appendFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' { // e-09 becomes e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// validNumber reports whether s is a JSON number, as encoding/json
// checks a json.Number before writing it.
func validNumber(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '-' {
		s = s[1:]
		if s == "" {
			return false
		}
	}
	switch {
	case s[0] == '0':
		s = s[1:]
	case '1' <= s[0] && s[0] <= '9':
		s = strings.TrimLeft(s[1:], "0123456789")
	default:
		return false
	}
	if len(s) >= 2 && s[0] == '.' && '0' <= s[1] && s[1] <= '9' {
		s = strings.TrimLeft(s[2:], "0123456789")
	}
	if len(s) >= 2 && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		if s[0] == '+' || s[0] == '-' {
			s = s[1:]
			if s == "" {
				return false
			}
		}
		s = strings.TrimLeft(s, "0123456789")
	}
	return s == ""
}

// appendStringHTML appends s as a JSON string as json.Marshal does: as
// AppendString, with <, > and & escaped for HTML too.
func appendStringHTML(b []byte, s string) []byte { return appendString(b, s, &htmlSafe) }
