package nats

import "testing"

func TestEscapeRoundTrip(t *testing.T) {
	for _, s := range []string{"", "order-1", "a.b", "x~y", "sp ace", "*", ">", "ünï", "observe:1:0:1", "~41"} {
		tok := escape(s)
		for i := 0; i < len(tok); i++ {
			if !tokenByte(tok[i]) && tok[i] != '~' {
				t.Errorf("escape(%q) = %q holds %q", s, tok, tok[i])
			}
		}
		back, err := unescape(tok)
		if err != nil || back != s {
			t.Errorf("unescape(escape(%q)) = %q, %v", s, back, err)
		}
	}
	// Different names never share a token.
	if escape("a.b") == escape("a~2Eb") {
		t.Error("escape is not one to one")
	}
	for _, bad := range []string{"~", "~4", "~G1"} {
		if bad == "~" {
			continue // the empty name
		}
		if _, err := unescape(bad); err == nil {
			t.Errorf("unescape(%q) accepted a broken escape", bad)
		}
	}
}

func TestParseTimer(t *testing.T) {
	s := subjects{root: "ORBIT"}
	id, at, kind, err := parseTimer(s.timer("a.b", 42, "observe:3:0:1"))
	if err != nil || id != "a.b" || at != 42 || kind != "observe:3:0:1" {
		t.Errorf("parseTimer = %q %d %q %v", id, at, kind, err)
	}
	if _, _, _, err := parseTimer(s.record("a")); err == nil {
		t.Error("a record subject parsed as a timer")
	}
}
