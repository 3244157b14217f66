package flow

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"sync"
)

// Numbers in data. Data decoded from JSON keeps every number as the text
// it was written as (a json.Number), so that what Orbit only passes along
// — through paths, to HTTP routines and plugins, into the history — comes
// out exactly as it came in: 9007199254740993 stays 9007199254740993 and
// 1e400 stays 1e400, where a float64 would round the first and refuse the
// second. Text whose numbers a float64 holds and writes back unchanged
// (integers of up to 15 digits) decodes to float64s, as json.Unmarshal
// does it at a fraction of a json.Decoder's cost. Code that computes with a
// number reads it with Number; values built in Go (a Lua or JSONata
// result, a literal) may be float64 or int, and are numbers too.

// DecodeJSON decodes one JSON value, keeping its numbers as json.Number.
func DecodeJSON(b []byte) (any, error) {
	var v any
	err := UnmarshalJSON(b, &v)
	return v, err
}

// UnmarshalJSON is json.Unmarshal keeping numbers as json.Number where v
// holds them as any (a map[string]any, say) and a float64 would change
// them.
func UnmarshalJSON(b []byte, v any) error {
	floats := floatsExact(b)
	if p, ok := v.(*any); ok && *p == nil { // encoding/json decodes into a pointer *p holds
		if d, ok := decodeFast(b, floats); ok {
			*p = d
			return nil
		}
	}
	return unmarshalJSON(b, v, floats)
}

// unmarshalJSON is UnmarshalJSON by encoding/json.
func unmarshalJSON(b []byte, v any, floats bool) error {
	if floats {
		return json.Unmarshal(b, v)
	}
	r := readers.Get().(*bytes.Reader)
	defer readers.Put(r)
	r.Reset(b)
	d := json.NewDecoder(r)
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF // no value at all, as json.Unmarshal says
		}
		return err
	}
	if len(bytes.TrimLeft(b[d.InputOffset():], " \t\r\n")) > 0 {
		return errors.New("invalid JSON: text after the value")
	}
	return nil
}

// floatsExact reports whether every number in the JSON text b is an
// integer of at most 15 digits, which a float64 holds exactly and
// encoding/json writes back as it was written. It only looks for what
// could be otherwise (a fraction, an exponent, a long run of digits),
// outside strings; json.Unmarshal still checks that b is JSON.
func floatsExact(b []byte) bool {
	const maxDigits = 15 // 10^15 < 2^53
	digits, inString := 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++ // the escaped byte cannot end the string
			case '"':
				inString = false
			}
			continue
		}
		switch {
		case c >= '0' && c <= '9':
			if digits++; digits > maxDigits {
				return false
			}
			continue
		case c == '.', (c == 'e' || c == 'E') && digits > 0:
			return false
		case c == '"':
			inString = true
		}
		digits = 0
	}
	return true
}

// readers are the readers UnmarshalJSON's decoders read from, reused.
var readers = sync.Pool{New: func() any { return new(bytes.Reader) }}

// Number reads v as a number: a json.Number (one beyond a float64's
// range reads as ±Inf), a float64 or a Go integer. ok is false for any
// other value.
func Number(v any) (f float64, ok bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case json.Number:
		f, err := strconv.ParseFloat(string(n), 64)
		var ne *strconv.NumError
		if err != nil && !(errors.As(err, &ne) && ne.Err == strconv.ErrRange) {
			return 0, false
		}
		return f, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case float32:
		return float64(n), true
	}
	return 0, false
}

// IsNumber reports whether v is a number (see Number).
func IsNumber(v any) bool {
	switch v.(type) {
	case float64, json.Number, int, int64, int32, float32:
		return true
	}
	return false
}

// Floats returns v with every json.Number in it made a float64, for code
// that knows numbers only as float64 (JSONata). Containers without a
// json.Number in them are returned as they are, not copied.
func Floats(v any) any {
	out, _ := floats(v)
	return out
}

// floats is Floats that also reports whether it changed anything.
func floats(v any) (any, bool) {
	switch x := v.(type) {
	case json.Number:
		f, _ := Number(x)
		return f, true
	case map[string]any:
		var out map[string]any
		for k, e := range x {
			f, changed := floats(e)
			if !changed {
				continue
			}
			if out == nil {
				out = make(map[string]any, len(x))
				for k2, e2 := range x {
					out[k2] = e2
				}
			}
			out[k] = f
		}
		if out == nil {
			return x, false
		}
		return out, true
	case []any:
		var out []any
		for i, e := range x {
			f, changed := floats(e)
			if !changed {
				continue
			}
			if out == nil {
				out = append([]any(nil), x...)
			}
			out[i] = f
		}
		if out == nil {
			return x, false
		}
		return out, true
	}
	return v, false
}
