package asl

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzPath parses arbitrary ASL JSONPaths and evaluates them against
// arbitrary JSON documents. A reference path that parses finds a value
// placed where it points, and after Set finds the new one; neither reading
// nor writing changes the document it was given; a query answers a list.
func FuzzPath(f *testing.F) {
	f.Add("$.order.items[1]['unit price']", []byte(`{"order":{"items":[{"n":1},{"n":2}]}}`))
	f.Fuzz(func(t *testing.T, src string, doc []byte) {
		p, err := parsePath(src)
		if err != nil {
			if p != nil {
				t.Fatalf("parsePath(%q) returned a path with its error %v", src, err)
			}
			return
		}
		if p.isReference() {
			if built, ok := buildAt(p.steps, "marker"); ok {
				if v, ok, _ := p.get(built); !ok || v != "marker" {
					t.Fatalf("%q on %s found %v, %v; want the marker", src, mustJSON(t, built), v, ok)
				}
				set, err := p.set(built, "other")
				if err != nil {
					t.Fatalf("%q: set where get resolves: %v", src, err)
				}
				if v, ok, _ := p.get(set); !ok || v != "other" {
					t.Fatalf("%q: after set, get = %v, %v", src, v, ok)
				}
			}
		}

		d := json.NewDecoder(bytes.NewReader(doc))
		d.UseNumber() // as the interpreter decodes data
		var data any
		if d.Decode(&data) != nil {
			return
		}
		before := mustJSON(t, data)
		v, ok, m := p.get(data)
		if !p.isReference() {
			if _, isList := v.([]any); !ok || !isList {
				t.Fatalf("query %q on %s answered %v, %v, not a list", src, doc, v, ok)
			}
		} else if !ok {
			p.invalidPath(m) // the message of a miss names a prefix of the path
		} else if set, err := p.set(data, "new"); err == nil {
			if v, ok, _ := p.get(set); !ok || v != "new" {
				t.Fatalf("%q on %s: set succeeded but get finds %v, %v", src, doc, v, ok)
			}
		}
		if after := mustJSON(t, data); !bytes.Equal(before, after) {
			t.Fatalf("%q: reading or writing changed the data\n%s\nto\n%s", src, before, after)
		}
	})
}

// buildAt makes the smallest document in which steps lead to v; ok is
// false when an index is negative or too large to build an array for.
func buildAt(steps []step, v any) (any, bool) {
	if len(steps) == 0 {
		return v, true
	}
	inner, ok := buildAt(steps[1:], v)
	if !ok {
		return nil, false
	}
	st := steps[0]
	if !st.isIdx {
		return map[string]any{st.key: inner}, true
	}
	if st.index < 0 || st.index > 1000 {
		return nil, false
	}
	arr := make([]any, st.index+1)
	arr[st.index] = inner
	return arr, true
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
