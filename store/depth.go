package store

import "fmt"

// MaxDepth is how deeply JSON may nest in a value Orbit stores: an input,
// an event payload, an instance's data and variables. Stores read records
// back with encoding/json, which refuses more than 10,000 levels in a
// whole record, so a deeper value would be written once and never read
// again; this leaves room for the record around it, and for clients whose
// JSON parsers stop far earlier than encoding/json.
const MaxDepth = 1000

// CheckDepth returns an error when the JSON text b nests arrays and
// objects more than MaxDepth levels deep. It reads b once without
// allocating, and not at all when b is too short to nest that deep.
func CheckDepth(b []byte) error {
	if len(b) <= 2*MaxDepth {
		return nil
	}
	depth, inString, escaped := 0, false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			if depth++; depth > MaxDepth {
				return fmt.Errorf("JSON nested deeper than %d levels, the most Orbit stores", MaxDepth)
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return nil
}
