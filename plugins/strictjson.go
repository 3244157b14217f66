package plugins

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// decodeStrict decodes a JSON object into v, refusing what encoding/json
// would let through without a word: text after the object, a key given
// twice (the last would win), and a field name that differs from v's only
// in case ("Memory_Limit" would set memory_limit). A manifest must mean
// exactly what it says.
func decodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := walkKeys(dec, "", shapeOf(reflect.TypeOf(v).Elem())); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("text after the JSON object, at byte %d", dec.InputOffset())
	}
	strict := json.NewDecoder(bytes.NewReader(raw))
	strict.DisallowUnknownFields()
	return strict.Decode(v)
}

// shape is what decodeStrict checks at one place of a document: an object
// whose keys must be fields (fields not nil), or an array of elem.
type shape struct {
	fields map[string]*shape
	elem   *shape
}

// shapeOf derives a shape from a Go type's json tags, so that a field
// added to the manifest is known here at once.
func shapeOf(t reflect.Type) *shape {
	switch t.Kind() {
	case reflect.Pointer:
		return shapeOf(t.Elem())
	case reflect.Slice:
		return &shape{elem: shapeOf(t.Elem())}
	case reflect.Struct:
		s := &shape{fields: map[string]*shape{}}
		for f := range t.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			s.fields[cmp.Or(name, f.Name)] = shapeOf(f.Type)
		}
		return s
	}
	return nil // anything goes inside, names included (maps, scalars)
}

// walkKeys reads one value and checks its keys against s.
func walkKeys(dec *json.Decoder, path string, s *shape) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('['):
		var elem *shape
		if s != nil {
			elem = s.elem
		}
		for i := 0; dec.More(); i++ {
			if err := walkKeys(dec, fmt.Sprintf("%s[%d]", path, i), elem); err != nil {
				return err
			}
		}
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			key := tok.(string) // an object's keys are strings
			at := key
			if path != "" {
				at = path + "." + key
			}
			if seen[key] {
				return fmt.Errorf("%s: is given twice", at)
			}
			seen[key] = true
			var child *shape
			if s != nil && s.fields != nil {
				c, ok := s.fields[key]
				if !ok {
					return unknownKey(at, key, s)
				}
				child = c
			}
			if err := walkKeys(dec, at, child); err != nil {
				return err
			}
		}
	default:
		return nil
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

// unknownKey explains a key that is not a field, naming the field it
// would have set had its case been ignored.
func unknownKey(at, key string, s *shape) error {
	for name := range s.fields {
		if strings.EqualFold(name, key) {
			return fmt.Errorf("%s: unknown field %q (field names are case-sensitive: %q)", at, key, name)
		}
	}
	return fmt.Errorf("%s: unknown field %q", at, key)
}
