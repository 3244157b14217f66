package flow

import (
	"maps"
	"slices"
	"testing"
)

func TestKindAndPosString(t *testing.T) {
	if Map.String() != "map" || Fail.String() != "fail" || Kind(0).String() != "kind(0)" || Kind(99).String() != "kind(99)" {
		t.Errorf("Kind strings: %s %s %s %s", Map, Fail, Kind(0), Kind(99))
	}
	if got := (Pos{File: "a/b.lua", Line: 7}).String(); got != "a/b.lua:7" {
		t.Errorf("Pos = %q", got)
	}
	if got := (Pos{}).String(); got != "?" {
		t.Errorf("unknown Pos = %q", got)
	}
}

func TestWorkflowIndex(t *testing.T) {
	w := &Workflow{Name: "w", Machine: *machineOf("Fan out", 1,
		&State{Name: "Fan out", Kind: Parallel, Next: "Each", Branches: []*Machine{
			machineOf("A", 1, &State{Name: "A", Kind: Pass}),
			machineOf("A", 1, &State{Name: "A", Kind: Pass}),
		}},
		&State{Name: "Each", Kind: Map, Iterator: machineOf("Item", 1, &State{Name: "Item", Kind: Pass})},
	)}
	inner := machineOf("X", 1, &State{Name: "X", Kind: Pass})
	w.States["Fan out"].Branches[1].States["A"] = &State{Name: "A", Kind: Map, Iterator: inner}
	w.Index()
	want := []string{"", "Each", "Fan out[0]", "Fan out[1]", "Fan out[1]/A"}
	got := slices.Sorted(maps.Keys(w.Machines))
	if !slices.Equal(got, want) {
		t.Fatalf("Machines keys = %q, want %q", got, want)
	}
	if w.Machines[""] != &w.Machine || w.Machines["Fan out[1]/A"] != inner || w.Machines["Each"] != w.States["Each"].Iterator {
		t.Error("Machines points at the wrong machines")
	}
	if BranchKey("", "P", 2) != "P[2]" || IteratorKey("P[2]", "M") != "P[2]/M" {
		t.Errorf("keys: %s %s", BranchKey("", "P", 2), IteratorKey("P[2]", "M"))
	}
}

func TestToleranceExceeded(t *testing.T) {
	cases := []struct {
		t             Tolerance
		failed, total int
		want          bool
	}{
		{Tolerance{Count: 1, HasCount: true}, 1, 10, false},
		{Tolerance{Count: 1, HasCount: true}, 2, 10, true},
		{Tolerance{Percent: 20, HasPercent: true}, 2, 10, false},
		{Tolerance{Percent: 20, HasPercent: true}, 3, 10, true},
		{Tolerance{Percent: 0, HasPercent: true}, 1, 10, true},
		{Tolerance{Percent: 100, HasPercent: true}, 10, 10, false},
		// Either bound that is set fails the map.
		{Tolerance{Count: 5, HasCount: true, Percent: 10, HasPercent: true}, 2, 10, true},
		{Tolerance{Count: 1, HasCount: true, Percent: 50, HasPercent: true}, 2, 10, true},
		{Tolerance{}, 3, 10, false},
	}
	for _, c := range cases {
		if got := c.t.Exceeded(c.failed, c.total); got != c.want {
			t.Errorf("%+v with %d of %d failed: %v, want %v", c.t, c.failed, c.total, got, c.want)
		}
	}
}
