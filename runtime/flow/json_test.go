package flow

import (
	"encoding/json"
	"math"
	"testing"
)

// Decoded data writes back with every number as it was written, whether
// it took the float64 way or kept the number's text.
func TestDecodeJSONKeepsNumbers(t *testing.T) {
	for _, text := range []string{
		`{"entity_id":9007199254740993}`,
		`{"id":999999999999999,"n":-42,"ok":true,"s":"1.5e3 \" 12345678901234567"}`,
		`[0,-0,1.10,1e400,5e-400,1E2,-1.5]`,
		`{"a":[1,{"b":123456789012345678}],"e":false}`,
		`"9007199254740993"`,
		`12`,
		`null`,
	} {
		v, err := DecodeJSON([]byte(text))
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		if back, err := json.Marshal(v); err != nil || string(back) != text {
			t.Errorf("%s wrote back as %s (%v)", text, back, err)
		}
	}
	for _, bad := range []string{``, ` `, `{"a":1} x`, `{"a":1}{}`, `[1,]`, `{"a":1.5} 2`, `01`} {
		if _, err := DecodeJSON([]byte(bad)); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}

func TestFloatsExact(t *testing.T) {
	for text, want := range map[string]bool{
		`{"a":1,"b":[true,false,null],"c":"x.y 1e5"}`: true,
		`999999999999999`:                 true,
		`9999999999999999`:                false,
		`{"s":"\"","n":1.5}`:              false,
		`{"s":"\\","n":2}`:                true,
		`{"s":"\\\"1.5","n":2}`:           true,
		`1e3`:                             false,
		`-7E-1`:                           false,
		`{"long":"12345678901234567890"}`: true,
	} {
		if got := floatsExact([]byte(text)); got != want {
			t.Errorf("floatsExact(%s) = %v, want %v", text, got, want)
		}
	}
}

func TestNumber(t *testing.T) {
	for _, c := range []struct {
		v    any
		want float64
		ok   bool
	}{
		{json.Number("9007199254740993"), 9007199254740992, true},
		{json.Number("1e400"), math.Inf(1), true},
		{json.Number("-1e400"), math.Inf(-1), true},
		{json.Number("x"), 0, false},
		{2.5, 2.5, true},
		{int64(7), 7, true},
		{"3", 0, false},
		{nil, 0, false},
	} {
		if got, ok := Number(c.v); got != c.want || ok != c.ok {
			t.Errorf("Number(%#v) = %v, %v; want %v, %v", c.v, got, ok, c.want, c.ok)
		}
		if _, text := c.v.(json.Number); !text && IsNumber(c.v) != c.ok {
			t.Errorf("IsNumber(%#v) = %v", c.v, !c.ok)
		}
	}
}

// Floats changes only what holds a json.Number, leaving the rest shared.
func TestFloats(t *testing.T) {
	plain := map[string]any{"a": []any{1.0, "x"}}
	if got := Floats(plain); got.(map[string]any)["a"] == nil || &got.(map[string]any)["a"].([]any)[0] != &plain["a"].([]any)[0] {
		t.Errorf("a value without json.Number was copied")
	}
	in := map[string]any{"a": []any{json.Number("2"), "x"}, "b": true}
	got := Floats(in).(map[string]any)
	if got["a"].([]any)[0] != 2.0 || got["b"] != true || in["a"].([]any)[0] != json.Number("2") {
		t.Errorf("Floats = %v, the original now %v", got, in)
	}
}
