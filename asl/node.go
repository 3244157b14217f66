package asl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// A Node tree is an ASL document as the loader reads it. Besides the
// *.asl.json files, the Lua DSL builds one for a workflow written with
// language = "asl" (NewObject, Set, NewValue), and converters walk the
// one a workflow keeps as its flow.Workflow.Definition to write it back.

// ParseDocument reads an ASL document; a syntax error names its line.
func ParseDocument(body []byte) (*Node, error) {
	n, err := parseJSON(body)
	if se, ok := err.(*syntaxError); ok {
		return nil, fmt.Errorf("line %d: %s", se.line, se.msg)
	}
	return n, err
}

// NewObject is an empty object written at line.
func NewObject(line int) *Node {
	return &Node{line: line, value: map[string]any{}, field: map[string]*Node{}, lines: map[string]int{}}
}

// Set puts key, written at line, with value v into object n (after the
// keys it has, or in the place of the key it replaces) and returns n.
func (n *Node) Set(key string, v *Node, line int) *Node {
	if _, ok := n.field[key]; !ok {
		n.keys = append(n.keys, key)
	}
	n.field[key], n.lines[key] = v, line
	n.value.(map[string]any)[key] = v.value
	return n
}

// NewArray is an empty array written at line.
func NewArray(line int) *Node { return &Node{line: line, value: []any{}, items: []*Node{}} }

// Append adds item to array n and returns n. A document is built from its
// leaves up: an array appended to after it was Set into an object is not
// seen there until it is Set again.
func (n *Node) Append(item *Node) *Node {
	n.items = append(n.items, item)
	n.value = append(n.value.([]any), item.value)
	return n
}

// NewValue is a decoded JSON value (what encoding/json gives, with
// float64 numbers) written at line, objects with their keys sorted.
func NewValue(line int, v any) *Node {
	switch x := v.(type) {
	case map[string]any:
		n := NewObject(line)
		for _, k := range slices.Sorted(maps.Keys(x)) {
			n.Set(k, NewValue(line, x[k]), line)
		}
		return n
	case []any:
		n := NewArray(line)
		for _, it := range x {
			n.Append(NewValue(line, it))
		}
		return n
	}
	return &Node{line: line, value: v}
}

// Line is the line the value starts on.
func (n *Node) Line() int { return n.line }

// Keys are an object's keys in order.
func (n *Node) Keys() []string { return n.keys }

// Get is an object's member, or nil.
func (n *Node) Get(key string) *Node { return n.get(key) }

// Items are an array's elements.
func (n *Node) Items() []*Node { return n.items }

// IsObject reports whether the value is an object.
func (n *Node) IsObject() bool { return n.isObject() }

// IsArray reports whether the value is an array.
func (n *Node) IsArray() bool {
	_, ok := n.value.([]any)
	return ok
}

// Value is the decoded value.
func (n *Node) Value() any { return n.value }

// MarshalJSON writes the value with objects' keys in their order.
func (n *Node) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	if err := n.write(&b, "", ""); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Indented writes the document as a *.asl.json file holds it: two
// spaces a level, keys in their order, a newline at the end.
func (n *Node) Indented() ([]byte, error) {
	var b bytes.Buffer
	if err := n.write(&b, "\n", "  "); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

func (n *Node) write(b *bytes.Buffer, nl, indent string) error {
	inner := nl + indent
	switch {
	case n.isObject():
		if len(n.keys) == 0 {
			b.WriteString("{}")
			return nil
		}
		b.WriteByte('{')
		for i, k := range n.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(inner)
			key, _ := json.Marshal(k)
			b.Write(key)
			b.WriteByte(':')
			if indent != "" {
				b.WriteByte(' ')
			}
			if err := n.field[k].write(b, inner, indent); err != nil {
				return err
			}
		}
		b.WriteString(nl)
		b.WriteByte('}')
		return nil
	case n.IsArray():
		if len(n.items) == 0 {
			b.WriteString("[]")
			return nil
		}
		if scalars(n.items) { // short arrays of names stay on one line
			enc, err := json.Marshal(n.value)
			b.Write(bytes.ReplaceAll(enc, []byte(`","`), []byte(`", "`)))
			return err
		}
		b.WriteByte('[')
		for i, it := range n.items {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(inner)
			if err := it.write(b, inner, indent); err != nil {
				return err
			}
		}
		b.WriteString(nl)
		b.WriteByte(']')
		return nil
	}
	enc, err := json.Marshal(n.value)
	b.Write(enc)
	return err
}

// scalars reports whether an array holds only short strings and numbers.
func scalars(items []*Node) bool {
	size := 0
	for _, it := range items {
		switch v := it.value.(type) {
		case string:
			size += len(v)
		case float64, bool, nil:
			size += 8
		default:
			return false
		}
	}
	return size < 60
}

// Compile builds the workflow name from an ASL document (the body of a
// *.asl.json file, or what a Lua workflow with language = "asl" says) and
// adds it to b; problems carry file and the document's lines.
func Compile(name, file string, doc *Node, b *flow.Bundle) flow.Problems {
	l := newLoader(file, b)
	if old := b.Workflows[name]; old != nil {
		l.problemAt(doc.line, "workflow %q is already defined at %s", name, old.Pos)
	} else if w := l.workflowOf(name, doc); w != nil {
		// Added even with problems, so that the bundle's checks
		// (reachability, routines) report theirs in the same load.
		b.Workflows[name] = w
	}
	return l.probs
}
