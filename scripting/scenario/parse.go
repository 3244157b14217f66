package scenario

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// xsiNS is the XML Schema instance namespace that xsi:type belongs to.
const xsiNS = "http://www.w3.org/2001/XMLSchema-instance"

// element is one parsed XML element with the line it starts on, so that
// every problem can name file:line.
type element struct {
	name     string // local name
	attrs    []xml.Attr
	children []*element
	text     string // character data directly inside, trimmed
	line     int
}

// parse reads a whole document into elements. A syntax error comes back
// with its line.
func parse(body []byte) (*element, int, error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	var root *element
	var stack []*element
	var text [][]byte // character data of each open element
	for {
		// Before the token is read the decoder stands just past the previous
		// one, which for an element is the '<' that starts it (whitespace
		// before it is a token of its own).
		line, _ := d.InputPos()
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return nil, se.Line, errors.New(se.Msg)
			}
			l, _ := d.InputPos()
			return nil, l, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			e := &element{name: t.Name.Local, attrs: t.Attr, line: line}
			if len(stack) == 0 {
				if root != nil {
					return nil, line, fmt.Errorf("a second root element <%s>", t.Name.Local)
				}
				root = e
			} else {
				parent := stack[len(stack)-1]
				parent.children = append(parent.children, e)
			}
			stack = append(stack, e)
			text = append(text, nil)
		case xml.EndElement:
			e := stack[len(stack)-1]
			e.text = strings.TrimSpace(string(text[len(text)-1]))
			stack, text = stack[:len(stack)-1], text[:len(text)-1]
		case xml.CharData:
			if len(text) > 0 {
				text[len(text)-1] = append(text[len(text)-1], t...)
			}
		}
	}
	if root == nil {
		return nil, 1, errors.New("the file has no root element")
	}
	return root, 0, nil
}

// typeAttr returns the element's xsi:type. The prefix may be any that is
// bound to the XML Schema instance namespace; an undeclared "xsi" prefix
// is taken as meant, as schema fragments are often written without the
// declaration.
func (e *element) typeAttr() (string, bool) {
	for _, a := range e.attrs {
		if isXSIType(a.Name) {
			return a.Value, true
		}
	}
	return "", false
}

func isXSIType(n xml.Name) bool {
	return n.Local == "type" && (n.Space == xsiNS || n.Space == "xsi")
}

// plainAttrs are an element's attributes without namespace declarations
// and schema hints, which carry no meaning for a scenario.
func (e *element) plainAttrs() []xml.Attr {
	out := make([]xml.Attr, 0, len(e.attrs))
	for _, a := range e.attrs {
		switch {
		case a.Name.Space == "xmlns", a.Name.Space == "" && a.Name.Local == "xmlns":
		case a.Name.Space == xsiNS || a.Name.Space == "xsi":
			// xsi:type is read by typeAttr; xsi:noNamespaceSchemaLocation
			// and the like are hints for editors.
		default:
			out = append(out, a)
		}
	}
	return out
}
