package asl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Node is a JSON value with the line it starts on, so that problems name
// the line of the offending key. Objects keep their keys in order.
type Node struct {
	line  int
	value any              // the decoded value, as encoding/json gives it
	keys  []string         // object keys in order
	lines map[string]int   // line of each key
	field map[string]*Node // object members
	items []*Node          // array elements
}

// isObject reports whether the value is a JSON object.
func (n *Node) isObject() bool { return n != nil && n.field != nil }

// get returns a member of an object, or nil.
func (n *Node) get(key string) *Node {
	if n == nil || n.field == nil {
		return nil
	}
	return n.field[key]
}

// keyLine is the line of an object's key, or the object's own line.
func (n *Node) keyLine(key string) int {
	if l, ok := n.lines[key]; ok {
		return l
	}
	return n.line
}

// parseJSON reads one JSON document into nodes. Numbers decode as float64,
// as everywhere in Orbit's data.
func parseJSON(body []byte) (*Node, error) {
	p := &jsonParser{body: body, dec: json.NewDecoder(bytes.NewReader(body))}
	p.dec.UseNumber()
	n, err := p.value()
	if err != nil {
		return nil, err
	}
	if _, err := p.dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &syntaxError{line: p.line(p.dec.InputOffset()), msg: "unexpected data after the JSON document"}
	}
	return n, nil
}

// syntaxError is a JSON syntax problem at a line.
type syntaxError struct {
	line int
	msg  string
}

func (e *syntaxError) Error() string { return e.msg }

type jsonParser struct {
	body []byte
	dec  *json.Decoder
	// lineAt and lineOff cache the last line computed, since offsets
	// only grow.
	lineAt, lineOff int
}

// line is the 1-based line of a byte offset.
func (p *jsonParser) line(off int64) int {
	if p.lineAt == 0 {
		p.lineAt = 1
	}
	o := int(off)
	if o > len(p.body) {
		o = len(p.body)
	}
	p.lineAt += bytes.Count(p.body[p.lineOff:o], []byte{'\n'})
	p.lineOff = o
	return p.lineAt
}

// tokenLine is the line where the next token starts (after whitespace
// and separators).
func (p *jsonParser) tokenLine() int {
	off := p.dec.InputOffset()
	for int(off) < len(p.body) {
		c := p.body[off]
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != ',' && c != ':' {
			break
		}
		off++
	}
	return p.line(off)
}

func (p *jsonParser) fail(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &syntaxError{line: p.line(se.Offset), msg: "invalid JSON: " + se.Error()}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &syntaxError{line: p.line(int64(len(p.body))), msg: "invalid JSON: unexpected end of the file"}
	}
	return &syntaxError{line: p.line(p.dec.InputOffset()), msg: "invalid JSON: " + err.Error()}
}

func (p *jsonParser) value() (*Node, error) {
	line := p.tokenLine()
	tok, err := p.dec.Token()
	if err != nil {
		return nil, p.fail(err)
	}
	n := &Node{line: line}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n.field, n.lines = map[string]*Node{}, map[string]int{}
			obj := map[string]any{}
			for p.dec.More() {
				kl := p.tokenLine()
				kt, err := p.dec.Token()
				if err != nil {
					return nil, p.fail(err)
				}
				k := kt.(string)
				v, err := p.value()
				if err != nil {
					return nil, err
				}
				if _, dup := n.field[k]; dup {
					return nil, &syntaxError{line: kl, msg: fmt.Sprintf("field %q is given twice", k)}
				}
				n.keys = append(n.keys, k)
				n.lines[k], n.field[k] = kl, v
				obj[k] = v.value
			}
			if _, err := p.dec.Token(); err != nil {
				return nil, p.fail(err)
			}
			n.value = obj
		case '[':
			arr := []any{}
			for p.dec.More() {
				v, err := p.value()
				if err != nil {
					return nil, err
				}
				n.items = append(n.items, v)
				arr = append(arr, v.value)
			}
			if _, err := p.dec.Token(); err != nil {
				return nil, p.fail(err)
			}
			n.value = arr
		}
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return nil, &syntaxError{line: line, msg: fmt.Sprintf("number %s is out of range", t)}
		}
		n.value = f
	default:
		n.value = t
	}
	return n, nil
}
