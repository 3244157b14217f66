package store

import (
	"strings"
	"testing"
)

func TestCheckDepth(t *testing.T) {
	nest := func(n int, open, close, inner string) string {
		return strings.Repeat(open, n) + inner + strings.Repeat(close, n)
	}
	long := `"` + strings.Repeat("[{", MaxDepth+1) + `\"` + `"` // brackets inside a string do not nest
	for _, c := range []struct {
		json string
		ok   bool
	}{
		{nest(MaxDepth, "[", "]", "1"), true},
		{nest(MaxDepth+1, "[", "]", "1"), false},
		{nest(MaxDepth, `{"a":`, "}", "1"), true},
		{nest(MaxDepth+1, `{"a":`, "}", "1"), false},
		{nest(MaxDepth/2, `{"a":[`, "]}", "1"), true},
		{nest(MaxDepth/2+1, `{"a":[`, "]}", "1"), false},
		{"[" + long + "," + nest(MaxDepth-1, "[", "]", "1") + "]", true},
		{strings.Repeat("[]", 10*MaxDepth), true},
	} {
		if err := CheckDepth([]byte(c.json)); (err == nil) != c.ok {
			t.Errorf("%.40s...: %v, want ok %v", c.json, err, c.ok)
		}
	}
}
