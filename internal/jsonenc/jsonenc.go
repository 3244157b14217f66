// Package jsonenc appends JSON by hand, byte for byte as encoding/json
// writes the same values with HTML escaping off, for the records, events
// and answers Orbit writes on every step: encoding/json's reflection and
// its second pass over every json.RawMessage cost a tenth of the CPU of a
// workflow.
package jsonenc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Object appends one JSON object's members, in the order they are written.
type Object struct {
	B   []byte // the JSON so far
	n   int    // members written
	Err error  // the first value that could not be written
}

// Open starts an object at the end of b.
func Open(b []byte) Object { return Object{B: append(b, '{')} }

// Close ends the object and returns the bytes.
func (o *Object) Close() []byte { return append(o.B, '}') }

// Key writes a member's name, which must need no escaping (names from the
// code, not from users).
func (o *Object) Key(k string) {
	if o.n > 0 {
		o.B = append(o.B, ',')
	}
	o.n++
	o.B = append(o.B, '"')
	o.B = append(o.B, k...)
	o.B = append(o.B, '"', ':')
}

// KeyEscaped writes a name that may need escaping (map keys from users).
func (o *Object) KeyEscaped(k string) {
	if o.n > 0 {
		o.B = append(o.B, ',')
	}
	o.n++
	o.B = AppendString(o.B, k)
	o.B = append(o.B, ':')
}

// Str writes a string member.
func (o *Object) Str(k, v string) {
	o.Key(k)
	o.B = AppendString(o.B, v)
}

// StrOmit writes a string member unless it is empty (omitempty).
func (o *Object) StrOmit(k, v string) {
	if v != "" {
		o.Str(k, v)
	}
}

// Raw writes a JSON value as it is, unless it is empty (omitempty); the
// caller has checked that it is valid.
func (o *Object) Raw(k string, v json.RawMessage) {
	if len(v) > 0 {
		o.Key(k)
		o.B = append(o.B, v...)
	}
}

// RawCompact writes a JSON value compacted, as encoding/json writes a
// json.RawMessage, unless it is empty (omitempty).
func (o *Object) RawCompact(k string, v json.RawMessage) {
	if len(v) > 0 {
		o.Key(k)
		var err error
		if o.B, err = AppendCompact(o.B, v); err != nil && o.Err == nil {
			o.Err = fmt.Errorf("%s: %w", k, err)
		}
	}
}

// Int writes an integer member.
func (o *Object) Int(k string, v int64) {
	o.Key(k)
	o.B = strconv.AppendInt(o.B, v, 10)
}

// IntOmit writes an integer member unless it is 0.
func (o *Object) IntOmit(k string, v int64) {
	if v != 0 {
		o.Int(k, v)
	}
}

// Uint writes an unsigned integer member.
func (o *Object) Uint(k string, v uint64) {
	o.Key(k)
	o.B = strconv.AppendUint(o.B, v, 10)
}

// UintOmit writes an unsigned integer member unless it is 0.
func (o *Object) UintOmit(k string, v uint64) {
	if v != 0 {
		o.Uint(k, v)
	}
}

// BoolOmit writes true, or nothing for false.
func (o *Object) BoolOmit(k string, v bool) {
	if v {
		o.Key(k)
		o.B = append(o.B, "true"...)
	}
}

// Time writes t as RFC 3339 with its fraction, as time.Time's MarshalJSON
// does. A time encoding/json refuses (a year outside 0 to 9999) fails the
// object instead of being written in a form that could not be read back.
func (o *Object) Time(k string, t time.Time) {
	o.Key(k)
	o.B = append(o.B, '"')
	b, err := t.AppendText(o.B)
	if err != nil && o.Err == nil {
		o.Err = fmt.Errorf("%s: %w", k, err)
	}
	o.B = append(b, '"')
}

// TimeOmit writes *t unless t is nil.
func (o *Object) TimeOmit(k string, t *time.Time) {
	if t != nil {
		o.Time(k, *t)
	}
}

// Layout writes t in UTC in layout, which must need no escaping (the
// times Orbit shows, store.TimeLayout).
func (o *Object) Layout(k string, t time.Time, layout string) {
	o.Key(k)
	o.B = append(o.B, '"')
	o.B = t.UTC().AppendFormat(o.B, layout)
	o.B = append(o.B, '"')
}

// Array writes key and the array of items, each of which appends its own
// JSON.
func Array[T any, P interface {
	*T
	AppendJSON([]byte) ([]byte, error)
}](o *Object, key string, items []T) error {
	o.Key(key)
	o.B = append(o.B, '[')
	for i := range items {
		if i > 0 {
			o.B = append(o.B, ',')
		}
		var err error
		if o.B, err = P(&items[i]).AppendJSON(o.B); err != nil {
			return err
		}
	}
	o.B = append(o.B, ']')
	return nil
}

// AppendRawOrNull appends v, or null when it is empty.
func AppendRawOrNull(b []byte, v json.RawMessage) []byte {
	if len(v) == 0 {
		return append(b, "null"...)
	}
	return append(b, v...)
}

// AppendCompact appends the JSON value v without insignificant space, as
// encoding/json writes a json.RawMessage. A value without any space,
// tab or line break byte is appended as it is; one with them is compacted
// (and so checked) by encoding/json.
func AppendCompact(b []byte, v []byte) ([]byte, error) {
	for _, c := range v {
		if c <= ' ' {
			buf := bytes.NewBuffer(b)
			if err := json.Compact(buf, v); err != nil {
				return b, err
			}
			return buf.Bytes(), nil
		}
	}
	return append(b, v...), nil
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string the way encoding/json does with
// HTML escaping off: control characters escaped (\b, \f, \n, \r, \t by
// name, as encoding/json does since Go 1.22), invalid UTF-8 replaced by
// U+FFFD, and U+2028 and U+2029 escaped for JavaScript's sake.
func AppendString(b []byte, s string) []byte { return appendString(b, s, &plainSafe) }

// plainSafe and htmlSafe mark the ASCII bytes a JSON string holds as they
// are, without and with escaping for HTML.
var plainSafe, htmlSafe = safeSet(""), safeSet("<>&")

func safeSet(alsoEscaped string) (set [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		set[c] = c != '"' && c != '\\' && !strings.ContainsRune(alsoEscaped, rune(c))
	}
	return set
}

func appendString(b []byte, s string, safe *[utf8.RuneSelf]bool) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
