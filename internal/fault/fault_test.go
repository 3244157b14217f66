package fault

import "testing"

func TestParseArm(t *testing.T) {
	for s, want := range map[string]Arm{
		"bolt.meta-written@3": {Point: "bolt.meta-written", Nth: 3},
		"bolt.applied":        {Point: "bolt.applied", Nth: 1},
	} {
		got, err := ParseArm(s)
		if err != nil || got != want {
			t.Errorf("ParseArm(%q) = %+v, %v; want %+v", s, got, err, want)
		}
		if back, _ := ParseArm(got.String()); back != got {
			t.Errorf("%+v prints as %q, which reads back as %+v", got, got.String(), back)
		}
	}
	for _, s := range []string{"", "@3", "bolt.applied@0", "bolt.applied@x", "bolt.applied@-1"} {
		if a, err := ParseArm(s); err == nil {
			t.Errorf("ParseArm(%q) = %+v, want an error", s, a)
		}
	}
}
