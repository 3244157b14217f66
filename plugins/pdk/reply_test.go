package pdk

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestTyped(t *testing.T) {
	type in struct{ N int }
	h := Typed(func(v in) (map[string]int, error) {
		if v.N < 0 {
			return nil, Fail("Input.Negative", "negative")
		}
		if v.N == 0 {
			return nil, errors.New("plain")
		}
		return map[string]int{"double": v.N * 2}, nil
	})
	cases := map[string]string{
		`{"N":2}`:  `{"result":{"double":4}}`,
		`{"N":-1}`: `{"error":"Input.Negative","cause":"negative"}`,
		`{"N":0}`:  `{"error":"States.TaskFailed","cause":"plain"}`,
		`[1]`:      `{"error":"States.TaskFailed","cause":"input: json: cannot unmarshal array into Go value of type pdk.in"}`,
	}
	for input, want := range cases {
		if got := string(h([]byte(input))); got != want {
			t.Errorf("%s -> %s, want %s", input, got, want)
		}
	}
}

// Numbers in an any come back as the host wrote them; typed fields still
// take numbers.
func TestTypedKeepsNumbers(t *testing.T) {
	echo := Typed(func(v any) (any, error) { return v, nil })
	const in = `{"entity_id":9007199254740993,"huge":1e400,"price":1.10}`
	if got := string(echo([]byte(in))); got != `{"result":`+in+`}` {
		t.Errorf("echo = %s", got)
	}
	typed := Typed(func(v struct{ ID int64 }) (int64, error) { return v.ID, nil })
	if got := string(typed([]byte(`{"ID":9007199254740993}`))); got != `{"result":9007199254740993}` {
		t.Errorf("typed = %s", got)
	}
}

func TestTypedRaw(t *testing.T) {
	h := Typed(func(v json.RawMessage) (json.RawMessage, error) { return v, nil })
	if got := string(h([]byte(`{"a": [1, 2]}`))); got != `{"result":{"a": [1, 2]}}` {
		t.Errorf("raw echo = %s", got)
	}
	if got := string(h(nil)); got != `{"result":null}` {
		t.Errorf("raw echo of nothing = %s", got)
	}
}

func TestHostCallsOutsideAGuest(t *testing.T) {
	if _, err := KVGet("k"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("KVGet outside a guest: %v", err)
	}
	if _, err := HTTPRequest(Request{URL: "http://x"}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("HTTPRequest outside a guest: %v", err)
	}
	if _, ok := Config("k"); ok {
		t.Error("Config outside a guest found a value")
	}
}
