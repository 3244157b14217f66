package flow

import (
	"strings"
	"testing"
)

func TestValidTraceParent(t *testing.T) {
	const ok = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, c := range []struct {
		tp    string
		valid bool
	}{
		{ok, true},
		{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later-fields", true},
		{"", false},
		{ok + "-x", false}, // version 00 has four fields
		{strings.ToUpper(ok), false},
		{"ff" + ok[2:], false},
		{"00-00000000000000000000000000000000-00f067aa0ba902b7-01", false},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", false},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01", false},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g", false},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", false},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-" + strings.Repeat("\xff", 16) + "-01", false},
	} {
		if got := ValidTraceParent(c.tp); got != c.valid {
			t.Errorf("ValidTraceParent(%q) = %v", c.tp, got)
		}
		if id := TraceID(c.tp); (id != "") != c.valid {
			t.Errorf("TraceID(%q) = %q", c.tp, id)
		}
	}
}
